//! Report time bounds: RFC 3339 timestamps (`2026-11-23T16:00:00Z`, with an offset or
//! fractional seconds) or whole UTC days (`2026-11-23`), as Unix milliseconds; and Unix
//! milliseconds back as RFC 3339 (UTC, milliseconds), as the audit log writes times.

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

/// `2026-11-23T16:00:00.000Z`: UTC, always with milliseconds, so times of one width sort
/// as text.
pub fn format_unix_ms(unix_ms: i64) -> String {
    let days = unix_ms.div_euclid(86_400_000);
    let of_day = unix_ms.rem_euclid(86_400_000);
    let (year, month, day) = date_from_days(days);
    let (seconds, millis) = (of_day / 1000, of_day % 1000);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{millis:03}Z",
        seconds / 3600,
        seconds / 60 % 60,
        seconds % 60
    )
}

/// Days since 1970-01-01 → (year, month, day); the inverse of [`days_from_date`]
/// (H. Hinnant's civil from days).
fn date_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z - era * 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let shifted_month = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * shifted_month + 2) / 5 + 1;
    let month = if shifted_month < 10 {
        shifted_month + 3
    } else {
        shifted_month - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
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
    fn formats_what_it_parses() {
        assert_eq!(format_unix_ms(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(
            format_unix_ms(1_795_449_600_500),
            "2026-11-23T16:00:00.500Z"
        );
        assert_eq!(format_unix_ms(-1), "1969-12-31T23:59:59.999Z");
        // Every day of four centuries (leap days, century rules) and a time of day.
        for days in -146_097..146_097 {
            let ms = days * 86_400_000 + 45_296_789;
            assert_eq!(parse_unix_ms(&format_unix_ms(ms)), Ok(ms), "{ms}");
        }
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
