//! Partial ingestion (`options.partialIngestionPercent`): a flow that turns it on reads
//! with [`BadValue::Skip`], so a row holding a value the dataset cannot hold exactly is
//! left out and counted instead of failing the run; the run fails only when the rows left
//! out exceed the flow's share of the rows read.
//!
//! The share is checked when the source's stream has ended and before the lake commits:
//! [`guarded`] makes the stream end with the failure instead, so the lake's write stops
//! before its one commit and nothing lands (the window is not marked done either, so the
//! exactly-once rules hold). The run shows the count and the first rows (see
//! docs/api.md, "Partial ingestion").

use std::sync::Arc;

use arrow_array::RecordBatch;
use futures::{Stream, StreamExt};
use serde_json::{Map, Value, json};

use super::failure::RunFailure;
use super::model::Flow;
use crate::sources::read::{BadValue, ReadProgress, SkippedRow};
use crate::store::{RunError, RunRow};

/// The error code of a run whose skipped rows exceed the flow's share.
pub const LIMIT_CODE: &str = "PARTIAL_INGESTION_LIMIT";
/// The warning code of a run that skipped rows within the flow's share.
pub const SKIPPED_CODE: &str = "ROWS_SKIPPED";

/// What the flow's reads do with a row holding a value no lake column can hold exactly.
pub fn on_bad_value(flow: &Flow) -> BadValue {
    if flow.partial_ingestion {
        BadValue::Skip
    } else {
        BadValue::Fail
    }
}

/// The flow's share (percent of the rows read) above which skipped rows fail the run;
/// `None` when the flow does not skip rows.
fn limit(flow: &Flow) -> Option<f64> {
    flow.partial_ingestion
        .then(|| flow.partial_ingestion_percent.unwrap_or(0.0))
}

/// `batches`, then, once they have ended, the failure if the rows skipped exceed the
/// flow's share: the lake never commits a stream that ends in an error.
pub fn guarded<S>(batches: S, progress: Arc<ReadProgress>, flow: &Flow) -> impl Stream<Item = S::Item> + Send + use<S>
where
    S: Stream<Item = Result<RecordBatch, RunFailure>> + Send,
{
    let percent = limit(flow);
    let check = futures::stream::once(async move { percent.and_then(|p| over_limit(&progress, p)) });
    batches.chain(check.filter_map(|failure| futures::future::ready(failure.map(Err))))
}

/// The failure when the rows skipped so far are more than `percent` % of the rows read.
pub fn over_limit(progress: &ReadProgress, percent: f64) -> Option<RunFailure> {
    let failed = progress.failed_rows();
    let read = progress.rows() + failed;
    if failed == 0 || (failed as f64) * 100.0 <= percent * read as f64 {
        return None;
    }
    let message = format!(
        "{failed} of {read} rows read ({}) hold a value the dataset cannot hold exactly, more than the \
         flow's partialIngestionPercent of {percent}%; nothing was written (the run's copy activity \
         lists the rows under failedRecords)",
        share(failed, read)
    );
    Some(RunFailure::permanent(LIMIT_CODE, message))
}

/// Records, for a flow with partial ingestion, the rows skipped: the copy activity's
/// `failedRecords` (the first ones described) and, when the run stays within the flow's
/// share, a `ROWS_SKIPPED` warning in `statusSummary.warnings`.
pub fn record(run: &mut RunRow, progress: &ReadProgress, flow: &Flow) {
    let Some(percent) = limit(flow) else { return };
    run.details.failed_records = progress.skipped_rows().iter().map(failed_record).collect();
    let failed = progress.failed_rows();
    let warnings = &mut run.details.metrics.status_summary.warnings;
    warnings.clear();
    if failed == 0 || over_limit(progress, percent).is_some() {
        return;
    }
    let read = progress.rows() + failed;
    let message = format!(
        "{failed} of {read} rows read ({}) held a value the dataset cannot hold exactly and were \
         skipped (the flow allows {percent}%); the copy activity lists them under failedRecords",
        share(failed, read)
    );
    warnings.push(RunError {
        code: SKIPPED_CODE.into(),
        message,
    });
}

/// One entry of `failedRecords`.
fn failed_record(row: &SkippedRow) -> Value {
    let mut id = Map::new();
    if row.row.key.is_empty() {
        id.insert("partition".into(), json!(row.row.partition));
        id.insert("ordinal".into(), json!(row.row.ordinal));
        if let Some(ctid) = &row.row.ctid {
            id.insert("ctid".into(), json!(ctid));
        }
    } else {
        let key: Map<String, Value> = row.row.key.iter().map(|(k, v)| (k.clone(), json!(v))).collect();
        id.insert("key".into(), Value::Object(key));
    }
    json!({
        "table": row.table,
        "column": row.column,
        "value": row.value,
        "message": row.message,
        "row": id,
    })
}

/// `failed` of `read` as a percentage, e.g. `2%` or `0.35%`.
fn share(failed: u64, read: u64) -> String {
    let percent = failed as f64 * 100.0 / read.max(1) as f64;
    let text = format!("{percent:.2}");
    format!("{}%", text.trim_end_matches('0').trim_end_matches('.'))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sources::read::RowId;

    fn progress(rows: u64, described: Vec<SkippedRow>, failed: u64) -> ReadProgress {
        let progress = ReadProgress::default();
        progress.add(rows, 0);
        progress.add_skipped(failed, described);
        progress
    }

    #[test]
    fn the_limit_is_a_share_of_every_row_read_and_reaching_it_is_allowed() {
        assert!(over_limit(&progress(98, Vec::new(), 2), 2.0).is_none());
        let failure = over_limit(&progress(98, Vec::new(), 2), 1.5).unwrap();
        assert_eq!(failure.code, LIMIT_CODE);
        assert!(!failure.transient);
        assert!(failure.message.starts_with("2 of 100 rows read (2%)"), "{failure}");
        assert!(over_limit(&progress(0, Vec::new(), 0), 0.1).is_none());
        assert_eq!(share(1, 3), "33.33%");
        assert_eq!(share(7, 20), "35%");
    }

    #[test]
    fn skipped_rows_are_named_by_key_or_position() {
        let skipped = |key: Vec<(String, String)>, ctid: Option<&str>| SkippedRow {
            table: "public.t".into(),
            column: "amount".into(),
            value: "NaN".into(),
            message: "public.t.amount holds NaN, which a decimal column cannot hold".into(),
            row: RowId {
                partition: 1,
                ordinal: 5,
                key,
                ctid: ctid.map(str::to_string),
            },
        };
        let keyed = failed_record(&skipped(vec![("id".into(), "17".into())], None));
        assert_eq!(keyed["row"], json!({"key": {"id": "17"}}));
        assert_eq!(keyed["value"], "NaN");
        let positional = failed_record(&skipped(Vec::new(), Some("(0,5)")));
        assert_eq!(
            positional["row"],
            json!({"partition": 1, "ordinal": 5, "ctid": "(0,5)"})
        );
    }
}
