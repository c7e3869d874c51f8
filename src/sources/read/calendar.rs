//! Dates and timestamps as day and microsecond counts, over the whole range PostgreSQL
//! stores (4713 BC to 5874897 AD), which is wider than chrono's: the lake's range check
//! and the error messages about values outside it need both.

/// Microseconds in a day.
pub const MICROS_PER_DAY: i64 = 86_400_000_000;
/// Days from 1970-01-01 (Arrow's epoch) to 2000-01-01 (PostgreSQL's).
pub const PG_EPOCH_DAYS: i64 = 10_957;
/// Microseconds from 1970-01-01 to 2000-01-01.
pub const PG_EPOCH_MICROS: i64 = PG_EPOCH_DAYS * MICROS_PER_DAY;
/// 0001-01-01 in days since 1970-01-01: the first date a Delta Lake table holds.
pub const MIN_LAKE_DAYS: i64 = -719_162;
/// 9999-12-31 in days since 1970-01-01: the last date a Delta Lake table holds.
pub const MAX_LAKE_DAYS: i64 = 2_932_896;
/// What a value outside the lake's dates is told.
pub const OUTSIDE_LAKE: &str = "is outside the years 0001 to 9999 that a lake date or timestamp holds";

/// True when `days` (since 1970-01-01) is a date from 0001-01-01 to 9999-12-31.
pub fn lake_days(days: i64) -> bool {
    (MIN_LAKE_DAYS..=MAX_LAKE_DAYS).contains(&days)
}

/// True when `micros` (since 1970-01-01 00:00) falls in the lake's years 0001 to 9999.
pub fn lake_micros(micros: i64) -> bool {
    lake_days(micros.div_euclid(MICROS_PER_DAY))
}

/// Days since 1970-01-01 of a proleptic Gregorian date with astronomical year numbering
/// (1 BC is year 0), after Howard Hinnant's `days_from_civil`.
pub fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let month_from_march = (i64::from(month) + 9) % 12;
    let day_of_year = (153 * month_from_march + 2) / 5 + i64::from(day) - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// The (astronomical year, month, day) of `days` since 1970-01-01.
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let days = days + 719_468;
    let era = days.div_euclid(146_097);
    let day_of_era = days - era * 146_097;
    let year_of_era = (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_from_march = (5 * day_of_year + 2) / 153;
    let day = (day_of_year - (153 * month_from_march + 2) / 5 + 1) as u32;
    let month = if month_from_march < 10 {
        month_from_march + 3
    } else {
        month_from_march - 9
    } as u32;
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// The number of days in `month` of `year` (astronomical numbering).
pub fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        4 | 6 | 9 | 11 => 30,
        2 if year.rem_euclid(4) == 0 && (year.rem_euclid(100) != 0 || year.rem_euclid(400) == 0) => 29,
        2 => 28,
        _ => 31,
    }
}

/// A date as PostgreSQL writes it (`DateStyle` ISO): `2024-05-01`, `0044-03-15 BC`.
pub fn date_text(days: i64) -> String {
    let (year, month, day) = civil_from_days(days);
    if year <= 0 {
        format!("{:04}-{month:02}-{day:02} BC", 1 - year)
    } else {
        format!("{year:04}-{month:02}-{day:02}")
    }
}

/// A timestamp as PostgreSQL writes it: `2024-05-01 10:00:00.5`, `0044-03-15 10:00:00 BC`.
pub fn timestamp_text(micros: i64) -> String {
    let days = micros.div_euclid(MICROS_PER_DAY);
    let in_day = micros.rem_euclid(MICROS_PER_DAY);
    let date = date_text(days);
    let (date, era) = match date.strip_suffix(" BC") {
        Some(date) => (date.to_string(), " BC"),
        None => (date, ""),
    };
    let seconds = in_day / 1_000_000;
    let (hour, minute, second) = (seconds / 3600, seconds / 60 % 60, seconds % 60);
    let fraction = match in_day % 1_000_000 {
        0 => String::new(),
        micros => format!(".{micros:06}").trim_end_matches('0').to_string(),
    };
    format!("{date} {hour:02}:{minute:02}:{second:02}{fraction}{era}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_days_round_trip_across_eras() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2000, 1, 1), PG_EPOCH_DAYS);
        assert_eq!(days_from_civil(1, 1, 1), MIN_LAKE_DAYS);
        assert_eq!(days_from_civil(9999, 12, 31), MAX_LAKE_DAYS);
        assert_eq!(days_from_civil(2000, 2, 29) + 1, days_from_civil(2000, 3, 1));
        for days in [-2_451_545, -719_163, -1, 0, 59, 11_016, 2_932_897, 2_147_483_000] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days, "{y}-{m}-{d}");
        }
        assert_eq!(days_in_month(1900, 2), 28);
        assert_eq!(days_in_month(2000, 2), 29);
        assert_eq!(days_in_month(0, 2), 29);
    }

    #[test]
    fn texts_read_like_postgres() {
        assert_eq!(date_text(days_from_civil(2024, 5, 1)), "2024-05-01");
        assert_eq!(date_text(days_from_civil(-43, 3, 15)), "0044-03-15 BC");
        assert_eq!(date_text(days_from_civil(0, 1, 1)), "0001-01-01 BC");
        assert_eq!(date_text(days_from_civil(10000, 1, 1)), "10000-01-01");
        let noon = days_from_civil(2024, 5, 1) * MICROS_PER_DAY + 36_000_500_000;
        assert_eq!(timestamp_text(noon), "2024-05-01 10:00:00.5");
        let bc = days_from_civil(-43, 3, 15) * MICROS_PER_DAY + 1;
        assert_eq!(timestamp_text(bc), "0044-03-15 00:00:00.000001 BC");
        assert!(lake_micros(MIN_LAKE_DAYS * MICROS_PER_DAY));
        assert!(!lake_micros(MIN_LAKE_DAYS * MICROS_PER_DAY - 1));
        assert!(lake_micros((MAX_LAKE_DAYS + 1) * MICROS_PER_DAY - 1));
        assert!(!lake_micros((MAX_LAKE_DAYS + 1) * MICROS_PER_DAY));
    }
}
