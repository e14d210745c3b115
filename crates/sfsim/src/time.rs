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
}
