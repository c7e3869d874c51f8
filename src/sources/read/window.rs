//! A [`WindowFilter`] as SQL: `"col" >= <start> AND "col" < <end>`, each bound a literal of
//! the column's own type, so the comparison is the column's (an index on it serves) and
//! nothing is converted row by row. Bounds keep every microsecond: rows that share the
//! start instant are all inside, rows at the end instant all outside.
//!
//! - `timestamp with time zone`: the instant in UTC, `'2024-05-01 10:00:00.000001+00'`.
//! - `timestamp without time zone`: the instant's wall time in the window's time zone.
//! - `date`: the date of the bound's wall time in that zone, so a day belongs to the
//!   window whose start falls on or before it, and to exactly one window.
//!
//! `CAST(... AS ...)` rather than `::` so that Redshift and PostgreSQL read the same text.

use chrono::{DateTime, Datelike, FixedOffset, NaiveDateTime};
use chrono_tz::Tz;

use super::WindowFilter;
use crate::sources::schema::TableSchema;
use crate::sources::table_ref::quote_ident;
use crate::sources::types::InletType;
use crate::sources::{SourceError, SourceErrorKind};

/// The time zone a window's wall-clock bounds are read in: an IANA name (daylight
/// saving time included) or a fixed offset from UTC such as `+02:00`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Zone {
    Named(Tz),
    Fixed(FixedOffset),
}

impl Zone {
    /// Parses `Europe/Paris`, `UTC`, `Z`, `+02:00`, `-0530` or `+05`.
    pub fn parse(text: &str) -> Option<Zone> {
        let text = text.trim();
        if text.eq_ignore_ascii_case("z") {
            return Some(Zone::Fixed(FixedOffset::east_opt(0)?));
        }
        if let Ok(named) = text.parse::<Tz>() {
            return Some(Zone::Named(named));
        }
        let sign = match text.chars().next()? {
            '+' => 1,
            '-' => -1,
            _ => return None,
        };
        let digits: String = text[1..].chars().filter(|c| *c != ':').collect();
        if !(digits.len() == 2 || digits.len() == 4) || !digits.chars().all(|c| c.is_ascii_digit()) {
            return None;
        }
        let hours: i32 = digits[..2].parse().ok()?;
        let minutes: i32 = if digits.len() == 4 {
            digits[2..].parse().ok()?
        } else {
            0
        };
        if hours > 14 || minutes >= 60 {
            return None;
        }
        FixedOffset::east_opt(sign * (hours * 3600 + minutes * 60)).map(Zone::Fixed)
    }

    /// The wall-clock time in this zone of the UTC instant `utc`.
    fn wall_time(self, utc: NaiveDateTime) -> NaiveDateTime {
        match self {
            Zone::Named(zone) => utc.and_utc().with_timezone(&zone).naive_local(),
            Zone::Fixed(offset) => utc.and_utc().with_timezone(&offset).naive_local(),
        }
    }
}

/// How a bound is written for the column's type.
#[derive(Clone, Copy)]
enum Bound {
    Instant,
    WallTime(Zone),
    Date(Zone),
}

/// The predicate selecting `window` of `schema`'s table, or `None` when both bounds are
/// open. The column need not be among the columns read.
pub fn predicate(window: &WindowFilter, schema: &TableSchema) -> Result<Option<String>, SourceError> {
    let Some(column) = schema.columns.iter().find(|c| c.name == window.column) else {
        let message = format!(
            "{} has no column `{}` to select a window by",
            schema.table, window.column
        );
        return Err(SourceError::new(SourceErrorKind::ColumnNotFound, message));
    };
    let unsupported = |message: String| SourceError::new(SourceErrorKind::Unsupported, message);
    let zone = Zone::parse(&window.timezone).ok_or_else(|| {
        unsupported(format!(
            "`{}` is not a time zone: use an IANA name (such as UTC or Europe/Paris) or an offset such as +02:00",
            window.timezone
        ))
    })?;
    let bound = match column.inlet_type {
        InletType::Timestamp { with_zone: true } => Bound::Instant,
        InletType::Timestamp { with_zone: false } => Bound::WallTime(zone),
        InletType::Date => Bound::Date(zone),
        _ => {
            return Err(unsupported(format!(
                "{}.{} is {}: windows need a date or timestamp column",
                schema.table, column.name, column.original_type
            )));
        }
    };
    let name = quote_ident(&column.name);
    let mut parts = Vec::new();
    if let Some(start) = window.start {
        parts.push(format!("{name} >= {}", literal(start, bound)?));
    }
    if let Some(end) = window.end {
        parts.push(format!("{name} < {}", literal(end, bound)?));
    }
    Ok((!parts.is_empty()).then(|| parts.join(" AND ")))
}

/// `CAST('<text>' AS <type>)` for a bound of `micros` since the epoch.
fn literal(micros: i64, bound: Bound) -> Result<String, SourceError> {
    let instant = DateTime::from_timestamp_micros(micros).map(|t| t.naive_utc());
    let wall = match (instant, bound) {
        (Some(t), Bound::Instant) => Some(t),
        (Some(t), Bound::WallTime(zone) | Bound::Date(zone)) => Some(zone.wall_time(t)),
        (None, _) => None,
    };
    let Some(wall) = wall.filter(|t| (1..=9999).contains(&t.year())) else {
        let message = format!("the window bound {micros} (microseconds since 1970) is outside the years 0001 to 9999");
        return Err(SourceError::new(SourceErrorKind::Unsupported, message));
    };
    Ok(match bound {
        Bound::Instant => format!(
            "CAST('{}+00' AS timestamp with time zone)",
            wall.format("%Y-%m-%d %H:%M:%S%.6f")
        ),
        Bound::WallTime(_) => format!("CAST('{}' AS timestamp)", wall.format("%Y-%m-%d %H:%M:%S%.6f")),
        Bound::Date(_) => format!("CAST('{}' AS date)", wall.format("%Y-%m-%d")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sources::TableRef;
    use crate::sources::schema::ColumnInfo;

    fn schema() -> TableSchema {
        let column = |name: &str, inlet_type: InletType, original: &str| ColumnInfo {
            name: name.into(),
            inlet_type,
            original_type: original.into(),
            source_type: original.into(),
            nullable: true,
            position: None,
        };
        TableSchema {
            table: TableRef {
                schema: "public".into(),
                table: "t".into(),
            },
            columns: vec![
                column("at", InletType::Timestamp { with_zone: true }, "timestamptz"),
                column("local", InletType::Timestamp { with_zone: false }, "timestamp"),
                column("day", InletType::Date, "date"),
                column("n", InletType::Long, "int8"),
            ],
        }
    }

    fn window(column: &str, start: Option<i64>, end: Option<i64>, timezone: &str) -> WindowFilter {
        let (column, timezone) = (column.to_string(), timezone.to_string());
        WindowFilter {
            column,
            start,
            end,
            timezone,
        }
    }

    // 2024-05-01 22:30:00.000001 UTC
    const T: i64 = 1_714_602_600_000_001;

    #[test]
    fn bounds_are_literals_of_the_column_type() {
        let sql = |w: WindowFilter| predicate(&w, &schema()).unwrap();
        assert_eq!(
            sql(window("at", Some(T), Some(T + 1), "Europe/Paris")).unwrap(),
            "\"at\" >= CAST('2024-05-01 22:30:00.000001+00' AS timestamp with time zone) \
             AND \"at\" < CAST('2024-05-01 22:30:00.000002+00' AS timestamp with time zone)"
        );
        assert_eq!(
            sql(window("local", None, Some(T), "Europe/Paris")).unwrap(),
            "\"local\" < CAST('2024-05-02 00:30:00.000001' AS timestamp)"
        );
        assert_eq!(
            sql(window("local", Some(T), None, "UTC")).unwrap(),
            "\"local\" >= CAST('2024-05-01 22:30:00.000001' AS timestamp)"
        );
        assert_eq!(
            sql(window("day", Some(T), None, "Europe/Paris")).unwrap(),
            "\"day\" >= CAST('2024-05-02' AS date)"
        );
        assert_eq!(sql(window("day", None, None, "UTC")), None);
    }

    #[test]
    fn unusable_windows_are_errors() {
        let kind = |w: WindowFilter| predicate(&w, &schema()).unwrap_err().kind;
        assert_eq!(
            kind(window("nope", Some(T), None, "UTC")),
            SourceErrorKind::ColumnNotFound
        );
        assert_eq!(kind(window("n", Some(T), None, "UTC")), SourceErrorKind::Unsupported);
        assert_eq!(
            kind(window("at", Some(T), None, "Mars/Olympus")),
            SourceErrorKind::Unsupported
        );
        assert_eq!(
            kind(window("at", Some(i64::MIN), None, "UTC")),
            SourceErrorKind::Unsupported
        );
    }
}
