//! RFC 3339 timestamps from unix time, as RFC 5424's TIMESTAMP wants them.

use core::fmt;

/// A point in time as unix seconds plus nanoseconds (what `wasi:clocks/wall-clock` returns).
///
/// `Display` writes RFC 3339 in UTC with microseconds, `2026-11-24T03:49:21.123456Z` (RFC 5424
/// allows at most six fraction digits), or the NILVALUE `-` for times past year 9999, which
/// RFC 3339 cannot write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp {
    /// Seconds since 1970-01-01T00:00:00Z.
    pub secs: u64,
    /// Nanoseconds into that second; values of a second or more count as 999 999 999.
    pub nanos: u32,
}

/// 10000-01-01T00:00:00Z: the first second RFC 3339's four-digit year cannot write.
const YEAR_10000: u64 = 253_402_300_800;

impl Timestamp {
    /// A timestamp from unix seconds and nanoseconds.
    pub const fn new(secs: u64, nanos: u32) -> Self {
        Self { secs, nanos }
    }
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian (H. Hinnant's algorithm).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z % 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.secs >= YEAR_10000 {
            return f.write_str("-");
        }
        let (year, month, day) = civil_from_days(self.secs / 86_400);
        let rem = self.secs % 86_400;
        let micros = self.nanos.min(999_999_999) / 1000;
        write!(f, "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{micros:06}Z", rem / 3600, rem / 60 % 60, rem % 60)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fmt(secs: u64, nanos: u32) -> String {
        Timestamp::new(secs, nanos).to_string()
    }

    #[test]
    fn epoch() {
        assert_eq!(fmt(0, 0), "1970-01-01T00:00:00.000000Z");
    }

    #[test]
    fn example_from_the_brief() {
        // date -u -d 2026-11-24T03:49:21Z +%s
        assert_eq!(fmt(1_795_492_161, 123_456_789), "2026-11-24T03:49:21.123456Z");
    }

    #[test]
    fn leap_days_and_century_rules() {
        assert_eq!(fmt(951_782_400, 0), "2000-02-29T00:00:00.000000Z"); // 400-year leap
        assert_eq!(fmt(1_709_164_800, 0), "2024-02-29T00:00:00.000000Z");
        assert_eq!(fmt(1_709_251_199, 999_999), "2024-02-29T23:59:59.000999Z");
        assert_eq!(fmt(4_107_542_400, 0), "2100-03-01T00:00:00.000000Z"); // 2100 is not leap
        assert_eq!(fmt(1_735_689_599, 0), "2024-12-31T23:59:59.000000Z");
    }

    #[test]
    fn every_day_agrees_with_a_naive_calendar() {
        let mut secs = 0u64;
        for year in 1970u64..2400 {
            let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
            let lens = [31, if leap { 29 } else { 28 }, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
            for (m, len) in lens.iter().enumerate() {
                for d in 1..=*len {
                    assert_eq!(civil_from_days(secs / 86_400), (year, m as u64 + 1, d));
                    secs += 86_400;
                }
            }
        }
    }

    #[test]
    fn out_of_range() {
        assert_eq!(fmt(YEAR_10000 - 1, 0), "9999-12-31T23:59:59.000000Z");
        assert_eq!(fmt(YEAR_10000, 0), "-");
        assert_eq!(fmt(u64::MAX, u32::MAX), "-");
        assert_eq!(fmt(0, u32::MAX), "1970-01-01T00:00:00.999999Z");
    }
}
