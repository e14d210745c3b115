//! Salesforce timestamps: parsing the REST (`2020-10-22T21:03:23.000+0000`) and Bulk
//! (`2023-10-22T06:25:12.000Z`) forms, and formatting SOQL literals.
//!
//! Kept in-crate (no date library) because the client needs only UTC instants at millisecond
//! precision and the proleptic Gregorian calendar.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A UTC instant with millisecond precision, as epoch milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Timestamp(pub i64);

impl Timestamp {
    /// 1999-01-01T00:00:00Z: no Salesforce record is older, so it bounds a full window.
    pub const SALESFORCE_EPOCH: Timestamp = Timestamp(915_148_800_000);

    /// The current wall-clock time.
    pub fn now() -> Self {
        let ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
            .unwrap_or(0);
        Timestamp(ms)
    }

    /// Epoch milliseconds.
    pub fn millis(self) -> i64 {
        self.0
    }

    /// This instant moved by `delta_ms` (saturating).
    pub fn plus_millis(self, delta_ms: i64) -> Self {
        Timestamp(self.0.saturating_add(delta_ms))
    }

    /// Parses `YYYY-MM-DDThh:mm:ss[.fff](Z|+hhmm|+hh:mm|-hhmm|-hh:mm)`. Returns `None` for
    /// anything else.
    pub fn parse(s: &str) -> Option<Self> {
        Self::parse_ascii(s.as_bytes())
    }

    /// [`Timestamp::parse`] of bytes: the accepted forms are ASCII, so any other byte makes
    /// it `None`.
    pub fn parse_ascii(b: &[u8]) -> Option<Self> {
        if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || b[10] != b'T' || b[13] != b':' {
            return None;
        }
        if b[16] != b':' {
            return None;
        }
        let year = digits(&b[0..4])?;
        let month = digits(&b[5..7])?;
        let day = digits(&b[8..10])?;
        let hour = digits(&b[11..13])?;
        let minute = digits(&b[14..16])?;
        let second = digits(&b[17..19])?;
        if !(1..=12).contains(&month) || day == 0 || day > days_in_month(year, month) {
            return None;
        }
        if hour > 23 || minute > 59 || second > 60 {
            return None;
        }
        let mut rest = &b[19..];
        let mut millis = 0i64;
        if let Some((&b'.', frac)) = rest.split_first() {
            let n = frac.iter().take_while(|c| c.is_ascii_digit()).count();
            if n == 0 {
                return None;
            }
            // Keep millisecond precision; finer digits are truncated.
            let mut scale = 100;
            for &c in &frac[..n.min(3)] {
                millis += i64::from(c - b'0') * scale;
                scale /= 10;
            }
            rest = &frac[n..];
        }
        let offset_minutes: i64 = match rest {
            b"Z" => 0,
            [sign @ (b'+' | b'-'), h1, h2, m1, m2]
            | [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2] => {
                let h = digits(&[*h1, *h2])?;
                let m = digits(&[*m1, *m2])?;
                let off = h * 60 + m;
                if *sign == b'+' { off } else { -off }
            }
            _ => return None,
        };
        let days = days_from_civil(year, month, day);
        let secs = days * 86_400 + hour * 3600 + minute * 60 + second - offset_minutes * 60;
        Some(Timestamp(secs * 1000 + millis))
    }

    /// REST JSON form: `2020-10-22T21:03:23.000+0000`.
    pub fn to_rest(self) -> String {
        let mut out = Vec::with_capacity(REST_LEN);
        self.write_rest(&mut out);
        // Only ASCII digits and punctuation are written.
        String::from_utf8(out).unwrap_or_default()
    }

    /// Appends the REST JSON form ([`Timestamp::to_rest`]) to `out` without allocating: a
    /// backup writes one for every date-time cell it reads.
    pub fn write_rest(self, out: &mut Vec<u8>) {
        let [y, mo, d, h, m, s, ms] = self.fields();
        if !(0..=9999).contains(&y) {
            // Outside four-digit years (never a Salesforce value): the general formatter.
            out.extend_from_slice(
                format!("{y:04}-{mo:02}-{d:02}T{h:02}:{m:02}:{s:02}.{ms:03}+0000").as_bytes(),
            );
            return;
        }
        let mut text = *b"0000-00-00T00:00:00.000+0000";
        for (range, value) in [
            (0..4, y),
            (5..7, mo),
            (8..10, d),
            (11..13, h),
            (14..16, m),
            (17..19, s),
            (20..23, ms),
        ] {
            put_digits(&mut text[range], value);
        }
        out.extend_from_slice(&text);
    }

    /// SOQL datetime literal: `2020-10-22T21:03:23.000Z` (milliseconds kept so a compound
    /// cursor never skips records stamped within the same second).
    pub fn to_soql(self) -> String {
        let (date, h, m, s, ms) = self.parts();
        format!("{date}T{h:02}:{m:02}:{s:02}.{ms:03}Z")
    }

    /// `getUpdated`/`getDeleted` parameter form: `2013-05-03T15:57:00+00:00` (the API ignores
    /// seconds there anyway).
    pub fn to_replication_param(self) -> String {
        let (date, h, m, s, _) = self.parts();
        format!("{date}T{h:02}:{m:02}:{s:02}+00:00")
    }

    fn parts(self) -> (String, i64, i64, i64, i64) {
        let [y, mo, d, h, m, s, ms] = self.fields();
        (format!("{y:04}-{mo:02}-{d:02}"), h, m, s, ms)
    }

    /// UTC calendar fields: year, month, day, hour, minute, second, millisecond.
    fn fields(self) -> [i64; 7] {
        let ms = self.0.rem_euclid(1000);
        let secs = self.0.div_euclid(1000);
        let sod = secs.rem_euclid(86_400);
        let (y, mo, d) = civil_from_days(secs.div_euclid(86_400));
        [y, mo, d, sod / 3600, (sod % 3600) / 60, sod % 60, ms]
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_soql())
    }
}

/// Length of the REST form of a four-digit year.
const REST_LEN: usize = 28;

/// Writes `value` (non-negative, fewer than `10^out.len()`) as zero-padded decimal digits.
fn put_digits(out: &mut [u8], mut value: i64) {
    for slot in out.iter_mut().rev() {
        // A digit: 0..=9 by the remainder.
        *slot = b'0' + u8::try_from(value % 10).unwrap_or(0);
        value /= 10;
    }
}

fn digits(b: &[u8]) -> Option<i64> {
    let mut v = 0i64;
    for &c in b {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v * 10 + i64::from(c - b'0');
    }
    Some(v)
}

fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if is_leap(y) => 29,
        _ => 28,
    }
}

// Howard Hinnant's days_from_civil / civil_from_days (public domain algorithms).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rest_and_bulk_forms_agree() {
        let rest = Timestamp::parse("2020-10-22T21:03:23.000+0000").unwrap();
        let bulk = Timestamp::parse("2020-10-22T21:03:23.000Z").unwrap();
        assert_eq!(rest, bulk);
        assert_eq!(rest.to_rest(), "2020-10-22T21:03:23.000+0000");
        assert_eq!(rest.to_soql(), "2020-10-22T21:03:23.000Z");
        assert_eq!(rest.to_replication_param(), "2020-10-22T21:03:23+00:00");
        assert_eq!(
            Timestamp::parse("2023-10-22T06:25:12.000Z")
                .map(Timestamp::to_rest)
                .as_deref(),
            Some("2023-10-22T06:25:12.000+0000")
        );
    }

    #[test]
    fn epoch_and_offsets() {
        assert_eq!(Timestamp::parse("1970-01-01T00:00:00Z"), Some(Timestamp(0)));
        assert_eq!(
            Timestamp::parse("1970-01-01T01:00:00.5+01:00"),
            Some(Timestamp(500))
        );
        assert_eq!(
            Timestamp::parse("1999-01-01T00:00:00.000Z"),
            Some(Timestamp::SALESFORCE_EPOCH)
        );
        assert_eq!(
            Timestamp::parse("2013-05-03T15:57:00.000-0100")
                .unwrap()
                .to_rest(),
            "2013-05-03T16:57:00.000+0000"
        );
    }

    #[test]
    fn rejects_garbage() {
        for s in [
            "",
            "2020-13-01T00:00:00Z",
            "2021-02-29T00:00:00Z",
            "2020-10-22 21:03:23Z",
            "2020-10-22T21:03:23",
            "2020-10-22T21:03:23.Z",
            "2020-10-22T21:03:23.000+00",
            "２020-10-22T21:03:23Z",
        ] {
            assert_eq!(Timestamp::parse(s), None, "{s}");
        }
    }

    #[test]
    fn round_trips_many_instants() {
        let mut t = -86_400_000 * 365 * 30;
        while t < 86_400_000 * 365 * 80 {
            let ts = Timestamp(t);
            assert_eq!(Timestamp::parse(&ts.to_rest()), Some(ts));
            t += 7_777_777_777;
        }
    }

    /// The general formatter `write_rest` replaced, kept as the reference.
    fn rest_by_format(t: Timestamp) -> String {
        let ms = t.0.rem_euclid(1000);
        let secs = t.0.div_euclid(1000);
        let sod = secs.rem_euclid(86_400);
        let (y, mo, d) = civil_from_days(secs.div_euclid(86_400));
        let (h, m, s) = (sod / 3600, (sod % 3600) / 60, sod % 60);
        format!("{y:04}-{mo:02}-{d:02}T{h:02}:{m:02}:{s:02}.{ms:03}+0000")
    }

    #[test]
    fn write_rest_matches_the_general_formatter_everywhere() {
        // Year 0 to 9999 on the fast path, and beyond it on both sides.
        let year_ms = 31_556_952_000i64;
        let (from, to) = (-1971 * year_ms - 5 * 86_400_000, 8031 * year_ms);
        let mut t = from;
        while t < to {
            for ts in [Timestamp(t), Timestamp(t + 999), Timestamp(t - 1)] {
                let mut out = vec![b'x'];
                ts.write_rest(&mut out);
                assert_eq!(&out[1..], rest_by_format(ts).as_bytes(), "{}", ts.0);
                assert_eq!(ts.to_rest(), rest_by_format(ts));
            }
            t += 3_333_333_333;
        }
        for edge in ["0000-01-01T00:00:00.000Z", "9999-12-31T23:59:59.999Z"] {
            let ts = Timestamp::parse(edge).unwrap();
            assert_eq!(ts.to_rest(), rest_by_format(ts));
            assert_eq!(ts.to_soql(), edge);
            assert_eq!(
                Timestamp(ts.0 - 1).to_rest(),
                rest_by_format(Timestamp(ts.0 - 1))
            );
            assert_eq!(
                Timestamp(ts.0 + 1).to_rest(),
                rest_by_format(Timestamp(ts.0 + 1))
            );
        }
    }
}
