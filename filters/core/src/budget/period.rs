//! Budget periods in UTC: where the period holding an instant starts and where the next
//! one starts. Pure calendar arithmetic on Unix milliseconds (no time-zone database:
//! budgets reset at UTC midnight, weeks start on Monday).

use serde::{Deserialize, Serialize};

const DAY_MS: u64 = 86_400_000;

/// How often a budget starts afresh.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Period {
    /// Never: the limit is for all time.
    #[default]
    None,
    Daily,
    /// Weeks start on Monday 00:00 UTC (ISO 8601).
    Weekly,
    /// Months start on the 1st, 00:00 UTC.
    Monthly,
}

impl Period {
    /// Start of the period holding `now_ms` (0 for [`Period::None`]).
    pub fn start(self, now_ms: u64) -> u64 {
        let day = now_ms / DAY_MS;
        match self {
            Period::None => 0,
            Period::Daily => day * DAY_MS,
            // 1970-01-01 was a Thursday: a day's weekday from Monday is (day + 3) % 7.
            Period::Weekly => day.saturating_sub((day + 3) % 7) * DAY_MS,
            Period::Monthly => {
                let (year, month, _) = civil_from_days(day);
                days_from_civil(year, month, 1) * DAY_MS
            }
        }
    }

    /// Start of the period after the one holding `now_ms`; `None` for [`Period::None`].
    pub fn next_start(self, now_ms: u64) -> Option<u64> {
        let start = self.start(now_ms);
        match self {
            Period::None => None,
            Period::Daily => Some(start + DAY_MS),
            Period::Weekly => Some(start + 7 * DAY_MS),
            Period::Monthly => {
                let (year, month, _) = civil_from_days(start / DAY_MS);
                let (year, month) = if month == 12 {
                    (year + 1, 1)
                } else {
                    (year, month + 1)
                };
                Some(days_from_civil(year, month, 1) * DAY_MS)
            }
        }
    }
}

/// (year, month 1-12, day 1-31) of a day count since 1970-01-01 (Howard Hinnant's
/// `civil_from_days`, for non-negative day counts).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

/// Days since 1970-01-01 of a date from 1970 on (the inverse of [`civil_from_days`]).
fn days_from_civil(year: u64, month: u64, day: u64) -> u64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year / 400;
    let yoe = year - era * 400;
    let mp = if month > 2 { month - 3 } else { month + 9 };
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    (era * 146_097 + doe) - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Unix ms of a UTC date and time.
    fn at(year: u64, month: u64, day: u64, hour: u64, minute: u64) -> u64 {
        days_from_civil(year, month, day) * DAY_MS + (hour * 60 + minute) * 60_000
    }

    #[test]
    fn calendar_round_trips() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(at(2024, 2, 29, 0, 0), 1_709_164_800_000);
        for day in [0, 59, 365, 10_957, 19_782, 20_000, 47_482] {
            let (y, m, d) = civil_from_days(day);
            assert_eq!(days_from_civil(y, m, d), day);
        }
    }

    #[test]
    fn daily_periods_start_at_utc_midnight() {
        let now = at(2026, 11, 23, 19, 45);
        assert_eq!(Period::Daily.start(now), at(2026, 11, 23, 0, 0));
        assert_eq!(Period::Daily.next_start(now), Some(at(2026, 11, 24, 0, 0)));
        assert_eq!(
            Period::Daily.start(at(2026, 11, 24, 0, 0)),
            at(2026, 11, 24, 0, 0)
        );
    }

    #[test]
    fn weeks_start_on_monday() {
        // 2026-11-23 is a Monday; 2026-11-29 a Sunday.
        let monday = at(2026, 11, 23, 0, 0);
        assert_eq!(Period::Weekly.start(at(2026, 11, 29, 23, 59)), monday);
        assert_eq!(Period::Weekly.start(monday), monday);
        assert_eq!(Period::Weekly.start(monday - 1), at(2026, 11, 16, 0, 0));
        assert_eq!(
            Period::Weekly.next_start(monday),
            Some(at(2026, 11, 30, 0, 0))
        );
    }

    #[test]
    fn months_start_on_the_first_and_have_their_own_lengths() {
        assert_eq!(
            Period::Monthly.start(at(2024, 2, 29, 12, 0)),
            at(2024, 2, 1, 0, 0)
        );
        assert_eq!(
            Period::Monthly.next_start(at(2024, 2, 29, 12, 0)),
            Some(at(2024, 3, 1, 0, 0))
        );
        assert_eq!(
            Period::Monthly.next_start(at(2026, 12, 31, 23, 59)),
            Some(at(2027, 1, 1, 0, 0))
        );
        assert_eq!(
            Period::Monthly.start(at(2026, 12, 1, 0, 0)),
            at(2026, 12, 1, 0, 0)
        );
    }

    #[test]
    fn no_period_is_one_period_for_ever() {
        assert_eq!(Period::None.start(at(2026, 11, 23, 19, 45)), 0);
        assert_eq!(Period::None.next_start(at(2026, 11, 23, 19, 45)), None);
    }
}
