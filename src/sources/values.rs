//! Preview values: a value in PostgreSQL's (or Redshift's) text output form, turned into
//! the exact JSON the explore preview shows, by the column's [`InletType`].
//!
//! The text comes from a session set up for unambiguous output (`TimeZone` UTC, `DateStyle`
//! ISO, shortest-exact floats, hex bytea). Integers become JSON numbers; floats numbers,
//! except NaN and the infinities, which JSON lacks and which stay strings; decimals stay
//! strings, so no digit is lost; dates and timestamps become ISO 8601; bytes base64;
//! arrays JSON arrays; anything else is the source's text, unchanged. A text that does not
//! have the form its type promises is an error, never a guess.

pub(crate) mod array;

use crate::sources::schema::ColumnInfo;
use crate::sources::types::InletType;
use crate::sources::{SourceError, SourceErrorKind};
use base64::Engine;
use serde_json::{Map, Number, Value};
use tokio_postgres::SimpleQueryMessage;

/// A source value that does not have the text form its type promises.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ValueError(String);

impl ValueError {
    fn new(expected: &str, text: &str) -> ValueError {
        let shown: String = text.chars().take(60).collect();
        ValueError(format!("expected {expected}, the source sent `{shown}`"))
    }
}

/// The preview JSON of one value; `None` (SQL NULL) is `null`.
pub fn to_json(text: Option<&str>, inlet_type: &InletType) -> Result<Value, ValueError> {
    let Some(text) = text else {
        return Ok(Value::Null);
    };
    match inlet_type {
        InletType::Integer | InletType::Long => {
            let number: i64 = text.parse().map_err(|_| ValueError::new("an integer", text))?;
            Ok(number.into())
        }
        InletType::Double => double(text),
        InletType::Boolean => match text {
            "t" => Ok(true.into()),
            "f" => Ok(false.into()),
            _ => Err(ValueError::new("t or f", text)),
        },
        InletType::Date => date(text).map(Value::String),
        InletType::Timestamp { with_zone } => timestamp(text, *with_zone).map(Value::String),
        InletType::Binary => binary(text).map(Value::String),
        InletType::Array(element) => array::to_json(text, element),
        InletType::Decimal { .. } | InletType::String => Ok(Value::String(text.to_string())),
    }
}

/// The preview rows of a simple-protocol `SELECT` of `columns` (in that order): one JSON
/// object per row, keyed by column name.
pub fn preview_rows(
    messages: &[SimpleQueryMessage],
    columns: &[ColumnInfo],
) -> Result<Vec<Map<String, Value>>, SourceError> {
    let mut rows = Vec::new();
    for message in messages {
        let SimpleQueryMessage::Row(row) = message else {
            continue;
        };
        if row.len() != columns.len() {
            let message = format!(
                "the preview returned {} columns where {} were asked for",
                row.len(),
                columns.len()
            );
            return Err(SourceError::new(SourceErrorKind::QueryFailed, message));
        }
        let mut object = Map::new();
        for (at, column) in columns.iter().enumerate() {
            let value = to_json(row.get(at), &column.inlet_type).map_err(|error| {
                let message = format!("column {} ({}): {error}", column.name, column.original_type);
                SourceError::new(SourceErrorKind::Unsupported, message)
            })?;
            object.insert(column.name.clone(), value);
        }
        rows.push(object);
    }
    Ok(rows)
}

/// A float: a JSON number, or the string `NaN`, `Infinity` or `-Infinity`.
fn double(text: &str) -> Result<Value, ValueError> {
    if matches!(text, "NaN" | "Infinity" | "-Infinity") {
        return Ok(Value::String(text.to_string()));
    }
    let parsed: Option<f64> = text.parse().ok();
    // Rust would also read "inf" and "nan"; only finite numbers may pass here.
    let number = parsed
        .and_then(Number::from_f64)
        .ok_or_else(|| ValueError::new("a number", text))?;
    Ok(Value::Number(number))
}

/// `YYYY-MM-DD[ BC]` (years may have more than 4 digits) → ISO 8601 with the astronomical
/// year: 1 BC is year `0000`, 44 BC is `-0043`, and years past 9999 carry a `+` (ISO 8601's
/// expanded form). `infinity` and `-infinity` stay as they are.
fn date(text: &str) -> Result<String, ValueError> {
    if matches!(text, "infinity" | "-infinity") {
        return Ok(text.to_string());
    }
    let (date, bc) = match text.strip_suffix(" BC") {
        Some(date) => (date, true),
        None => (text, false),
    };
    let bad = || ValueError::new("a date (YYYY-MM-DD)", text);
    if !date.is_ascii() {
        return Err(bad());
    }
    let (year, month_day) = date.split_once('-').ok_or_else(bad)?;
    let digits = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_digit());
    let month_day_ok = month_day.len() == 5 && digits(&month_day[..2], 2) && &month_day[2..3] == "-";
    if year.len() < 4 || !year.bytes().all(|b| b.is_ascii_digit()) || !month_day_ok || !digits(&month_day[3..], 2) {
        return Err(bad());
    }
    let year: i64 = year.parse().map_err(|_| bad())?;
    let year = if bc { 1 - year } else { year };
    let year = match year {
        ..0 => format!("-{:04}", -year),
        0..=9999 => format!("{year:04}"),
        _ => format!("+{year}"),
    };
    Ok(format!("{year}-{month_day}"))
}

/// `YYYY-MM-DD HH:MM:SS[.ffffff][+HH[:MM[:SS]]][ BC]` → `YYYY-MM-DDTHH:MM:SS[.ffffff]`,
/// plus `Z` for a zero offset or `+HH:MM` otherwise when `with_zone`. A timestamp without
/// time zone has no zone, so it gets none. `infinity` and `-infinity` stay as they are.
fn timestamp(text: &str, with_zone: bool) -> Result<String, ValueError> {
    if matches!(text, "infinity" | "-infinity") {
        return Ok(text.to_string());
    }
    let expected = if with_zone {
        "a timestamp with time zone"
    } else {
        "a timestamp"
    };
    let bad = || ValueError::new(expected, text);
    let (rest, bc) = match text.strip_suffix(" BC") {
        Some(rest) => (rest, " BC"),
        None => (text, ""),
    };
    let (date_part, time_part) = rest.split_once(' ').ok_or_else(bad)?;
    let date = date(&format!("{date_part}{bc}")).map_err(|_| bad())?;
    let (time, offset) = match time_part.find(['+', '-']) {
        Some(at) if with_zone => (&time_part[..at], offset(&time_part[at..]).ok_or_else(bad)?),
        None if !with_zone => (time_part, String::new()),
        _ => return Err(bad()),
    };
    let clock = time.as_bytes();
    let fraction_ok = time.len() == 8 || (time.len() > 9 && clock[8] == b'.');
    let shape_ok = time.len() >= 8 && clock[2] == b':' && clock[5] == b':';
    let digits_ok = time
        .bytes()
        .enumerate()
        .all(|(i, b)| matches!(i, 2 | 5 | 8) || b.is_ascii_digit());
    if !(fraction_ok && shape_ok && digits_ok) {
        return Err(bad());
    }
    Ok(format!("{date}T{time}{offset}"))
}

/// `+00` → `Z`; `+05` → `+05:00`; `-03:30` and `+05:53:28` (local mean time) kept.
fn offset(text: &str) -> Option<String> {
    let (sign, rest) = text.split_at(1);
    let parts: Vec<&str> = rest.split(':').collect();
    let valid = (1..=3).contains(&parts.len())
        && parts
            .iter()
            .all(|p| p.len() == 2 && p.bytes().all(|b| b.is_ascii_digit()));
    if !valid {
        return None;
    }
    if parts.iter().all(|p| *p == "00") {
        return Some("Z".to_string());
    }
    Some(match parts.len() {
        1 => format!("{sign}{}:00", parts[0]),
        _ => text.to_string(),
    })
}

/// Hex bytes (PostgreSQL's `\x0102`, Redshift's bare `0102`) → base64.
fn binary(text: &str) -> Result<String, ValueError> {
    let hex = text.strip_prefix("\\x").unwrap_or(text);
    let bytes = hex::decode(hex).map_err(|_| ValueError::new("hex bytes", text))?;
    Ok(base64::engine::general_purpose::STANDARD.encode(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn convert(text: &str, inlet_type: InletType) -> Result<Value, ValueError> {
        to_json(Some(text), &inlet_type)
    }

    fn ok(text: &str, inlet_type: InletType) -> Value {
        convert(text, inlet_type).unwrap()
    }

    const TZ: InletType = InletType::Timestamp { with_zone: true };
    const NO_TZ: InletType = InletType::Timestamp { with_zone: false };

    #[test]
    fn nulls_numbers_and_booleans() {
        assert_eq!(to_json(None, &InletType::Long).unwrap(), Value::Null);
        assert_eq!(ok("-32768", InletType::Integer), json!(-32768));
        assert_eq!(
            ok("9223372036854775807", InletType::Long),
            json!(9223372036854775807i64)
        );
        assert_eq!(ok("-9223372036854775808", InletType::Long), json!(i64::MIN));
        assert_eq!(ok("t", InletType::Boolean), json!(true));
        assert_eq!(ok("f", InletType::Boolean), json!(false));
        for (bad, inlet_type) in [
            ("1.5", InletType::Integer),
            ("", InletType::Long),
            ("true", InletType::Boolean),
        ] {
            assert!(convert(bad, inlet_type).is_err(), "{bad}");
        }
    }

    #[test]
    fn floats_are_numbers_except_nan_and_infinities() {
        assert_eq!(ok("1.5", InletType::Double), json!(1.5));
        assert_eq!(ok("0.1", InletType::Double), json!(0.1));
        assert_eq!(ok("-0", InletType::Double), json!(-0.0));
        assert_eq!(ok("1e+300", InletType::Double), json!(1e300));
        assert_eq!(ok("4.9406564584124654e-324", InletType::Double), json!(5e-324));
        // Redshift prints 17 significant digits; the number is the same double.
        assert_eq!(ok("0.10000000000000001", InletType::Double), json!(0.1));
        for special in ["NaN", "Infinity", "-Infinity"] {
            assert_eq!(ok(special, InletType::Double), json!(special));
        }
        for bad in ["inf", "nan", "infinity", "", "1,5"] {
            assert!(convert(bad, InletType::Double).is_err(), "{bad}");
        }
    }

    #[test]
    fn decimals_and_strings_keep_their_text() {
        let decimal = InletType::Decimal {
            precision: Some(38),
            scale: Some(10),
        };
        let exact = "12345678901234567890123456.0123456789";
        assert_eq!(ok(exact, decimal.clone()), json!(exact));
        assert_eq!(ok("NaN", decimal.clone()), json!("NaN"));
        assert_eq!(ok("-Infinity", decimal), json!("-Infinity"));
        assert_eq!(ok("ab   ", InletType::String), json!("ab   "));
        assert_eq!(ok(r#"{"a": [1, 2]}"#, InletType::String), json!(r#"{"a": [1, 2]}"#));
        assert_eq!(ok("P1Y2M3DT4H5M6.5S", InletType::String), json!("P1Y2M3DT4H5M6.5S"));
    }

    #[test]
    fn dates_use_iso_8601_astronomical_years() {
        assert_eq!(ok("2024-05-01", InletType::Date), json!("2024-05-01"));
        assert_eq!(ok("0044-03-15 BC", InletType::Date), json!("-0043-03-15"));
        assert_eq!(ok("0001-01-01 BC", InletType::Date), json!("0000-01-01"));
        assert_eq!(ok("4714-11-24 BC", InletType::Date), json!("-4713-11-24"));
        assert_eq!(ok("0001-01-01", InletType::Date), json!("0001-01-01"));
        assert_eq!(ok("10000-01-01", InletType::Date), json!("+10000-01-01"));
        assert_eq!(ok("5874897-12-31", InletType::Date), json!("+5874897-12-31"));
        assert_eq!(ok("infinity", InletType::Date), json!("infinity"));
        assert_eq!(ok("-infinity", InletType::Date), json!("-infinity"));
        for bad in ["05/01/2024", "2024-5-1", "24-05-01", "2024-05-01 AD", "2024-05-01x", ""] {
            assert!(convert(bad, InletType::Date).is_err(), "{bad}");
        }
    }

    #[test]
    fn timestamps_with_zone_end_in_z_or_an_offset() {
        assert_eq!(ok("2024-05-01 10:00:00.5+00", TZ), json!("2024-05-01T10:00:00.5Z"));
        assert_eq!(ok("2024-05-01 10:00:00+00", TZ), json!("2024-05-01T10:00:00Z"));
        assert_eq!(
            ok("2024-05-01 10:00:00.123456+00", TZ),
            json!("2024-05-01T10:00:00.123456Z")
        );
        assert_eq!(ok("2024-05-01 10:00:00+02", TZ), json!("2024-05-01T10:00:00+02:00"));
        assert_eq!(ok("2024-05-01 10:00:00-03:30", TZ), json!("2024-05-01T10:00:00-03:30"));
        assert_eq!(
            ok("1850-01-01 10:00:00+00:53:28", TZ),
            json!("1850-01-01T10:00:00+00:53:28")
        );
        assert_eq!(ok("0044-03-15 10:00:00+00 BC", TZ), json!("-0043-03-15T10:00:00Z"));
        assert_eq!(ok("infinity", TZ), json!("infinity"));
        assert_eq!(ok("-infinity", TZ), json!("-infinity"));
        for bad in [
            "2024-05-01 10:00:00",
            "2024-05-01T10:00:00Z",
            "2024-05-01 10:00+00",
            "2024-05-01 10:00:00.+00",
        ] {
            assert!(convert(bad, TZ).is_err(), "{bad}");
        }
    }

    #[test]
    fn timestamps_without_zone_get_none() {
        assert_eq!(ok("2024-05-01 10:00:00", NO_TZ), json!("2024-05-01T10:00:00"));
        assert_eq!(
            ok("2024-05-01 10:00:00.000001", NO_TZ),
            json!("2024-05-01T10:00:00.000001")
        );
        assert_eq!(ok("0001-12-31 23:59:59 BC", NO_TZ), json!("0000-12-31T23:59:59"));
        assert_eq!(ok("-infinity", NO_TZ), json!("-infinity"));
        for bad in ["2024-05-01 10:00:00+00", "2024-05-01", "2024-05-01 1:00:00"] {
            assert!(convert(bad, NO_TZ).is_err(), "{bad}");
        }
    }

    #[test]
    fn bytes_become_base64() {
        assert_eq!(ok("\\x0102ff", InletType::Binary), json!("AQL/"));
        assert_eq!(ok("\\x", InletType::Binary), json!(""));
        assert_eq!(ok("616263", InletType::Binary), json!("YWJj"));
        for bad in ["\\x012", "\\001", "zz"] {
            assert!(convert(bad, InletType::Binary).is_err(), "{bad}");
        }
    }

    #[test]
    fn errors_quote_a_bounded_part_of_the_value() {
        let long = "x".repeat(1000);
        let error = convert(&long, InletType::Integer).unwrap_err().to_string();
        assert!(error.starts_with("expected an integer") && error.len() < 120, "{error}");
    }
}
