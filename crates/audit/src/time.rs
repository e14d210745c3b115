//! UTC timestamps with microsecond precision and one canonical text form,
//! `YYYY-MM-DDTHH:MM:SS.ffffffZ` (RFC 3339, always six fractional digits, always `Z`).
//!
//! The calendar conversion is Howard Hinnant's `days_from_civil` / `civil_from_days`
//! (public domain), so the crate needs no date library and the format cannot drift with one.

use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

/// Microseconds since 1970-01-01T00:00:00Z, limited to years 1970 through 9999.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(u64);

/// 9999-12-31T23:59:59.999999Z, the last instant with a four-digit year.
const MAX_MICROS: u64 = 253_402_300_799_999_999;

impl Timestamp {
    /// The Unix epoch.
    pub const EPOCH: Timestamp = Timestamp(0);

    /// A timestamp from microseconds since the Unix epoch; `None` past year 9999.
    pub fn from_unix_micros(micros: u64) -> Option<Self> {
        (micros <= MAX_MICROS).then_some(Self(micros))
    }

    /// Microseconds since the Unix epoch.
    pub fn unix_micros(self) -> u64 {
        self.0
    }

    /// Seconds since the Unix epoch (rounded down).
    pub fn unix_seconds(self) -> u64 {
        self.0 / 1_000_000
    }

    /// The current time from the system clock. Clocks before 1970 read as the epoch.
    pub fn now() -> Self {
        let micros = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_micros())
            .unwrap_or(0);
        Self(u64::try_from(micros).unwrap_or(MAX_MICROS).min(MAX_MICROS))
    }

    /// Parses the canonical form and nothing else (no offsets, no other precision).
    pub fn parse(s: &str) -> Option<Self> {
        let b = s.as_bytes();
        if b.len() != 27
            || b[4] != b'-'
            || b[7] != b'-'
            || b[10] != b'T'
            || b[13] != b':'
            || b[16] != b':'
            || b[19] != b'.'
            || b[26] != b'Z'
        {
            return None;
        }
        let num = |range: std::ops::Range<usize>| -> Option<u64> {
            let mut v = 0u64;
            for &c in &b[range] {
                if !c.is_ascii_digit() {
                    return None;
                }
                v = v * 10 + u64::from(c - b'0');
            }
            Some(v)
        };
        let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
        let (hour, minute, second) = (num(11..13)?, num(14..16)?, num(17..19)?);
        let micros = num(20..26)?;
        if year < 1970
            || !(1..=12).contains(&month)
            || day == 0
            || day > days_in_month(year, month)
            || hour > 23
            || minute > 59
            || second > 59
        {
            return None;
        }
        let days = days_from_civil(year, month, day);
        let secs = days * 86_400 + hour * 3_600 + minute * 60 + second;
        Some(Self(secs * 1_000_000 + micros))
    }

    /// The calendar fields: (year, month, day, hour, minute, second, microsecond).
    pub fn fields(self) -> (u64, u64, u64, u64, u64, u64, u64) {
        let secs = self.0 / 1_000_000;
        let micros = self.0 % 1_000_000;
        let (days, rem) = (secs / 86_400, secs % 86_400);
        let (y, m, d) = civil_from_days(days);
        (y, m, d, rem / 3_600, rem % 3_600 / 60, rem % 60, micros)
    }
}

impl Timestamp {
    /// Appends the canonical text to `out` (what `Display` prints, without formatting
    /// machinery: the log writer calls this for every event).
    pub fn write_canonical(self, out: &mut Vec<u8>) {
        let (y, mo, d, h, mi, s, us) = self.fields();
        let mut buf = *b"0000-00-00T00:00:00.000000Z";
        let mut put = |at: usize, width: usize, mut v: u64| {
            for i in (at..at + width).rev() {
                buf[i] = b'0' + (v % 10) as u8;
                v /= 10;
            }
        };
        put(0, 4, y);
        put(5, 2, mo);
        put(8, 2, d);
        put(11, 2, h);
        put(14, 2, mi);
        put(17, 2, s);
        put(20, 6, us);
        out.extend_from_slice(&buf);
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (y, mo, d, h, mi, s, us) = self.fields();
        write!(f, "{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}.{us:06}Z")
    }
}

fn is_leap(year: u64) -> bool {
    (year.is_multiple_of(4) && !year.is_multiple_of(100)) || year.is_multiple_of(400)
}

fn days_in_month(year: u64, month: u64) -> u64 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if is_leap(year) => 29,
        _ => 28,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date with `year >= 1970`.
fn days_from_civil(year: u64, month: u64, day: u64) -> u64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y / 400;
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The inverse of [`days_from_civil`].
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn known_instants() {
        // Values cross-checked with `date -u -d @SECONDS`.
        let cases = [
            (0u64, "1970-01-01T00:00:00.000000Z"),
            (951_782_400_000_000, "2000-02-29T00:00:00.000000Z"),
            (1_700_000_000_123_456, "2023-11-14T22:13:20.123456Z"),
            (4_107_542_399_000_001, "2100-02-28T23:59:59.000001Z"),
            (MAX_MICROS, "9999-12-31T23:59:59.999999Z"),
        ];
        for (micros, text) in cases {
            let ts = Timestamp::from_unix_micros(micros).unwrap();
            assert_eq!(ts.to_string(), text);
            let mut direct = Vec::new();
            ts.write_canonical(&mut direct);
            assert_eq!(direct, text.as_bytes());
            assert_eq!(Timestamp::parse(text), Some(ts));
        }
        assert_eq!(Timestamp::from_unix_micros(MAX_MICROS + 1), None);
    }

    #[test]
    fn non_canonical_text_is_rejected() {
        for bad in [
            "2023-11-14T22:13:20Z",
            "2023-11-14T22:13:20.123456+00:00",
            "2023-11-14t22:13:20.123456Z",
            "2023-02-29T00:00:00.000000Z",
            "1900-02-28T00:00:00.000000Z",
            "1969-12-31T23:59:59.999999Z",
            "2023-11-14T24:00:00.000000Z",
            "2023-11-14T23:60:00.000000Z",
            "2023-11-14T23:00:60.000000Z",
            "2023-13-14T23:00:00.000000Z",
            "2023-11-00T23:00:00.000000Z",
            "+023-11-14T23:00:00.000000Z",
        ] {
            assert_eq!(Timestamp::parse(bad), None, "{bad}");
        }
    }

    proptest! {
        #[test]
        fn display_parse_round_trip(micros in 0..=MAX_MICROS) {
            let ts = Timestamp::from_unix_micros(micros).unwrap();
            prop_assert_eq!(Timestamp::parse(&ts.to_string()), Some(ts));
            let mut direct = Vec::new();
            ts.write_canonical(&mut direct);
            prop_assert_eq!(direct, ts.to_string().into_bytes());
        }
    }
}
