//! Timestamps in the shapes Salesforce REST uses: datetimes as `2020-10-22T21:03:23.000+0000`
//! and dates as `2020-10-22`, from seconds since the Unix epoch (UTC). No time-zone database is
//! needed: Salesforce returns every datetime in UTC.

/// Seconds in a day.
pub(crate) const DAY: i64 = 86_400;

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's `days_from_civil`).
pub(crate) fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The (year, month, day) of a day number since 1970-01-01 (H. Hinnant's `civil_from_days`).
pub(crate) fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    // day is in 1..=31 and month in 1..=12 by construction.
    (
        year,
        u32::try_from(month).unwrap_or(1),
        u32::try_from(day).unwrap_or(1),
    )
}

/// `2020-10-22T21:03:23.000+0000` for `epoch_seconds`.
pub(crate) fn datetime(epoch_seconds: i64) -> String {
    let (year, month, day) = civil_from_days(epoch_seconds.div_euclid(DAY));
    let secs = epoch_seconds.rem_euclid(DAY);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.000+0000",
        secs / 3600,
        (secs / 60) % 60,
        secs % 60
    )
}

/// `2020-10-22` for `epoch_seconds`.
pub(crate) fn date(epoch_seconds: i64) -> String {
    let (year, month, day) = civil_from_days(epoch_seconds.div_euclid(DAY));
    format!("{year:04}-{month:02}-{day:02}")
}

/// (year, quarter 1..=4) of `epoch_seconds`, for fiscal fields on a calendar fiscal year.
pub(crate) fn year_quarter(epoch_seconds: i64) -> (i64, u32) {
    let (year, month, _) = civil_from_days(epoch_seconds.div_euclid(DAY));
    (year, (month - 1) / 3 + 1)
}

/// Milliseconds in a second.
pub(crate) const MILLIS: i64 = 1000;

/// `2020-10-22T21:03:23.000+0000` (REST) for `epoch_millis`.
pub(crate) fn datetime_millis(epoch_millis: i64) -> String {
    let mut out = String::with_capacity(28);
    write_datetime_millis(&mut out, epoch_millis, "+0000");
    out
}

/// Appends `epoch_millis` as `YYYY-MM-DDTHH:MM:SS.mmm` followed by `zone` (`+0000` for REST,
/// `Z` for Bulk CSV).
pub(crate) fn write_datetime_millis(out: &mut String, epoch_millis: i64, zone: &str) {
    use std::fmt::Write as _;
    let seconds = epoch_millis.div_euclid(MILLIS);
    let millis = epoch_millis.rem_euclid(MILLIS);
    let (year, month, day) = civil_from_days(seconds.div_euclid(DAY));
    let secs = seconds.rem_euclid(DAY);
    // Writing to a String cannot fail.
    let _ = write!(
        out,
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{millis:03}{zone}",
        secs / 3600,
        (secs / 60) % 60,
        secs % 60
    );
}

/// `2023-10-22T06:25:12.000Z` (Bulk CSV) for `epoch_millis`, without the formatting machinery
/// (the Bulk view formats one per datetime cell). None outside years 0..=9999.
pub(crate) fn bulk_datetime(epoch_millis: i64) -> Option<[u8; 24]> {
    let seconds = epoch_millis.div_euclid(MILLIS);
    let millis = epoch_millis.rem_euclid(MILLIS);
    let (year, month, day) = civil_from_days(seconds.div_euclid(DAY));
    if !(0..=9999).contains(&year) {
        return None;
    }
    let secs = seconds.rem_euclid(DAY);
    let mut out = *b"0000-00-00T00:00:00.000Z";
    let mut put = |at: usize, width: usize, mut value: i64| {
        for i in (at..at + width).rev() {
            // `value % 10` is a single digit.
            out[i] = b'0' + (value % 10) as u8;
            value /= 10;
        }
    };
    put(0, 4, year);
    put(5, 2, i64::from(month));
    put(8, 2, i64::from(day));
    put(11, 2, secs / 3600);
    put(14, 2, (secs / 60) % 60);
    put(17, 2, secs % 60);
    put(20, 3, millis);
    Some(out)
}

/// `2020-10-22` for a day number since 1970-01-01.
pub(crate) fn date_days(days: i64) -> String {
    let (year, month, day) = civil_from_days(days);
    format!("{year:04}-{month:02}-{day:02}")
}

/// Fixed-width unsigned decimal digits of `s` (None unless all ASCII digits).
fn digits(s: &[u8]) -> Option<i64> {
    if s.is_empty() {
        return None;
    }
    s.iter().try_fold(0i64, |acc, &b| {
        b.is_ascii_digit().then(|| acc * 10 + i64::from(b - b'0'))
    })
}

/// Parses `YYYY-MM-DD` into a day number since 1970-01-01; None when malformed or not a real
/// calendar date.
pub(crate) fn parse_date(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let year = digits(&b[..4])?;
    let month = u32::try_from(digits(&b[5..7])?).ok()?;
    let day = u32::try_from(digits(&b[8..10])?).ok()?;
    if !(1..=12).contains(&month) || day == 0 {
        return None;
    }
    let days = days_from_civil(year, month, day);
    // Rejects 2023-02-30 and friends: the date must survive the round trip.
    (civil_from_days(days) == (year, month, day)).then_some(days)
}

/// Parses an ISO-8601 datetime as Salesforce accepts it: `YYYY-MM-DDTHH:MM:SS`, optional
/// fraction (milliseconds kept), then `Z`, `+HHMM`, `+HH:MM` or `-…`. Returns epoch
/// milliseconds (UTC).
pub(crate) fn parse_datetime(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() < 20 || b[10] != b'T' || b[13] != b':' || b[16] != b':' {
        return None;
    }
    let days = parse_date(s.get(..10)?)?;
    let hour = digits(&b[11..13])?;
    let minute = digits(&b[14..16])?;
    let second = digits(&b[17..19])?;
    if hour > 23 || minute > 59 || second > 59 {
        return None;
    }
    let mut rest = &b[19..];
    let mut millis = 0i64;
    if let Some(fraction) = rest.strip_prefix(b".") {
        let len = fraction.iter().take_while(|c| c.is_ascii_digit()).count();
        if len == 0 || len > 9 {
            return None;
        }
        let mut scaled = digits(&fraction[..len.min(3)])?;
        for _ in len.min(3)..3 {
            scaled *= 10;
        }
        millis = scaled;
        rest = &fraction[len..];
    }
    let offset_minutes = match rest {
        b"Z" | b"z" => 0,
        [sign @ (b'+' | b'-'), h1, h2, m1, m2] | [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2] => {
            let hours = digits(&[*h1, *h2])?;
            let minutes = digits(&[*m1, *m2])?;
            if hours > 23 || minutes > 59 {
                return None;
            }
            let total = hours * 60 + minutes;
            if *sign == b'-' { -total } else { total }
        }
        _ => return None,
    };
    let local = (days * DAY + hour * 3600 + minute * 60 + second) * MILLIS + millis;
    Some(local - offset_minutes * 60 * MILLIS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_match_rest() {
        // 2020-10-22T21:03:23Z, the example in the REST documentation.
        let t = days_from_civil(2020, 10, 22) * DAY + 21 * 3600 + 3 * 60 + 23;
        assert_eq!(t, 1_603_400_603);
        assert_eq!(datetime(t), "2020-10-22T21:03:23.000+0000");
        assert_eq!(date(t), "2020-10-22");
        assert_eq!(year_quarter(t), (2020, 4));
    }

    #[test]
    fn civil_round_trips_across_leap_years() {
        for days in -800..40_000 {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
        assert_eq!(civil_from_days(days_from_civil(2024, 2, 29)), (2024, 2, 29));
        assert_eq!(date(0), "1970-01-01");
    }

    #[test]
    fn datetimes_parse_in_every_salesforce_shape() {
        let t = 1_603_400_603_000;
        for s in [
            "2020-10-22T21:03:23Z",
            "2020-10-22T21:03:23.000Z",
            "2020-10-22T21:03:23.000+0000",
            "2020-10-22T23:03:23+02:00",
            "2020-10-22T20:03:23.0-0100",
        ] {
            assert_eq!(parse_datetime(s), Some(t), "{s}");
        }
        assert_eq!(parse_datetime("2020-10-22T21:03:23.5Z"), Some(t + 500));
        assert_eq!(datetime_millis(t + 7), "2020-10-22T21:03:23.007+0000");
        let mut bulk = String::new();
        write_datetime_millis(&mut bulk, t, "Z");
        assert_eq!(bulk, "2020-10-22T21:03:23.000Z");
        for ms in [0, t + 7, -86_400_001, 253_402_300_799_999] {
            let mut slow = String::new();
            write_datetime_millis(&mut slow, ms, "Z");
            assert_eq!(
                bulk_datetime(ms).map(|b| b.to_vec()),
                Some(slow.into_bytes()),
                "{ms}"
            );
        }
        assert_eq!(bulk_datetime(253_402_300_800_000), None);
        for bad in [
            "2020-10-22",
            "2020-13-22T21:03:23Z",
            "2021-02-29T00:00:00Z",
            "2020-10-22T21:03:23",
            "2020-10-22T21:03:23+2",
        ] {
            assert_eq!(parse_datetime(bad), None, "{bad}");
        }
        assert_eq!(parse_date("2024-02-29"), Some(days_from_civil(2024, 2, 29)));
        assert_eq!(parse_date("2023-02-29"), None);
        assert_eq!(date_days(days_from_civil(2024, 2, 29)), "2024-02-29");
    }
}
