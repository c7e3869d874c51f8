//! Explore for PostgreSQL (10 or later): the tables a user may read, a table's columns
//! with their Inlet types, and a preview of its first rows.

use crate::sources::schema::{ColumnInfo, TableEntry, TableKind, TableSchema, object_path};
use crate::sources::table_ref::quote_ident;
use crate::sources::types::{InletType, postgres_type};
use crate::sources::values::preview_rows;
use crate::sources::{SourceError, SourceErrorKind, TableRef};
use serde_json::{Map, Value};
use tokio_postgres::{Client, Row};

/// The longest identifier PostgreSQL keeps, in bytes (NAMEDATALEN - 1).
const MAX_NAME_BYTES: usize = 63;

/// Every readable table, view, materialized view, partitioned table (not its partitions)
/// and foreign table outside the system schemas. A relation counts as readable when the
/// user may use its schema and select from it or from any of its columns. Schema names
/// starting with `pg_` are reserved for the system (`pg_catalog`, `pg_toast`, `pg_temp_N`).
const LIST_TABLES: &str = "\
SELECT n.nspname::text, c.relname::text, c.relkind::text
FROM pg_catalog.pg_class c
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'v', 'm', 'p', 'f')
  AND NOT c.relispartition
  AND n.nspname <> 'information_schema' AND left(n.nspname, 3) <> 'pg_'
  AND has_schema_privilege(n.oid, 'USAGE')
  AND (has_table_privilege(c.oid, 'SELECT') OR has_any_column_privilege(c.oid, 'SELECT'))
ORDER BY 1, 2";

/// The readable columns of one readable relation ($1 schema, $2 name), each with the chain
/// of types it is made of: `walk` follows a domain to its base type and an array to its
/// element type (a domain's typmod stands in when the column has none), one row per step.
/// `rel` LEFT JOINs the rest so that a relation without readable columns still answers.
const DESCRIBE: &str = "\
WITH RECURSIVE rel AS (
    SELECT c.oid FROM pg_catalog.pg_class c
    JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = $1 AND c.relname = $2 AND c.relkind IN ('r', 'v', 'm', 'p', 'f')
      AND has_schema_privilege(n.oid, 'USAGE')
      AND (has_table_privilege(c.oid, 'SELECT') OR has_any_column_privilege(c.oid, 'SELECT'))
), cols AS (
    SELECT a.attnum, a.attname, format_type(a.atttypid, a.atttypmod) AS original,
           NOT a.attnotnull AS nullable, a.atttypid, a.atttypmod
    FROM rel JOIN pg_catalog.pg_attribute a ON a.attrelid = rel.oid
    WHERE a.attnum > 0 AND NOT a.attisdropped AND has_column_privilege(rel.oid, a.attnum, 'SELECT')
), walk AS (
    SELECT attnum, 0 AS depth, atttypid AS typid, atttypmod AS typmod FROM cols
  UNION ALL
    SELECT w.attnum, w.depth + 1,
           CASE WHEN t.typtype = 'd' THEN t.typbasetype ELSE t.typelem END,
           CASE WHEN t.typtype = 'd' AND w.typmod < 0 THEN t.typtypmod ELSE w.typmod END
    FROM walk w
    JOIN pg_catalog.pg_type t ON t.oid = w.typid
    LEFT JOIN pg_catalog.pg_type e ON e.oid = t.typelem
    WHERE t.typtype = 'd' OR e.typarray = t.oid
)
SELECT c.attnum::int4, c.attname::text, c.original, c.nullable, t.typname::text, tn.nspname::text,
       CASE WHEN t.typtype = 'd' THEN 'domain' WHEN e.typarray = t.oid THEN 'array' ELSE 'base' END,
       e.typdelim::text, w.typmod, t.typtype::text
FROM rel
LEFT JOIN cols c ON true
LEFT JOIN walk w ON w.attnum = c.attnum
LEFT JOIN pg_catalog.pg_type t ON t.oid = w.typid
LEFT JOIN pg_catalog.pg_namespace tn ON tn.oid = t.typnamespace
LEFT JOIN pg_catalog.pg_type e ON e.oid = t.typelem
ORDER BY c.attnum, w.depth";

/// Session settings that make every value's text form exact and unambiguous (also used
/// by reads, whose `::text` columns must match what previews show).
pub(crate) const PREVIEW_SESSION: &str = "SET TimeZone TO 'UTC'; SET DateStyle TO 'ISO, YMD'; \
SET IntervalStyle TO 'iso_8601'; SET extra_float_digits TO 3; SET bytea_output TO 'hex'";

/// The tables, views, materialized views, partitioned tables and foreign tables the user
/// may read, system schemas excluded, ordered by schema and name.
pub async fn list_tables(client: &Client) -> Result<Vec<TableEntry>, SourceError> {
    let rows = client
        .query(LIST_TABLES, &[])
        .await
        .map_err(|e| SourceError::from_query(&e, "listing tables"))?;
    let entry = |row: &Row| {
        let kind = match row.get::<_, &str>(2) {
            "v" => TableKind::View,
            "m" => TableKind::MaterializedView,
            "p" => TableKind::PartitionedTable,
            "f" => TableKind::ForeignTable,
            _ => TableKind::Table,
        };
        TableEntry {
            table: TableRef {
                schema: row.get(0),
                table: row.get(1),
            },
            kind,
        }
    };
    Ok(rows.iter().map(entry).collect())
}

/// The columns of `table` the user may read; a table that does not exist or that the user
/// may not read is [`SourceErrorKind::TableNotFound`], alike, so as not to reveal which.
pub async fn describe(client: &Client, table: &TableRef) -> Result<TableSchema, SourceError> {
    let path = object_path(table);
    if !table.fits(MAX_NAME_BYTES) {
        let message = format!("table {path} does not exist: PostgreSQL names are at most {MAX_NAME_BYTES} bytes long");
        return Err(SourceError::new(SourceErrorKind::TableNotFound, message));
    }
    let rows = client
        .query(DESCRIBE, &[&table.schema, &table.table])
        .await
        .map_err(|e| SourceError::from_query(&e, &format!("describing {path}")))?;
    if rows.is_empty() {
        let message = format!("table {path} does not exist, or you may not read it");
        return Err(SourceError::new(SourceErrorKind::TableNotFound, message));
    }
    let mut columns = Vec::new();
    let mut rest = rows.as_slice();
    while let Some(first) = rest.first() {
        let Some(attnum) = first.get::<_, Option<i32>>(0) else {
            break;
        };
        let count = rest
            .iter()
            .take_while(|row| row.get::<_, Option<i32>>(0) == Some(attnum))
            .count();
        let steps: Vec<Step> = rest[..count].iter().map(Step::from_row).collect();
        columns.push(ColumnInfo {
            name: first.get(1),
            inlet_type: resolve(&steps),
            original_type: first.get(2),
            source_type: wire_type(&steps),
            nullable: first.get(3),
            position: Some(attnum),
        });
        rest = &rest[count..];
    }
    Ok(TableSchema {
        table: table.clone(),
        columns,
    })
}

/// The first `limit` rows of the described columns, read with the simple query protocol
/// (text values, no prepared statement, so any type can be read) after [`PREVIEW_SESSION`].
pub async fn preview(
    client: &Client,
    schema: &TableSchema,
    limit: usize,
) -> Result<Vec<Map<String, Value>>, SourceError> {
    let columns: Vec<String> = schema.columns.iter().map(|c| quote_ident(&c.name)).collect();
    let from = schema.table.quoted();
    let sql = format!(
        "{PREVIEW_SESSION}; SELECT {} FROM {from} LIMIT {limit}",
        columns.join(", ")
    );
    let what = format!("previewing {}", object_path(&schema.table));
    let messages = client
        .simple_query(&sql)
        .await
        .map_err(|e| SourceError::from_query(&e, &what))?;
    preview_rows(&messages, &schema.columns)
}

/// One type on the way from a column's declared type to the base type it is made of.
struct Step {
    kind: String,
    typname: String,
    namespace: String,
    array_delimiter: Option<String>,
    typmod: i32,
    typtype: String,
}

impl Step {
    fn from_row(row: &Row) -> Step {
        Step {
            typname: row.get(4),
            namespace: row.get(5),
            kind: row.get(6),
            array_delimiter: row.get(7),
            typmod: row.get(8),
            typtype: row.get(9),
        }
    }
}

/// A domain is its base type; an array is an array of its element; a base type is looked
/// up in the table only when it is PostgreSQL's own (`pg_catalog`), so a user type that
/// happens to be called `int4` is not mistaken for one.
fn resolve(steps: &[Step]) -> InletType {
    let Some((step, rest)) = steps.split_first() else {
        return InletType::String;
    };
    match step.kind.as_str() {
        "domain" => resolve(rest),
        "array" if step.array_delimiter.as_deref() == Some(",") => InletType::Array(Box::new(resolve(rest))),
        // `box` separates array elements with `;`: such arrays keep their text form.
        "array" => InletType::String,
        _ if step.namespace == "pg_catalog" => postgres_type(&step.typname, step.typmod),
        _ => InletType::String,
    }
}

/// [`ColumnInfo::source_type`]: the base type under domains, `_` per array level, `enum`
/// for enums, `schema.name` for other types outside `pg_catalog`.
fn wire_type(steps: &[Step]) -> String {
    let Some((step, rest)) = steps.split_first() else {
        return String::new();
    };
    match step.kind.as_str() {
        "domain" => wire_type(rest),
        "array" => format!("_{}", wire_type(rest)),
        _ if step.namespace == "pg_catalog" => step.typname.clone(),
        _ if step.typtype == "e" => "enum".to_string(),
        _ => format!("{}.{}", step.namespace, step.typname),
    }
}
