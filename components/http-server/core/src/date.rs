//! Calendar arithmetic for the two date formats the server writes: IMF-fixdate (`Date`) and the
//! common-log-format timestamp. Unix seconds in, UTC out; no time-zone database needed.

use alloc::string::String;

use core::fmt::{self, Write as _};

const DAYS: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/// A UTC instant broken down into calendar fields.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Civil {
    pub year: i64,
    /// 1..=12
    pub month: u32,
    /// 1..=31
    pub day: u32,
    pub hour: u32,
    pub minute: u32,
    pub second: u32,
    /// 0 = Sunday
    pub weekday: u32,
}

impl Civil {
    pub fn from_unix(secs: u64) -> Civil {
        let days = (secs / 86_400) as i64; // at most ~2.1e14: fits
        let rem = (secs % 86_400) as u32;
        // Howard Hinnant's civil_from_days.
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z.rem_euclid(146_097);
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
        let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
        let year = yoe + era * 400 + i64::from(month <= 2);
        Civil {
            year,
            month,
            day,
            hour: rem / 3600,
            minute: rem / 60 % 60,
            second: rem % 60,
            weekday: ((days + 4) % 7) as u32, // 1970-01-01 was a Thursday
        }
    }

    fn month_name(&self) -> &'static str {
        MONTHS.get(self.month.wrapping_sub(1) as usize).copied().unwrap_or("Jan")
    }

    fn day_name(&self) -> &'static str {
        DAYS.get(self.weekday as usize).copied().unwrap_or("Sun")
    }
}

/// `Sun, 06 Nov 1994 08:49:37 GMT`
pub(crate) struct ImfFixdate(pub u64);

impl fmt::Display for ImfFixdate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let c = Civil::from_unix(self.0);
        write!(
            f,
            "{}, {:02} {} {:04} {:02}:{:02}:{:02} GMT",
            c.day_name(),
            c.day,
            c.month_name(),
            c.year,
            c.hour,
            c.minute,
            c.second
        )
    }
}

/// `24/Nov/2026:03:49:21 +0000` (without the brackets)
pub(crate) struct ClfDate(pub u64);

impl fmt::Display for ClfDate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let c = Civil::from_unix(self.0);
        write!(f, "{:02}/{}/{:04}:{:02}:{:02}:{:02} +0000", c.day, c.month_name(), c.year, c.hour, c.minute, c.second)
    }
}

/// Formats unix seconds as an HTTP date (IMF-fixdate, RFC 9110 §5.6.7), e.g.
/// `Sun, 06 Nov 1994 08:49:37 GMT`.
pub fn http_date(unix_secs: u64) -> String {
    let mut s = String::with_capacity(29);
    let _ = write!(s, "{}", ImfFixdate(unix_secs));
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;

    #[test]
    fn rfc_example() {
        assert_eq!(http_date(784_111_777), "Sun, 06 Nov 1994 08:49:37 GMT");
    }

    #[test]
    fn epoch_and_leap_days() {
        assert_eq!(http_date(0), "Thu, 01 Jan 1970 00:00:00 GMT");
        assert_eq!(http_date(951_782_400), "Tue, 29 Feb 2000 00:00:00 GMT");
        assert_eq!(http_date(1_709_164_799), "Wed, 28 Feb 2024 23:59:59 GMT");
        assert_eq!(http_date(1_709_251_200), "Fri, 01 Mar 2024 00:00:00 GMT");
        assert_eq!(http_date(4_102_444_800), "Fri, 01 Jan 2100 00:00:00 GMT");
    }

    #[test]
    fn clf() {
        // 2026-11-24T03:49:21Z
        assert_eq!(ClfDate(1_795_492_161).to_string(), "24/Nov/2026:03:49:21 +0000");
    }

    #[test]
    fn extreme_values_do_not_panic() {
        let s = http_date(u64::MAX);
        assert!(s.ends_with(" GMT"), "{s}");
        let _ = ClfDate(u64::MAX).to_string();
    }

    #[test]
    fn every_day_for_a_few_centuries_is_consistent() {
        // Walk day by day and check the fields advance like a calendar.
        let mut prev = Civil::from_unix(0);
        for d in 1..(400 * 366) {
            let c = Civil::from_unix(d * 86_400);
            assert_eq!(c.weekday, (prev.weekday + 1) % 7);
            if c.day == 1 {
                assert!(prev.day >= 28);
                assert_eq!(c.month, prev.month % 12 + 1);
                assert_eq!(c.year, prev.year + i64::from(c.month == 1));
            } else {
                assert_eq!((c.year, c.month, c.day), (prev.year, prev.month, prev.day + 1));
            }
            prev = c;
        }
    }
}
