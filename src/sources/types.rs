//! Inlet's column types, the one table per source that maps a source type to them, and the
//! explore column shape (api.md §7) built from them.
//!
//! Every source type maps to exactly one [`InletType`]. A type Inlet has no exact
//! counterpart for (json, interval, time, inet, enums, Redshift `super`, ...) is a
//! [`InletType::String`] holding the source's own text form, unchanged; `docs/types.md`
//! lists each one. Nothing is ever rounded, truncated or re-encoded on the way.

use serde_json::{Map, Value, json};

/// The type of a column as Inlet sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum InletType {
    /// 32-bit (or smaller) signed integer.
    Integer,
    /// 64-bit signed integer.
    Long,
    /// IEEE 754 float (4 or 8 bytes at the source).
    Double,
    /// Exact decimal; `None` when the source column leaves it unconstrained.
    Decimal { precision: Option<u32>, scale: Option<i32> },
    /// true / false.
    Boolean,
    /// A calendar date without time.
    Date,
    /// A date and time; `with_zone` when the source stores an instant (timestamptz).
    Timestamp { with_zone: bool },
    /// Text: either a text type, or the exact text form of a type Inlet has no peer for.
    String,
    /// Bytes.
    Binary,
    /// An array of elements of the boxed type (PostgreSQL arrays of any dimension).
    Array(Box<InletType>),
}

const DECIMAL: InletType = InletType::Decimal {
    precision: None,
    scale: None,
};
const TIMESTAMP: InletType = InletType::Timestamp { with_zone: false };
const TIMESTAMPTZ: InletType = InletType::Timestamp { with_zone: true };

/// PostgreSQL (`pg_catalog` type names, as in `pg_type.typname`) → Inlet. Types not in the
/// table (enums, composites, ranges, extension types, ...) are [`InletType::String`] with
/// their text form; domains take their base type's row; arrays are [`InletType::Array`] of
/// their element's row. The string rows are listed so the table documents them.
pub const POSTGRES_TYPES: &[(&str, InletType)] = &[
    ("int2", InletType::Integer),
    ("int4", InletType::Integer),
    ("int8", InletType::Long),
    ("float4", InletType::Double),
    ("float8", InletType::Double),
    ("numeric", DECIMAL),
    ("bool", InletType::Boolean),
    ("date", InletType::Date),
    ("timestamp", TIMESTAMP),
    ("timestamptz", TIMESTAMPTZ),
    ("bytea", InletType::Binary),
    ("text", InletType::String),
    ("varchar", InletType::String),
    ("bpchar", InletType::String),
    ("char", InletType::String),
    ("name", InletType::String),
    ("uuid", InletType::String),
    ("json", InletType::String),
    ("jsonb", InletType::String),
    ("xml", InletType::String),
    ("inet", InletType::String),
    ("cidr", InletType::String),
    ("macaddr", InletType::String),
    ("macaddr8", InletType::String),
    ("interval", InletType::String),
    ("time", InletType::String),
    ("timetz", InletType::String),
    ("money", InletType::String),
    ("oid", InletType::String),
    ("bit", InletType::String),
    ("varbit", InletType::String),
    ("tsvector", InletType::String),
];

/// Amazon Redshift (`information_schema.columns.data_type`) → Inlet. Names not in the
/// table are [`InletType::String`] with their text form.
pub const REDSHIFT_TYPES: &[(&str, InletType)] = &[
    ("smallint", InletType::Integer),
    ("integer", InletType::Integer),
    ("bigint", InletType::Long),
    ("real", InletType::Double),
    ("double precision", InletType::Double),
    ("numeric", DECIMAL),
    ("boolean", InletType::Boolean),
    ("character", InletType::String),
    ("character varying", InletType::String),
    ("\"char\"", InletType::String),
    ("text", InletType::String),
    ("date", InletType::Date),
    ("timestamp without time zone", TIMESTAMP),
    ("timestamp with time zone", TIMESTAMPTZ),
    ("time without time zone", InletType::String),
    ("time with time zone", InletType::String),
    ("interval year to month", InletType::String),
    ("interval day to second", InletType::String),
    // JSON text, exactly as Redshift prints it (not parsed, so never re-encoded).
    ("super", InletType::String),
    ("varbyte", InletType::Binary),
    ("binary varying", InletType::Binary),
    ("varbinary", InletType::Binary),
    // Hex EWKB, exactly as Redshift prints it: lossless and readable by GIS tools.
    ("geometry", InletType::String),
    ("geography", InletType::String),
    // JSON (sparse) or Base64 (dense) text of the sketch, as Redshift prints it.
    ("hllsketch", InletType::String),
];

fn lookup(table: &[(&str, InletType)], name: &str) -> InletType {
    let found = table.iter().find(|(source, _)| *source == name);
    found.map_or(InletType::String, |(_, inlet)| inlet.clone())
}

/// The Inlet type of a `pg_catalog` base type; `typmod` carries numeric's precision and
/// scale (`atttypmod`, -1 when unconstrained).
pub fn postgres_type(typname: &str, typmod: i32) -> InletType {
    match lookup(POSTGRES_TYPES, typname) {
        InletType::Decimal { .. } if typmod >= 4 => {
            // PostgreSQL's numeric typmod: ((precision << 16) | (scale & 0x7ff)) + 4, the
            // scale an 11-bit signed number (negative scales exist since PostgreSQL 15).
            let packed = typmod - 4;
            let precision = Some(((packed >> 16) & 0xffff) as u32);
            let scale = Some(((packed & 0x7ff) ^ 1024) - 1024);
            InletType::Decimal { precision, scale }
        }
        other => other,
    }
}

/// The Inlet type of a Redshift column from `information_schema.columns`.
pub fn redshift_type(data_type: &str, precision: Option<i32>, scale: Option<i32>) -> InletType {
    match lookup(REDSHIFT_TYPES, data_type) {
        InletType::Decimal { .. } => InletType::Decimal {
            precision: precision.and_then(|p| u32::try_from(p).ok()),
            scale,
        },
        other => other,
    }
}

/// The explore column of api.md §7, of a column `name` of `inlet_type` whose source type
/// is `original_type`: `name`, `type`, `meta:xdmType` for dates and timestamps, `items`
/// for arrays, `xdm`, and `meta` with `originalType` (and a decimal's `precision`/`scale`
/// when the source declares them). `schema::column_json` gives it for a column.
pub fn typed_column_json(name: &str, inlet_type: &InletType, original_type: &str) -> Value {
    let mut out = Map::new();
    out.insert("name".into(), name.into());
    out.extend(type_json(inlet_type));
    out.insert("xdm".into(), xdm_json(inlet_type));
    let mut meta = Map::new();
    meta.insert("originalType".into(), original_type.into());
    if let InletType::Decimal { precision, scale } = innermost(inlet_type) {
        if let Some(precision) = precision {
            meta.insert("precision".into(), (*precision).into());
        }
        if let Some(scale) = scale {
            meta.insert("scale".into(), (*scale).into());
        }
    }
    out.insert("meta".into(), Value::Object(meta));
    Value::Object(out)
}

fn innermost(inlet_type: &InletType) -> &InletType {
    match inlet_type {
        InletType::Array(element) => innermost(element),
        other => other,
    }
}

/// `type` (plus `meta:xdmType` or `items`) of a column or an array element.
fn type_json(inlet_type: &InletType) -> Map<String, Value> {
    let (name, xdm_type) = match inlet_type {
        InletType::Integer => ("integer", None),
        InletType::Long => ("long", None),
        InletType::Double => ("double", None),
        InletType::Decimal { .. } => ("decimal", None),
        InletType::Boolean => ("boolean", None),
        InletType::Date => ("string", Some("date")),
        InletType::Timestamp { .. } => ("string", Some("date-time")),
        InletType::String => ("string", None),
        InletType::Binary => ("binary", None),
        InletType::Array(_) => ("array", None),
    };
    let mut out = Map::new();
    out.insert("type".into(), name.into());
    if let Some(xdm_type) = xdm_type {
        out.insert("meta:xdmType".into(), xdm_type.into());
    }
    if let InletType::Array(element) = inlet_type {
        out.insert("items".into(), Value::Object(type_json(element)));
    }
    out
}

/// The XDM (JSON Schema) type of a column or an array element.
fn xdm_json(inlet_type: &InletType) -> Value {
    match inlet_type {
        InletType::Integer | InletType::Long => json!({"type": "integer"}),
        InletType::Double | InletType::Decimal { .. } => json!({"type": "number"}),
        InletType::Boolean => json!({"type": "boolean"}),
        InletType::Date => json!({"type": "string", "format": "date"}),
        InletType::Timestamp { .. } => json!({"type": "string", "format": "date-time"}),
        InletType::String => json!({"type": "string"}),
        InletType::Binary => json!({"type": "string", "contentEncoding": "base64"}),
        InletType::Array(element) => json!({"type": "array", "items": xdm_json(element)}),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn column(inlet_type: InletType, original: &str) -> Value {
        typed_column_json("c", &inlet_type, original)
    }

    #[test]
    fn postgres_table_and_numeric_typmods() {
        assert_eq!(postgres_type("int8", -1), InletType::Long);
        assert_eq!(postgres_type("citext", -1), InletType::String);
        let decimal = |precision, scale| InletType::Decimal { precision, scale };
        assert_eq!(postgres_type("numeric", -1), decimal(None, None));
        // numeric(38,10), numeric(5,0), numeric(3,-2): typmods as PostgreSQL stores them.
        assert_eq!(
            postgres_type("numeric", (38 << 16 | 10) + 4),
            decimal(Some(38), Some(10))
        );
        assert_eq!(postgres_type("numeric", (5 << 16) + 4), decimal(Some(5), Some(0)));
        assert_eq!(
            postgres_type("numeric", (3 << 16 | 0x7fe) + 4),
            decimal(Some(3), Some(-2))
        );
        let names: Vec<_> = POSTGRES_TYPES.iter().map(|(name, _)| name).collect();
        let unique: std::collections::BTreeSet<_> = names.iter().collect();
        assert_eq!(names.len(), unique.len(), "a type is listed twice");
    }

    #[test]
    fn redshift_table() {
        assert_eq!(redshift_type("bigint", Some(64), Some(0)), InletType::Long);
        let decimal = InletType::Decimal {
            precision: Some(18),
            scale: Some(4),
        };
        assert_eq!(redshift_type("numeric", Some(18), Some(4)), decimal);
        assert_eq!(redshift_type("varbyte", None, None), InletType::Binary);
        assert_eq!(redshift_type("super", None, None), InletType::String);
        assert_eq!(redshift_type("something new", None, None), InletType::String);
        assert_eq!(redshift_type("timestamp with time zone", None, None), TIMESTAMPTZ);
    }

    #[test]
    fn column_shapes_match_the_contract() {
        let long = json!({"name": "c", "type": "long", "xdm": {"type": "integer"}, "meta": {"originalType": "bigint"}});
        assert_eq!(column(InletType::Long, "bigint"), long);
        let placed_at = json!({"name": "c", "type": "string", "meta:xdmType": "date-time",
            "xdm": {"type": "string", "format": "date-time"}, "meta": {"originalType": "timestamp with time zone"}});
        assert_eq!(column(TIMESTAMPTZ, "timestamp with time zone"), placed_at);
        let date = json!({"name": "c", "type": "string", "meta:xdmType": "date",
            "xdm": {"type": "string", "format": "date"}, "meta": {"originalType": "date"}});
        assert_eq!(column(InletType::Date, "date"), date);
        let decimal = InletType::Decimal {
            precision: Some(12),
            scale: Some(2),
        };
        let amount = json!({"name": "c", "type": "decimal", "xdm": {"type": "number"},
            "meta": {"originalType": "numeric(12,2)", "precision": 12, "scale": 2}});
        assert_eq!(column(decimal, "numeric(12,2)"), amount);
        let binary = json!({"name": "c", "type": "binary", "xdm": {"type": "string", "contentEncoding": "base64"},
            "meta": {"originalType": "bytea"}});
        assert_eq!(column(InletType::Binary, "bytea"), binary);
    }

    #[test]
    fn arrays_nest_items() {
        let dates = InletType::Array(Box::new(InletType::Date));
        let expected = json!({"name": "c", "type": "array", "items": {"type": "string", "meta:xdmType": "date"},
            "xdm": {"type": "array", "items": {"type": "string", "format": "date"}},
            "meta": {"originalType": "date[]"}});
        assert_eq!(column(dates, "date[]"), expected);
        let decimal = InletType::Decimal {
            precision: Some(5),
            scale: Some(1),
        };
        let nested = InletType::Array(Box::new(InletType::Array(Box::new(decimal))));
        let expected = json!({"name": "c", "type": "array", "items": {"type": "array", "items": {"type": "decimal"}},
            "xdm": {"type": "array", "items": {"type": "array", "items": {"type": "number"}}},
            "meta": {"originalType": "d5[]", "precision": 5, "scale": 1}});
        assert_eq!(column(nested, "d5[]"), expected);
    }
}
