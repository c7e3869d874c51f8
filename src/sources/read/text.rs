//! Values in the source's text form (the simple query protocol's, as Redshift sends them
//! after the session set-up of explore) appended to Arrow columns, exactly: integers and
//! decimals digit by digit, floats by correctly rounded parsing of text that round-trips,
//! dates and timestamps by calendar arithmetic, bytes from hex. A text that does not have
//! its type's form, or a value the column cannot hold, is a [`ValueIssue`].

use std::sync::Arc;

use arrow_array::ArrayRef;
use arrow_array::builder::{
    BinaryBuilder, BooleanBuilder, Date32Builder, Decimal128Builder, Float64Builder, Int32Builder, Int64Builder,
    StringBuilder, TimestampMicrosecondBuilder,
};
use arrow_schema::{DataType, TimeUnit};

use super::ValueIssue;
use super::calendar::{MICROS_PER_DAY, OUTSIDE_LAKE, days_from_civil, days_in_month, lake_days, lake_micros};

/// One column being filled from text values.
pub enum TextColumn {
    Int32(Int32Builder),
    Int64(Int64Builder),
    Float64(Float64Builder),
    Decimal(Decimal128Builder, u8, i8),
    Boolean(BooleanBuilder),
    Date(Date32Builder),
    Timestamp(TimestampMicrosecondBuilder, bool),
    Utf8(StringBuilder),
    Binary(BinaryBuilder, Vec<u8>),
}

impl TextColumn {
    /// An empty column of `data_type`; `None` for types text is not read into (lists).
    pub fn new(data_type: &DataType) -> Option<TextColumn> {
        Some(match data_type {
            DataType::Int32 => TextColumn::Int32(Int32Builder::new()),
            DataType::Int64 => TextColumn::Int64(Int64Builder::new()),
            DataType::Float64 => TextColumn::Float64(Float64Builder::new()),
            DataType::Decimal128(p, s) => {
                TextColumn::Decimal(Decimal128Builder::new().with_data_type(data_type.clone()), *p, *s)
            }
            DataType::Boolean => TextColumn::Boolean(BooleanBuilder::new()),
            DataType::Date32 => TextColumn::Date(Date32Builder::new()),
            DataType::Timestamp(TimeUnit::Microsecond, zone) => {
                let builder = TimestampMicrosecondBuilder::new().with_data_type(data_type.clone());
                TextColumn::Timestamp(builder, zone.is_some())
            }
            DataType::Utf8 => TextColumn::Utf8(StringBuilder::new()),
            DataType::Binary => TextColumn::Binary(BinaryBuilder::new(), Vec::new()),
            _ => return None,
        })
    }

    /// Appends one value; `None` is SQL NULL.
    pub fn append(&mut self, text: Option<&str>) -> Result<(), ValueIssue> {
        let Some(text) = text else {
            self.append_null();
            return Ok(());
        };
        match self {
            TextColumn::Int32(b) => b.append_value(text.parse().map_err(|_| expected("an integer", text))?),
            TextColumn::Int64(b) => b.append_value(text.parse().map_err(|_| expected("an integer", text))?),
            TextColumn::Float64(b) => b.append_value(double(text)?),
            TextColumn::Decimal(b, p, s) => b.append_value(decimal(text, *p, *s)?),
            TextColumn::Boolean(b) => b.append_value(match text {
                "t" => true,
                "f" => false,
                _ => return Err(expected("t or f", text)),
            }),
            TextColumn::Date(b) => b.append_value(date(text)? as i32),
            TextColumn::Timestamp(b, zone) => b.append_value(timestamp(text, *zone)?),
            TextColumn::Utf8(b) => b.append_value(text),
            TextColumn::Binary(b, scratch) => {
                let hex = text.strip_prefix("\\x").unwrap_or(text);
                scratch.resize(hex.len() / 2, 0);
                hex::decode_to_slice(hex, scratch).map_err(|_| expected("hex bytes", text))?;
                b.append_value(&scratch);
            }
        }
        Ok(())
    }

    /// Appends SQL NULL.
    pub fn append_null(&mut self) {
        match self {
            TextColumn::Int32(b) => b.append_null(),
            TextColumn::Int64(b) => b.append_null(),
            TextColumn::Float64(b) => b.append_null(),
            TextColumn::Decimal(b, ..) => b.append_null(),
            TextColumn::Boolean(b) => b.append_null(),
            TextColumn::Date(b) => b.append_null(),
            TextColumn::Timestamp(b, _) => b.append_null(),
            TextColumn::Utf8(b) => b.append_null(),
            TextColumn::Binary(b, _) => b.append_null(),
        }
    }

    /// The values appended since the last call, as an array.
    pub fn finish(&mut self) -> ArrayRef {
        match self {
            TextColumn::Int32(b) => Arc::new(b.finish()),
            TextColumn::Int64(b) => Arc::new(b.finish()),
            TextColumn::Float64(b) => Arc::new(b.finish()),
            TextColumn::Decimal(b, ..) => Arc::new(b.finish()),
            TextColumn::Boolean(b) => Arc::new(b.finish()),
            TextColumn::Date(b) => Arc::new(b.finish()),
            TextColumn::Timestamp(b, _) => Arc::new(b.finish()),
            TextColumn::Utf8(b) => Arc::new(b.finish()),
            TextColumn::Binary(b, _) => Arc::new(b.finish()),
        }
    }
}

fn expected(what: &str, text: &str) -> ValueIssue {
    let shown: String = text.chars().take(60).collect();
    ValueIssue::malformed(format!("expected {what}, the source sent `{shown}`"))
}

/// A float's text: `NaN`, `Infinity`, `-Infinity`, or a number in plain or exponent form.
fn double(text: &str) -> Result<f64, ValueIssue> {
    match text {
        "NaN" => return Ok(f64::NAN),
        "Infinity" => return Ok(f64::INFINITY),
        "-Infinity" => return Ok(f64::NEG_INFINITY),
        _ => {}
    }
    // Rust would also read `inf` and `nan`, which no source writes for a float.
    let numeric = text.bytes().all(|b| b.is_ascii_digit() || b"+-.eE".contains(&b));
    let parsed = numeric.then(|| text.parse::<f64>().ok()).flatten();
    parsed
        .filter(|f| f.is_finite())
        .ok_or_else(|| expected("a number", text))
}

/// `-123.4500` as the unscaled integer of a `decimal(precision, scale)`: every digit kept;
/// fractional digits beyond the scale must be zeros.
pub fn decimal(text: &str, precision: u8, scale: i8) -> Result<i128, ValueIssue> {
    if matches!(text, "NaN" | "Infinity" | "-Infinity") {
        return Err(ValueIssue::cannot_hold(text, "a decimal column cannot hold"));
    }
    let (negative, body) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    let (whole, fraction) = body.split_once('.').unwrap_or((body, ""));
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if whole.is_empty() && fraction.is_empty() || !digits(whole) || !digits(fraction) {
        return Err(expected("a decimal number", text));
    }
    let scale = scale.max(0) as usize;
    let (kept, dropped) = fraction.split_at(fraction.len().min(scale));
    let shape = format!("decimal({precision},{scale})");
    if dropped.bytes().any(|b| b != b'0') {
        let reason = format!("has more fractional digits than the {scale} a {shape} column keeps");
        return Err(ValueIssue::cannot_hold(text, reason));
    }
    let too_big = || ValueIssue::cannot_hold(text, format!("does not fit a {shape} column"));
    let padding = std::iter::repeat_n(b'0', scale - kept.len());
    let mut value: i128 = 0;
    for digit in whole.bytes().chain(kept.bytes()).chain(padding) {
        value = value
            .checked_mul(10)
            .and_then(|v| v.checked_add(i128::from(digit - b'0')))
            .ok_or_else(too_big)?;
    }
    if value >= 10i128.pow(u32::from(precision)) {
        return Err(too_big());
    }
    Ok(if negative { -value } else { value })
}

/// `YYYY-MM-DD[ BC]` (years may have more than four digits) as days since 1970-01-01.
pub fn date(text: &str) -> Result<i64, ValueIssue> {
    if matches!(text, "infinity" | "-infinity") {
        return Err(ValueIssue::cannot_hold(text, "a date column cannot hold"));
    }
    let days = civil_days(text).ok_or_else(|| expected("a date (YYYY-MM-DD)", text))?;
    if !lake_days(days) {
        return Err(ValueIssue::cannot_hold(text, OUTSIDE_LAKE));
    }
    Ok(days)
}

fn civil_days(text: &str) -> Option<i64> {
    let (date, bc) = match text.strip_suffix(" BC") {
        Some(date) => (date, true),
        None => (text, false),
    };
    let mut parts = date.splitn(3, '-');
    let (year, month, day) = (parts.next()?, parts.next()?, parts.next()?);
    let digits = |s: &str, min, max| (min..=max).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(year, 4, 9) || !digits(month, 2, 2) || !digits(day, 2, 2) {
        return None;
    }
    let year: i64 = year.parse().ok()?;
    let year = if bc { 1 - year } else { year };
    let (month, day): (u32, u32) = (month.parse().ok()?, day.parse().ok()?);
    let valid = (1..=12).contains(&month) && day >= 1 && day <= days_in_month(year, month);
    valid.then(|| days_from_civil(year, month, day))
}

/// `YYYY-MM-DD HH:MM:SS[.ffffff][+HH[:MM[:SS]]][ BC]` as microseconds since 1970, the
/// offset (required exactly when `with_zone`) applied.
pub fn timestamp(text: &str, with_zone: bool) -> Result<i64, ValueIssue> {
    let column = if with_zone { "timestamptz" } else { "timestamp" };
    if matches!(text, "infinity" | "-infinity") {
        return Err(ValueIssue::cannot_hold(text, format!("a {column} column cannot hold")));
    }
    let micros = instant(text, with_zone).ok_or_else(|| expected(&format!("a {column}"), text))?;
    if !lake_micros(micros) {
        return Err(ValueIssue::cannot_hold(text, OUTSIDE_LAKE));
    }
    Ok(micros)
}

fn instant(text: &str, with_zone: bool) -> Option<i64> {
    let (rest, era) = match text.strip_suffix(" BC") {
        Some(rest) => (rest, " BC"),
        None => (text, ""),
    };
    let (date, time) = rest.split_once(' ')?;
    let days = civil_days(&format!("{date}{era}"))?;
    let (clock, offset) = match time.find(['+', '-']) {
        Some(at) if with_zone => (&time[..at], offset_seconds(&time[at..])?),
        None if !with_zone => (time, 0),
        _ => return None,
    };
    let (hms, fraction) = clock.split_once('.').unwrap_or((clock, ""));
    let fields: Vec<&str> = hms.split(':').collect();
    let two_digits = |s: &&str| s.len() == 2 && s.bytes().all(|b| b.is_ascii_digit());
    let fraction_ok = fraction.len() <= 6 && fraction.bytes().all(|b| b.is_ascii_digit());
    if fields.len() != 3 || !fields.iter().all(two_digits) || !fraction_ok || clock.ends_with('.') {
        return None;
    }
    let number = |s: &str| s.parse::<i64>().ok();
    let (h, m, s) = (number(fields[0])?, number(fields[1])?, number(fields[2])?);
    let micros_of_fraction = format!("{fraction:0<6}").parse::<i64>().ok()?;
    let seconds = h * 3600 + m * 60 + s - offset;
    Some(days * MICROS_PER_DAY + seconds * 1_000_000 + micros_of_fraction)
}

/// `+05`, `-03:30`, `+00:53:28` as seconds east of UTC.
fn offset_seconds(text: &str) -> Option<i64> {
    let (sign, rest) = text.split_at(1);
    let parts: Vec<&str> = rest.split(':').collect();
    let valid = (1..=3).contains(&parts.len())
        && parts
            .iter()
            .all(|p| p.len() == 2 && p.bytes().all(|b| b.is_ascii_digit()));
    if !valid {
        return None;
    }
    let seconds = parts
        .iter()
        .zip([3600, 60, 1])
        .map(|(p, unit)| p.parse::<i64>().unwrap_or(0) * unit)
        .sum::<i64>();
    Some(if sign == "-" { -seconds } else { seconds })
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::Array;

    #[test]
    fn decimals_keep_every_digit_or_fail() {
        assert_eq!(decimal("12.50", 12, 2), Ok(1250));
        assert_eq!(decimal("-0.0001", 18, 4), Ok(-1));
        assert_eq!(decimal("12.5", 12, 2), Ok(1250));
        assert_eq!(decimal("1.2300", 5, 2), Ok(123));
        assert_eq!(
            decimal("99999999999999999999999999999999999999", 38, 0),
            Ok(10i128.pow(38) - 1)
        );
        let fails = |text: &str, p, s| matches!(decimal(text, p, s), Err(ValueIssue::CannotHold { .. }));
        assert!(fails("NaN", 38, 18));
        assert!(fails("1.234", 5, 2));
        assert!(fails("1000", 5, 2));
        assert!(fails("123456789012345678901234567890.5", 38, 18));
        assert!(matches!(decimal("1e5", 5, 2), Err(ValueIssue::Malformed(_))));
        assert!(matches!(decimal("-", 5, 2), Err(ValueIssue::Malformed(_))));
    }

    #[test]
    fn dates_and_timestamps_become_counts() {
        assert_eq!(date("1970-01-02"), Ok(1));
        assert_eq!(date("0001-01-01"), Ok(-719_162));
        assert!(matches!(date("0044-03-15 BC"), Err(ValueIssue::CannotHold { .. })));
        assert!(matches!(date("infinity"), Err(ValueIssue::CannotHold { .. })));
        assert!(matches!(date("2023-02-29"), Err(ValueIssue::Malformed(_))));
        assert_eq!(timestamp("1970-01-01 00:00:01.5", false), Ok(1_500_000));
        assert_eq!(timestamp("1970-01-01 02:00:00.000001+02", true), Ok(1));
        assert_eq!(timestamp("1970-01-01 00:00:00-00:30", true), Ok(1_800_000_000));
        assert!(matches!(
            timestamp("1970-01-01 00:00:00", true),
            Err(ValueIssue::Malformed(_))
        ));
        assert!(matches!(
            timestamp("1970-01-01 00:00:00+00", false),
            Err(ValueIssue::Malformed(_))
        ));
        assert!(matches!(
            timestamp("1970-01-01 00:00:00.", false),
            Err(ValueIssue::Malformed(_))
        ));
        assert!(matches!(
            timestamp("-infinity", true),
            Err(ValueIssue::CannotHold { .. })
        ));
    }

    #[test]
    fn columns_fill_from_text() {
        let mut column = TextColumn::new(&DataType::Float64).unwrap();
        for text in [Some("0.10000000000000001"), Some("-Infinity"), None] {
            column.append(text).unwrap();
        }
        assert!(column.append(Some("inf")).is_err());
        let array = column.finish();
        let floats = array.as_any().downcast_ref::<arrow_array::Float64Array>().unwrap();
        assert_eq!(
            (floats.value(0), floats.value(1), floats.is_null(2)),
            (0.1, f64::NEG_INFINITY, true)
        );
        let mut bytes = TextColumn::new(&DataType::Binary).unwrap();
        bytes.append(Some("0102ff")).unwrap();
        bytes.append(Some("\\x")).unwrap();
        let array = bytes.finish();
        let binary = array.as_any().downcast_ref::<arrow_array::BinaryArray>().unwrap();
        assert_eq!((binary.value(0), binary.value(1)), (&[1u8, 2, 255][..], &[][..]));
        assert!(TextColumn::new(&DataType::new_list(DataType::Int32, true)).is_none());
    }
}
