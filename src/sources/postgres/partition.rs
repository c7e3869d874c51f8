//! Splitting a PostgreSQL table into partitions that are read in parallel, all in ONE
//! snapshot.
//!
//! The first session begins a `REPEATABLE READ` transaction and exports its snapshot
//! (`pg_export_snapshot()`); every other session begins one and imports it (`SET
//! TRANSACTION SNAPSHOT`) before any partition is read, while the first transaction is
//! still open. So every partition sees the table as of one instant, however long the
//! read takes and whatever is committed meanwhile: separate snapshots would tear a table
//! that is being written.
//!
//! How the table is split:
//! - PostgreSQL 14 or later: ranges of pages, `ctid >= '(a,0)' AND ctid < '(b,0)'`, which
//!   TID range scans read without touching other pages. The pages are counted from
//!   `pg_relation_size`; the last range is open-ended.
//! - Before 14 (where a ctid range is a full scan per partition): ranges of a single
//!   `smallint`/`integer`/`bigint` primary key, bounds from its min and max in the snapshot.
//! - Otherwise, and for views, partitioned and foreign tables, and tables too small to be
//!   worth it (less than [`MIN_PARTITION_BYTES`] per partition): one stream.

use crate::sources::config::SourceConfig;
use crate::sources::connect::{ConnectOptions, SourceSession, connect};
use crate::sources::postgres::explore::PREVIEW_SESSION;
use crate::sources::schema::object_path;
use crate::sources::table_ref::{quote_ident, quote_literal};
use crate::sources::{SourceError, SourceErrorKind, TableRef};

/// The least table size (in bytes) per partition: smaller shares are not worth a
/// connection of their own.
pub const MIN_PARTITION_BYTES: i64 = 4 << 20;
/// `server_version_num` of the first release with TID range scans (14).
const TID_RANGE_SCANS: i32 = 140_000;

/// The relation's kind, size, statistics and single integer primary key, and the
/// database's encoding ($1 schema, $2 name). 21, 23 and 20 are the fixed OIDs of int2,
/// int4 and int8.
const TABLE_INFO: &str = "\
SELECT c.relkind::text, coalesce(pg_relation_size(c.oid), 0)::int8,
       current_setting('block_size')::int8, current_setting('server_version_num')::int4,
       c.reltuples::float8, current_setting('server_encoding'),
       (SELECT a.attname::text FROM pg_catalog.pg_index i
        JOIN pg_catalog.pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]
        WHERE i.indrelid = c.oid AND i.indisprimary AND i.indnatts = 1
          AND a.atttypid IN (21, 23, 20) AND has_column_privilege(c.oid, a.attnum, 'SELECT'))
FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = $1 AND c.relname = $2";

/// How partitions are cut.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Split {
    /// ctid ranges on PostgreSQL 14 or later, else primary-key ranges (what
    /// `Source::read` does).
    Auto,
    /// Primary-key ranges even where ctid ranges would do, as PostgreSQL before 14 gets:
    /// for tests and benchmarks.
    PrimaryKey,
}

/// What decides how a table is split.
#[derive(Clone, Debug, PartialEq)]
pub struct TableInfo {
    /// `pg_class.relkind`: `r` table, `m` materialized view, `v`, `p`, `f`, ...
    pub kind: String,
    pub bytes: i64,
    pub block_size: i64,
    pub server_version: i32,
    /// `pg_class.reltuples`; negative when never counted (PostgreSQL 14 and later).
    pub reltuples: f64,
    /// The single integer primary-key column the user may read, if any.
    pub key: Option<String>,
    /// The database's encoding (`server_encoding`): `UTF8`, `SQL_ASCII`, `LATIN1`, ...
    pub encoding: String,
}

impl TableInfo {
    /// The planner's estimate of the table's rows, when it has one.
    pub fn estimated_rows(&self) -> Option<u64> {
        let counted = matches!(self.kind.as_str(), "r" | "m") && self.reltuples >= 0.0;
        counted.then(|| self.reltuples.round() as u64)
    }
}

/// The chosen split.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Layout {
    Single,
    Pages { pages: i64, parts: usize },
    Key { column: String, parts: usize },
}

/// A session for reading: connected, with the session settings previews use (so `::text`
/// columns read as previews show them).
pub async fn session(config: &SourceConfig, options: &ConnectOptions) -> Result<SourceSession, SourceError> {
    let session = connect(config, options).await?;
    let set = session.client().batch_execute(PREVIEW_SESSION).await;
    set.map_err(|e| SourceError::from_query(&e, "setting up the read session"))?;
    Ok(session)
}

/// Reads what decides the split of `table`.
pub async fn table_info(session: &SourceSession, table: &TableRef) -> Result<TableInfo, SourceError> {
    let what = format!("sizing {}", object_path(table));
    let rows = session
        .client()
        .query(TABLE_INFO, &[&table.schema, &table.table])
        .await
        .map_err(|e| SourceError::from_query(&e, &what))?;
    let Some(row) = rows.first() else {
        let message = format!("table {} does not exist, or you may not read it", object_path(table));
        return Err(SourceError::new(SourceErrorKind::TableNotFound, message));
    };
    Ok(TableInfo {
        kind: row.get(0),
        bytes: row.get(1),
        block_size: row.get::<_, i64>(2).max(1),
        server_version: row.get(3),
        reltuples: row.get(4),
        encoding: row.get(5),
        key: row.get(6),
    })
}

/// `info` for reading only the rows of `filter` (a window's predicate on `table`, quoted):
/// its bytes scaled by the share of the table's rows the planner expects the filter to
/// keep. A small window of a big table then reads as one stream, by the delta column's
/// index if it has one, where ctid partitions would each scan their part of the table.
/// Without statistics (never analyzed) `info` is kept.
pub async fn filtered(session: &SourceSession, table: &str, filter: &str, info: TableInfo) -> TableInfo {
    let Some(total) = info.estimated_rows().filter(|rows| *rows > 0) else {
        return info;
    };
    let sql = format!("EXPLAIN (FORMAT JSON) SELECT 1 FROM {table} WHERE {filter}");
    let rows = match session.client().simple_query(&sql).await {
        Ok(messages) => messages.iter().find_map(|message| match message {
            tokio_postgres::SimpleQueryMessage::Row(row) => row.get(0).and_then(plan_rows),
            _ => None,
        }),
        Err(error) => {
            tracing::debug!(%error, "estimating a window's rows failed; sizing by the whole table");
            None
        }
    };
    match rows {
        Some(rows) => TableInfo {
            bytes: (info.bytes as f64 * (rows / total as f64).min(1.0)) as i64,
            ..info
        },
        None => info,
    }
}

/// The top plan node's `Plan Rows` of an `EXPLAIN (FORMAT JSON)` answer.
fn plan_rows(explained: &str) -> Option<f64> {
    let plan: serde_json::Value = serde_json::from_str(explained).ok()?;
    plan[0]["Plan"]["Plan Rows"].as_f64()
}

/// How to split a table described by `info` into at most `requested` partitions.
pub fn layout(info: &TableInfo, requested: usize, split: Split) -> Layout {
    let worth = usize::try_from(info.bytes / MIN_PARTITION_BYTES).unwrap_or(0);
    let parts = requested.min(worth);
    if !matches!(info.kind.as_str(), "r" | "m") || parts < 2 {
        return Layout::Single;
    }
    let pages = info.bytes / info.block_size;
    match (&info.key, split, info.server_version >= TID_RANGE_SCANS) {
        (_, Split::Auto, true) => Layout::Pages { pages, parts },
        (Some(column), _, _) => Layout::Key {
            column: column.clone(),
            parts,
        },
        (None, _, _) => Layout::Single,
    }
}

/// The sessions of the partitions of `layout` with each one's row-range predicate
/// (`None`: all rows). `first` is the first partition's session; when there are more,
/// it exports the snapshot the others import, and they all read in their transaction.
pub async fn open(
    first: SourceSession,
    config: &SourceConfig,
    options: &ConnectOptions,
    table: &TableRef,
    layout: Layout,
) -> Result<Vec<(SourceSession, Option<String>)>, SourceError> {
    if layout == Layout::Single {
        return Ok(vec![(first, None)]);
    }
    let begin = "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY";
    let exported = async {
        first.client().batch_execute(begin).await?;
        let row = first.client().query_one("SELECT pg_export_snapshot()", &[]).await?;
        Ok::<String, tokio_postgres::Error>(row.get(0))
    };
    let snapshot = exported
        .await
        .map_err(|e| SourceError::from_query(&e, "exporting the read's snapshot"))?;
    let ranges = match layout {
        Layout::Pages { pages, parts } => page_ranges(pages, parts),
        Layout::Key { column, parts } => {
            let sql = format!(
                "SELECT min({0})::int8, max({0})::int8 FROM {1}",
                quote_ident(&column),
                table.quoted()
            );
            let row = first.client().query_one(&sql, &[]).await;
            let row = row.map_err(|e| SourceError::from_query(&e, "finding the primary key's range"))?;
            match (row.get::<_, Option<i64>>(0), row.get::<_, Option<i64>>(1)) {
                (Some(min), Some(max)) => key_ranges(&column, min, max, parts),
                _ => vec![None],
            }
        }
        Layout::Single => unreachable!("handled above"),
    };
    let import = format!("{begin}; SET TRANSACTION SNAPSHOT {}", quote_literal(&snapshot));
    let others = (1..ranges.len()).map(|_| async {
        let other = session(config, options).await?;
        let imported = other.client().batch_execute(&import).await;
        imported.map_err(|e| SourceError::from_query(&e, "importing the read's snapshot"))?;
        Ok::<_, SourceError>(other)
    });
    let others = futures::future::try_join_all(others).await?;
    Ok(std::iter::once(first).chain(others).zip(ranges).collect())
}

/// `parts` ranges of pages covering `pages` pages, the last open-ended (pages added
/// after the count hold no rows of the snapshot, but an open end costs nothing).
pub fn page_ranges(pages: i64, parts: usize) -> Vec<Option<String>> {
    let parts = parts as i64;
    let bound = |i: i64| pages * i / parts;
    (0..parts)
        .map(|i| {
            let mut range = Vec::new();
            if i > 0 {
                range.push(format!("ctid >= '({},0)'", bound(i)));
            }
            if i < parts - 1 {
                range.push(format!("ctid < '({},0)'", bound(i + 1)));
            }
            Some(range.join(" AND "))
        })
        .collect()
}

/// Up to `parts` ranges of `column` between `min` and `max`, open at both outer ends.
pub fn key_ranges(column: &str, min: i64, max: i64, parts: usize) -> Vec<Option<String>> {
    let span = i128::from(max) - i128::from(min);
    let parts = (parts as i128).min(span + 1).max(1);
    if parts == 1 {
        return vec![None];
    }
    let column = quote_ident(column);
    let bound = |i: i128| i128::from(min) + span * i / parts;
    (0..parts)
        .map(|i| {
            let mut range = Vec::new();
            if i > 0 {
                range.push(format!("{column} >= {}", bound(i)));
            }
            if i < parts - 1 {
                range.push(format!("{column} < {}", bound(i + 1)));
            }
            Some(range.join(" AND "))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plans_row_estimate_is_read_from_its_top_node() {
        let explained =
            r#"[{"Plan": {"Node Type": "Index Only Scan", "Plan Rows": 120, "Plans": [{"Plan Rows": 9}]}}]"#;
        assert_eq!(plan_rows(explained), Some(120.0));
        assert_eq!(plan_rows("[]"), None);
        assert_eq!(plan_rows("not json"), None);
    }

    fn info(kind: &str, megabytes: i64, version: i32, key: Option<&str>) -> TableInfo {
        TableInfo {
            kind: kind.into(),
            bytes: megabytes << 20,
            block_size: 8192,
            server_version: version,
            reltuples: -1.0,
            key: key.map(str::to_string),
            encoding: "UTF8".into(),
        }
    }

    #[test]
    fn layouts_follow_version_kind_and_size() {
        let pages = |pages, parts| Layout::Pages { pages, parts };
        let key = |parts| Layout::Key {
            column: "id".into(),
            parts,
        };
        assert_eq!(
            layout(&info("r", 100, 150_004, Some("id")), 4, Split::Auto),
            pages(12_800, 4)
        );
        assert_eq!(
            layout(&info("r", 100, 150_004, Some("id")), 4, Split::PrimaryKey),
            key(4)
        );
        assert_eq!(layout(&info("r", 100, 130_011, Some("id")), 4, Split::Auto), key(4));
        assert_eq!(layout(&info("r", 100, 130_011, None), 4, Split::Auto), Layout::Single);
        assert_eq!(layout(&info("r", 10, 150_004, None), 4, Split::Auto), pages(1280, 2));
        assert_eq!(layout(&info("r", 3, 150_004, None), 4, Split::Auto), Layout::Single);
        assert_eq!(layout(&info("m", 100, 150_004, None), 2, Split::Auto), pages(12_800, 2));
        for kind in ["v", "p", "f"] {
            assert_eq!(
                layout(&info(kind, 100, 150_004, Some("id")), 4, Split::Auto),
                Layout::Single
            );
        }
        assert_eq!(layout(&info("r", 100, 150_004, None), 1, Split::Auto), Layout::Single);
    }

    #[test]
    fn ranges_cover_everything_once() {
        assert_eq!(
            page_ranges(10, 3),
            [
                Some("ctid < '(3,0)'".to_string()),
                Some("ctid >= '(3,0)' AND ctid < '(6,0)'".to_string()),
                Some("ctid >= '(6,0)'".to_string())
            ]
        );
        assert_eq!(
            key_ranges("id", 1, 100, 2),
            [Some("\"id\" < 50".to_string()), Some("\"id\" >= 50".to_string())]
        );
        assert_eq!(key_ranges("id", 5, 5, 4), [None]);
        assert_eq!(
            key_ranges("id", i64::MIN, i64::MAX, 2)[1],
            Some("\"id\" >= -1".to_string())
        );
        assert_eq!(key_ranges("id", 1, 2, 4).len(), 2);
    }
}
