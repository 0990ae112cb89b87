//! Report time bounds: RFC 3339 timestamps (`2026-11-23T16:00:00Z`, with an offset or
//! fractional seconds) or whole UTC days (`2026-11-23`), as Unix milliseconds.

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a time: use RFC 3339 (2026-11-23T16:00:00Z) or a date (2026-11-23)")]
pub struct TimeError(pub String);

pub fn parse_unix_ms(text: &str) -> Result<i64, TimeError> {
    parse(text.trim()).ok_or_else(|| TimeError(text.to_string()))
}

fn parse(text: &str) -> Option<i64> {
    let (date, rest) = text.split_at_checked(10)?;
    let days = days_from_date(date)?;
    let millis_of_day = match rest {
        "" => 0,
        _ => {
            let rest = rest.strip_prefix(['T', 't', ' '])?;
            let (clock, offset_ms) = split_offset(rest)?;
            millis_of_day(clock)? - offset_ms
        }
    };
    Some(days * 86_400_000 + millis_of_day)
}

/// `YYYY-MM-DD` → days since 1970-01-01 (proleptic Gregorian).
fn days_from_date(date: &str) -> Option<i64> {
    let mut parts = date.split('-');
    let year: i64 = number(parts.next()?, 4)?;
    let month: i64 = number(parts.next()?, 2)?;
    let day: i64 = number(parts.next()?, 2)?;
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    let month_days = [
        31,
        if leap { 29 } else { 28 },
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ];
    let in_month = *month_days.get(usize::try_from(month - 1).ok()?)?;
    if parts.next().is_some() || day < 1 || day > in_month {
        return None;
    }
    // Days from civil (H. Hinnant): years start in March, so the leap day is last.
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let year_of_era = y - era * 400;
    let day_of_year = (153 * ((month + 9) % 12) + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    Some(era * 146_097 + day_of_era - 719_468)
}

/// `HH:MM:SS[.fff]Z` or `…+HH:MM` → (clock, offset in ms east of UTC).
fn split_offset(text: &str) -> Option<(&str, i64)> {
    if let Some(clock) = text.strip_suffix(['Z', 'z']) {
        return Some((clock, 0));
    }
    let at = text.rfind(['+', '-'])?;
    let (clock, offset) = text.split_at(at);
    let sign = if offset.starts_with('-') { -1 } else { 1 };
    let (hours, minutes) = offset[1..].split_once(':')?;
    let minutes = number(hours, 2)? * 60 + number(minutes, 2)?;
    Some((clock, sign * minutes * 60_000))
}

fn millis_of_day(clock: &str) -> Option<i64> {
    let (whole, fraction) = clock.split_once('.').unwrap_or((clock, ""));
    let mut parts = whole.split(':');
    let hours = number(parts.next()?, 2)?;
    let minutes = number(parts.next()?, 2)?;
    let seconds = number(parts.next()?, 2)?;
    if parts.next().is_some() || hours > 23 || minutes > 59 || seconds > 60 {
        return None;
    }
    let millis = match fraction {
        "" => 0,
        digits if digits.bytes().all(|b| b.is_ascii_digit()) => {
            let padded = format!("{digits:0<3}");
            padded[..3].parse().ok()?
        }
        _ => return None,
    };
    Some(((hours * 60 + minutes) * 60 + seconds) * 1000 + millis)
}

fn number(text: &str, digits: usize) -> Option<i64> {
    if text.len() != digits || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_dates_and_rfc3339() {
        assert_eq!(parse_unix_ms("1970-01-01"), Ok(0));
        assert_eq!(parse_unix_ms("2026-11-23"), Ok(1_795_392_000_000));
        assert_eq!(parse_unix_ms("2026-11-23T16:00:00Z"), Ok(1_795_449_600_000));
        assert_eq!(
            parse_unix_ms("2026-11-23T18:00:00.5+02:00"),
            Ok(1_795_449_600_500)
        );
        assert_eq!(
            parse_unix_ms("2024-02-29T00:00:00-00:30"),
            Ok(1_709_166_600_000)
        );
    }

    #[test]
    fn refuses_what_is_not_a_time() {
        for bad in [
            "",
            "yesterday",
            "2026-02-29",
            "2026-13-01",
            "2026-11-23T25:00:00Z",
            "2026-11-23T16:00:00",
            "1795392000",
        ] {
            assert!(parse_unix_ms(bad).is_err(), "{bad}");
        }
    }
}
