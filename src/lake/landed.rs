//! Whether a window landed, and which commit landed it.
//!
//! A flow's windows land in window order (the run claims see to it), so the table's txn
//! version for the flow being at least a window's number means that window landed. The
//! commit that carried exactly that version is then looked for among the table's last
//! [`LOOKBACK`] commits: its `commitInfo` names the run and batch that wrote it and what
//! it added, so an attempt that died after its commit can still be reported truly.

use deltalake::DeltaTable;
use serde_json::Value;

use super::{Lake, LakeError, txn_version};

/// How many of the newest commits are searched for a window's commit.
const LOOKBACK: usize = 64;

/// A window that landed: the app's txn version, and the window's own commit when found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Landed {
    pub txn_version: i64,
    pub commit: Option<LandedCommit>,
}

/// The commit that carried a window.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LandedCommit {
    pub table_version: i64,
    pub run_id: Option<String>,
    pub batch_id: Option<String>,
    pub rows: u64,
    pub files: u64,
    pub bytes: u64,
    /// The source log position a change data capture commit brought the dataset to.
    pub cdc_position: Option<String>,
}

impl Lake {
    /// `Some` when window `version` of `app_id` has landed in the dataset's table.
    pub async fn landed(&self, dataset_id: &str, app_id: &str, version: i64) -> Result<Option<Landed>, LakeError> {
        let Some(table) = self.open(&self.table_url(dataset_id)?).await? else {
            return Ok(None);
        };
        match txn_version(&table, app_id).await? {
            Some(done) if done >= version => Ok(Some(Landed {
                txn_version: done,
                commit: find_commit(&table, app_id, version).await?,
            })),
            _ => Ok(None),
        }
    }
}

async fn find_commit(table: &DeltaTable, app_id: &str, version: i64) -> Result<Option<LandedCommit>, LakeError> {
    let latest = table.version().unwrap_or(0);
    let log = table.log_store();
    for table_version in (0..=latest).rev().take(LOOKBACK) {
        // A commit older than the log's retention may be gone; that is no error.
        let Some(bytes) = log.read_commit_entry(table_version).await? else {
            continue;
        };
        if let Some(found) = commit_of(&bytes, app_id, version) {
            return Ok(Some(LandedCommit {
                table_version: table_version as i64,
                ..found
            }));
        }
    }
    Ok(None)
}

/// The commit's details if the log entry `bytes` (JSON lines) carries `app_id`'s txn
/// `version`, or lands it among several windows (`inletWindows`: first to the txn's).
fn commit_of(bytes: &[u8], app_id: &str, version: i64) -> Option<LandedCommit> {
    let actions: Vec<Value> = std::str::from_utf8(bytes)
        .ok()?
        .lines()
        .filter_map(|line| serde_json::from_str(line).ok())
        .collect();
    let info = actions
        .iter()
        .find_map(|a| a.get("commitInfo"))
        .cloned()
        .unwrap_or_default();
    let last = actions
        .iter()
        .find(|a| a["txn"]["appId"] == app_id)
        .and_then(|a| a["txn"]["version"].as_i64())?;
    let first = info["inletWindows"]["first"].as_i64().unwrap_or(last);
    if !(first..=last).contains(&version) {
        return None;
    }
    let text = |key: &str| info[key].as_str().map(str::to_string);
    let count = |key: &str| info["inletOutput"][key].as_u64().unwrap_or(0);
    Some(LandedCommit {
        table_version: 0,
        run_id: text("runId"),
        batch_id: text("batchId"),
        rows: count("rows"),
        files: count("files"),
        bytes: count("bytes"),
        cdc_position: info["inletCdc"]["position"].as_str().map(str::to_string),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_commit_is_recognised_by_its_txn_and_read_from_its_commit_info() {
        let entry = concat!(
            r#"{"add":{"path":"a.parquet","size":10}}"#,
            "\n",
            r#"{"txn":{"appId":"flow-1","version":3,"lastUpdated":1}}"#,
            "\n",
            r#"{"commitInfo":{"runId":"r3","batchId":"b3","inletOutput":{"rows":7,"files":1,"bytes":10}}}"#,
            "\n"
        );
        let found = commit_of(entry.as_bytes(), "flow-1", 3).unwrap();
        assert_eq!(
            (
                found.run_id.as_deref(),
                found.batch_id.as_deref(),
                found.rows,
                found.files
            ),
            (Some("r3"), Some("b3"), 7, 1)
        );
        assert!(commit_of(entry.as_bytes(), "flow-1", 2).is_none(), "another window");
        assert!(commit_of(entry.as_bytes(), "flow-2", 3).is_none(), "another flow");
        assert!(commit_of(b"not json", "flow-1", 3).is_none());
    }

    #[test]
    fn a_commit_of_several_windows_is_found_for_each_of_them() {
        let entry = concat!(
            r#"{"txn":{"appId":"flow-1","version":7,"lastUpdated":1}}"#,
            "\n",
            r#"{"commitInfo":{"runId":"r5","inletWindows":{"first":5,"last":7}}}"#,
            "\n"
        );
        for window in 5..=7 {
            let found = commit_of(entry.as_bytes(), "flow-1", window).unwrap();
            assert_eq!(found.run_id.as_deref(), Some("r5"));
        }
        assert!(commit_of(entry.as_bytes(), "flow-1", 4).is_none());
        assert!(commit_of(entry.as_bytes(), "flow-1", 8).is_none());
    }
}
