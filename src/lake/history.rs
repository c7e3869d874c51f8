//! A dataset's Delta table as its log tells it: the current version, the rows and files
//! it holds, and what each recent commit did (read for the console and API clients).

use deltalake::kernel::Action;
use deltalake::{DeltaTable, DeltaTableError};
use futures::TryStreamExt;
use serde::Serialize;

use super::{Lake, LakeError};

/// One version of a table, as its commit file records it.
#[derive(Clone, Debug, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct TableVersion {
    pub version: u64,
    /// When the commit was made (epoch ms), from its `commitInfo`.
    pub timestamp: Option<i64>,
    /// The operation `commitInfo` names (`CREATE TABLE`, `WRITE`, ...).
    pub operation: Option<String>,
    /// The Inlet run that made the commit, when one did.
    pub run_id: Option<String>,
    pub files_added: usize,
    pub files_removed: usize,
    /// Rows in the files the commit added; `None` when a file carries no statistics.
    pub rows_added: Option<u64>,
}

/// A table now, with its newest versions first.
#[derive(Clone, Debug, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct TableHistory {
    pub current_version: u64,
    /// Rows in the current version; `None` when a file carries no statistics.
    pub rows: Option<u64>,
    pub files: usize,
    pub bytes: u64,
    pub versions: Vec<TableVersion>,
}

impl Lake {
    /// The dataset's table and its `limit` newest versions; `None` when no table exists yet.
    pub async fn history(&self, dataset_id: &str, limit: usize) -> Result<Option<TableHistory>, LakeError> {
        let Some(table) = self.open(&self.table_url(dataset_id)?).await? else {
            return Ok(None);
        };
        let current = table.version().unwrap_or(0);
        let (rows, files, bytes) = totals(&table).await?;
        let oldest = (current + 1).saturating_sub(limit as u64);
        let mut versions = Vec::new();
        for version in (oldest..=current).rev() {
            // A version whose commit file was cleaned up by log retention is left out.
            if let Some(bytes) = table.log_store().read_commit_entry(version).await? {
                versions.push(describe(version, &bytes)?);
            }
        }
        Ok(Some(TableHistory {
            current_version: current,
            rows,
            files,
            bytes,
            versions,
        }))
    }
}

/// Rows (when every file has statistics), files and bytes of the current version.
async fn totals(table: &DeltaTable) -> Result<(Option<u64>, usize, u64), LakeError> {
    let snapshot = table.snapshot()?;
    let files: Vec<_> = snapshot
        .snapshot()
        .file_views(table.log_store().as_ref(), None)
        .try_collect()
        .await?;
    let rows = files
        .iter()
        .map(|f| f.num_records().map(|n| n as u64))
        .sum::<Option<u64>>();
    let bytes = files.iter().map(|f| f.size().max(0) as u64).sum();
    Ok((rows, files.len(), bytes))
}

/// What one commit file (newline-delimited JSON actions) did.
fn describe(version: u64, commit: &[u8]) -> Result<TableVersion, LakeError> {
    let mut shown = TableVersion {
        version,
        timestamp: None,
        operation: None,
        run_id: None,
        files_added: 0,
        files_removed: 0,
        rows_added: Some(0),
    };
    for line in commit
        .split(|b| *b == b'\n')
        .filter(|l| !l.iter().all(u8::is_ascii_whitespace))
    {
        let action: Action = serde_json::from_slice(line).map_err(|json_err| DeltaTableError::InvalidJsonLog {
            json_err,
            line: String::from_utf8_lossy(line).into_owned(),
            version,
        })?;
        match action {
            Action::CommitInfo(info) => {
                shown.timestamp = info.in_commit_timestamp.or(info.timestamp);
                shown.operation = info.operation;
                shown.run_id = info.info.get("runId").and_then(|v| v.as_str()).map(str::to_string);
            }
            Action::Add(add) => {
                shown.files_added += 1;
                let rows = add.get_stats().ok().flatten().map(|s| s.num_records.max(0) as u64);
                shown.rows_added = shown.rows_added.zip(rows).map(|(a, b)| a + b);
            }
            Action::Remove(_) => shown.files_removed += 1,
            _ => {}
        }
    }
    Ok(shown)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_commit_file_is_described_by_its_actions() {
        let commit = concat!(
            r#"{"commitInfo":{"timestamp":1700000000000,"operation":"WRITE","runId":"r1"}}"#,
            "\n",
            r#"{"add":{"path":"a.parquet","partitionValues":{},"size":10,"modificationTime":1,"dataChange":true,"stats":"{\"numRecords\":3}"}}"#,
            "\n",
            r#"{"add":{"path":"b.parquet","partitionValues":{},"size":10,"modificationTime":1,"dataChange":true,"stats":"{\"numRecords\":4}"}}"#,
            "\n",
            r#"{"remove":{"path":"c.parquet","dataChange":true}}"#,
            "\n"
        );
        let shown = describe(2, commit.as_bytes()).unwrap();
        assert_eq!(shown.version, 2);
        assert_eq!(shown.timestamp, Some(1_700_000_000_000));
        assert_eq!(shown.operation.as_deref(), Some("WRITE"));
        assert_eq!(shown.run_id.as_deref(), Some("r1"));
        assert_eq!((shown.files_added, shown.files_removed), (2, 1));
        assert_eq!(shown.rows_added, Some(7));
    }

    /// Two appends and a replace on a real table, read back newest first.
    #[tokio::test]
    async fn a_table_lists_its_versions_newest_first() {
        use super::super::{CommitSpec, LakeConfig, WriteMode};
        use deltalake::arrow::array::{ArrayRef, Int64Array, RecordBatch};
        use deltalake::arrow::datatypes::{DataType, Field, Schema};
        use std::sync::Arc;

        let dir = tempfile::tempdir().unwrap();
        let lake = Lake::new(&LakeConfig::new(dir.path().display().to_string())).unwrap();
        assert_eq!(lake.history("d1", 10).await.unwrap(), None);
        let schema = Arc::new(Schema::new(vec![Field::new("id", DataType::Int64, false)]));
        for (version, (mode, rows)) in [(WriteMode::Append, 3), (WriteMode::Append, 4), (WriteMode::Replace, 2)]
            .into_iter()
            .enumerate()
        {
            let ids: ArrayRef = Arc::new(Int64Array::from_iter_values(0..rows));
            let batch = RecordBatch::try_new(schema.clone(), vec![ids]).unwrap();
            let commit = CommitSpec {
                mode,
                app_id: "flow".into(),
                txn_version: version as i64 + 1,
                run_id: format!("run-{version}"),
                batch_id: None,
                cdc_position: None,
                first_window: None,
            };
            let batches = futures::stream::iter([Ok::<_, std::io::Error>(batch)]);
            lake.write("d1", schema.clone(), batches, commit).await.unwrap();
        }
        let history = lake.history("d1", 2).await.unwrap().expect("a table");
        assert_eq!((history.current_version, history.rows), (2, Some(2)));
        assert_eq!(history.files, 1);
        let shown: Vec<_> = history
            .versions
            .iter()
            .map(|v| (v.version, v.run_id.as_deref(), v.rows_added, v.files_removed))
            .collect();
        assert_eq!(shown, [(2, Some("run-2"), Some(2), 2), (1, Some("run-1"), Some(4), 0)]);
        assert_eq!(history.versions[1].operation.as_deref(), Some("WRITE"));
    }

    #[test]
    fn rows_are_unknown_when_a_file_has_no_statistics() {
        let commit =
            r#"{"add":{"path":"a.parquet","partitionValues":{},"size":10,"modificationTime":1,"dataChange":true}}"#;
        assert_eq!(describe(0, commit.as_bytes()).unwrap().rows_added, None);
    }
}
