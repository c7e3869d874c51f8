//! What explore finds in a source: its tables (the `objectType=root` list) and a table's
//! columns, with the JSON shapes api.md §7 gives them.

use crate::sources::TableRef;
use crate::sources::table_ref::quote_ident;
use crate::sources::types::InletType;
use serde_json::{Value, json};

/// The kind of relation a listed table is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TableKind {
    /// An ordinary table.
    Table,
    /// A view.
    View,
    /// A materialized view (PostgreSQL).
    MaterializedView,
    /// The parent of a partitioned table (PostgreSQL); its partitions are not listed.
    PartitionedTable,
    /// A foreign table.
    ForeignTable,
}

impl TableKind {
    /// The name shown in an entry's `meta.kind`.
    pub fn name(self) -> &'static str {
        match self {
            TableKind::Table => "table",
            TableKind::View => "view",
            TableKind::MaterializedView => "materializedView",
            TableKind::PartitionedTable => "partitionedTable",
            TableKind::ForeignTable => "foreignTable",
        }
    }
}

/// One readable table or view of a source.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TableEntry {
    pub table: TableRef,
    pub kind: TableKind,
}

/// One column the user may read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ColumnInfo {
    /// The column name, exactly as the source spells it.
    pub name: String,
    /// Inlet's type for it.
    pub inlet_type: InletType,
    /// The source's own name of the type, e.g. `numeric(38,10)` or `integer[]`.
    pub original_type: String,
    /// The base type whose wire format the column's values travel in, as readers decode
    /// them. PostgreSQL: `pg_type.typname` of the type under any domains when it is
    /// PostgreSQL's own (`int2`, `float4`, `numeric`), with one `_` in front per array
    /// level (`_int4`; `__int4` for an array of a domain over `int4[]`), `enum` for an
    /// enum (its values travel as their labels), else the type's `schema.name`.
    /// Redshift: `information_schema.columns.data_type` (`real`, `numeric`).
    pub source_type: String,
    /// Whether the column may hold NULL (for a view: unknown, so true).
    pub nullable: bool,
    /// The column's number in its table (PostgreSQL's `attnum`), which a rename keeps and
    /// no other column ever takes; `None` where the source offers none that lasts
    /// (Redshift's `ordinal_position` shifts when a column is dropped).
    pub position: Option<i32>,
}

/// A table's readable columns, in their order in the table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TableSchema {
    pub table: TableRef,
    pub columns: Vec<ColumnInfo>,
}

/// The explore column of api.md §7 (see [`crate::sources::types::typed_column_json`]).
pub fn column_json(column: &ColumnInfo) -> Value {
    crate::sources::types::typed_column_json(&column.name, &column.inlet_type, &column.original_type)
}

/// The root-list entry of api.md §7. Views and the rest are `"type": "table"` too, as on
/// the platform; `meta.kind` says which they are.
pub fn entry_json(entry: &TableEntry) -> Value {
    let path = object_path(&entry.table);
    json!({
        "type": "table",
        "name": path,
        "path": path,
        "canPreview": true,
        "canFetchSchema": true,
        "meta": {"kind": entry.kind.name()},
    })
}

/// `schema.table` as the API's `object` parameter takes it back: a name is double-quoted
/// only where [`TableRef::parse`] would otherwise change or refuse it (upper case, spaces,
/// dots, quotes, a leading digit, ...), so `public.orders` stays readable.
pub fn object_path(table: &TableRef) -> String {
    format!("{}.{}", path_ident(&table.schema), path_ident(&table.table))
}

fn path_ident(name: &str) -> String {
    let plain = name.starts_with(|c: char| c.is_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_alphanumeric() || c == '_' || c == '$')
        && name.to_lowercase() == name;
    if plain { name.to_string() } else { quote_ident(name) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(schema: &str, table: &str) -> TableRef {
        TableRef {
            schema: schema.into(),
            table: table.into(),
        }
    }

    #[test]
    fn entry_shape() {
        let entry = TableEntry {
            table: table("public", "orders"),
            kind: TableKind::View,
        };
        let expected = json!({"type": "table", "name": "public.orders", "path": "public.orders",
            "canPreview": true, "canFetchSchema": true, "meta": {"kind": "view"}});
        assert_eq!(entry_json(&entry), expected);
    }

    #[test]
    fn paths_parse_back_to_the_same_table() {
        let cases = [
            (table("public", "orders"), "public.orders"),
            (table("My Schema", "Order Lines"), r#""My Schema"."Order Lines""#),
            (table("public", "Orders"), r#"public."Orders""#),
            (table("s", r#"a.b"c"#), r#"s."a.b""c""#),
            (table("s", "1abc"), r#"s."1abc""#),
            (table("s", "t; DROP TABLE x"), r#"s."t; DROP TABLE x""#),
            (table("café", "naïve$1"), "café.naïve$1"),
        ];
        for (table, path) in cases {
            assert_eq!(object_path(&table), path);
            assert_eq!(TableRef::parse(path, "other").unwrap(), table, "{path}");
        }
    }
}
