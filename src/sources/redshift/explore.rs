//! Explore for Amazon Redshift: the same three steps as PostgreSQL's, in SQL that Redshift
//! runs. The catalog is `information_schema` (which Redshift and PostgreSQL both have);
//! privileges are checked by name with `has_table_privilege`; every catalog column is cast
//! to a built-in type so the driver never has to look a type up (its look-up queries use
//! catalog tables Redshift lacks).

use crate::sources::schema::{ColumnInfo, TableEntry, TableKind, TableSchema, object_path};
use crate::sources::table_ref::quote_ident;
use crate::sources::types::redshift_type;
use crate::sources::values::preview_rows;
use crate::sources::{SourceError, SourceErrorKind, TableRef};
use serde_json::{Map, Value};
use tokio_postgres::{Client, Row};

/// The longest identifier Redshift keeps, in bytes.
const MAX_NAME_BYTES: usize = 127;

/// SQL that PostgreSQL has and Redshift does not (or that Redshift limits), matched
/// case-insensitively against every statement this module sends. Tests check the server's
/// statement log against it.
pub const FORBIDDEN_IN_REDSHIFT: &[&str] = &[
    "COPY ",
    "STDOUT",
    "pg_export_snapshot",
    "SET TRANSACTION SNAPSHOT",
    "::reg",
    "format_type",
    "pg_get_",
    "relkind",
    "relispartition",
    "LATERAL",
    "FILTER (",
    "CREATE TEMP",
    "IntervalStyle",
    "bytea_output",
    "extra_float_digits TO 3",
    "has_any_column_privilege",
    "has_column_privilege",
    "array_agg",
    "string_agg",
    "jsonb",
    "DISTINCT ON",
    "ON CONFLICT",
    "RETURNING",
    "FETCH FIRST",
    "generate_series",
    "pg_range",
    "typarray",
];

/// Readable tables and views outside the system schemas (`pg_*`: `pg_catalog`,
/// `pg_internal`, `pg_automv`, `pg_temp_N`, ...), optionally of one schema ($1, or NULL).
const LIST_TABLES: &str = "\
SELECT table_schema::text, table_name::text, table_type::text
FROM information_schema.tables
WHERE table_schema::text <> 'information_schema' AND substring(table_schema::text, 1, 3) <> 'pg_'
  AND ($1::text IS NULL OR table_schema::text = $1::text)
  AND has_schema_privilege(table_schema::text, 'usage')
  AND has_table_privilege(quote_ident(table_schema::text) || '.' || quote_ident(table_name::text), 'select')
ORDER BY 1, 2";

/// The columns of one readable table or view ($1 schema, $2 name).
const DESCRIBE: &str = "\
SELECT column_name::text, data_type::text, character_maximum_length::int4,
       numeric_precision::int4, numeric_scale::int4, is_nullable::text
FROM information_schema.columns
WHERE table_schema::text = $1::text AND table_name::text = $2::text
  AND has_schema_privilege(table_schema::text, 'usage')
  AND has_table_privilege(quote_ident(table_schema::text) || '.' || quote_ident(table_name::text), 'select')
ORDER BY ordinal_position";

/// Session settings for exact, unambiguous text values, as far as Redshift has them:
/// it lacks IntervalStyle and bytea_output, and allows extra_float_digits up to 2, which
/// is enough for a double to read back to the same value (see [`select_item`] for real).
pub(crate) const PREVIEW_SESSION: &str =
    "SET timezone TO 'UTC'; SET datestyle TO 'ISO, MDY'; SET extra_float_digits TO 2";

/// The tables and views the user may read, system schemas excluded, limited to `schema`
/// when given (the connection's `schema` param), ordered by schema and name.
pub async fn list_tables(client: &Client, schema: Option<&str>) -> Result<Vec<TableEntry>, SourceError> {
    let rows = client
        .query(LIST_TABLES, &[&schema])
        .await
        .map_err(|e| SourceError::from_query(&e, "listing tables"))?;
    let entry = |row: &Row| {
        let kind = match row.get::<_, &str>(2) {
            "VIEW" => TableKind::View,
            "FOREIGN" | "FOREIGN TABLE" => TableKind::ForeignTable,
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

/// The columns of `table`; a table that does not exist or that the user may not read is
/// [`SourceErrorKind::TableNotFound`], alike. Late-binding views have no columns in
/// `information_schema`, so they are not found either.
pub async fn describe(client: &Client, table: &TableRef) -> Result<TableSchema, SourceError> {
    let path = object_path(table);
    if !table.fits(MAX_NAME_BYTES) {
        let message = format!("table {path} does not exist: Redshift names are at most {MAX_NAME_BYTES} bytes long");
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
    let columns = rows.iter().map(column).collect();
    Ok(TableSchema {
        table: table.clone(),
        columns,
    })
}

fn column(row: &Row) -> ColumnInfo {
    let data_type: String = row.get(1);
    let (length, precision, scale): (Option<i32>, Option<i32>, Option<i32>) = (row.get(2), row.get(3), row.get(4));
    ColumnInfo {
        name: row.get(0),
        inlet_type: redshift_type(&data_type, precision, scale),
        original_type: original_type(&data_type, length, precision, scale),
        source_type: data_type.clone(),
        nullable: row.get::<_, &str>(5) == "YES",
        position: None,
    }
}

/// The type as written in DDL: `character varying(20)`, `numeric(18,4)`, `bigint`.
fn original_type(data_type: &str, length: Option<i32>, precision: Option<i32>, scale: Option<i32>) -> String {
    let sized = [
        "character",
        "character varying",
        "varbyte",
        "binary varying",
        "varbinary",
    ];
    match (length, precision, scale) {
        (Some(length), _, _) if sized.contains(&data_type) => format!("{data_type}({length})"),
        (_, Some(precision), Some(scale)) if data_type == "numeric" => format!("numeric({precision},{scale})"),
        _ => data_type.to_string(),
    }
}

/// The first `limit` rows of the described columns: a plain `SELECT ... LIMIT`, read with
/// the simple query protocol (text values) after [`PREVIEW_SESSION`].
pub async fn preview(
    client: &Client,
    schema: &TableSchema,
    limit: usize,
) -> Result<Vec<Map<String, Value>>, SourceError> {
    let columns: Vec<String> = schema.columns.iter().map(select_item).collect();
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

/// A column of the select list. Redshift prints a `real` with 8 significant digits at most
/// (`extra_float_digits` stops at 2), one short of what every float4 needs to read back, so
/// a `real` is read as `double precision`: an exact widening, printed with all 17.
pub(crate) fn select_item(column: &ColumnInfo) -> String {
    let name = quote_ident(&column.name);
    if column.original_type == "real" {
        format!("CAST({name} AS double precision)")
    } else {
        name
    }
}

/// The declared primary key's columns, in key order (Redshift records the constraint
/// without enforcing it).
const PRIMARY_KEY: &str = "\
SELECT kcu.column_name::text
FROM information_schema.table_constraints tc
JOIN information_schema.key_column_usage kcu
  ON kcu.constraint_name = tc.constraint_name AND kcu.constraint_schema = tc.constraint_schema
 AND kcu.table_name = tc.table_name
WHERE tc.constraint_type = 'PRIMARY KEY' AND tc.table_schema = $1 AND tc.table_name = $2
ORDER BY kcu.ordinal_position";

/// The columns of `table`'s declared primary key, in key order; empty when it has none.
pub async fn primary_key(client: &Client, table: &TableRef) -> Result<Vec<String>, SourceError> {
    let rows = client
        .query(PRIMARY_KEY, &[&table.schema, &table.table])
        .await
        .map_err(|e| SourceError::from_query(&e, "reading the table's primary key"))?;
    Ok(rows.iter().map(|r| r.get(0)).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn original_types_carry_their_sizes() {
        assert_eq!(
            original_type("character varying", Some(20), None, None),
            "character varying(20)"
        );
        assert_eq!(original_type("character", Some(5), None, None), "character(5)");
        assert_eq!(original_type("numeric", None, Some(18), Some(4)), "numeric(18,4)");
        assert_eq!(original_type("integer", None, Some(32), Some(0)), "integer");
        assert_eq!(original_type("super", None, None, None), "super");
    }

    #[test]
    fn own_sql_avoids_the_forbidden_list() {
        for sql in [LIST_TABLES, DESCRIBE, PREVIEW_SESSION] {
            let lower = sql.to_lowercase();
            for forbidden in FORBIDDEN_IN_REDSHIFT {
                assert!(!lower.contains(&forbidden.to_lowercase()), "{forbidden} in {sql}");
            }
        }
    }
}
