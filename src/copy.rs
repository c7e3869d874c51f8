//! `inlet copy`: one table copied into a Delta table by the same engine runs use, without
//! a server or a metadata store. Each copy replaces the table's contents in one commit.

use std::io::IsTerminal;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use indicatif::{ProgressBar, ProgressStyle};

use crate::flows::schema_policy::{SchemaPolicy, decide};
use crate::lake::arrow::datatypes::SchemaRef;
use crate::lake::{CommitOutcome, CommitSpec, Evolution, Lake, LakeConfig, WriteMode, differences};
use crate::schema_changes::{SchemaAction, SchemaChange, SchemaChoice};
use crate::secret::Secret;
use crate::sources::TableRef;
use crate::sources::connect::ConnectOptions;
use crate::sources::read::{BadValue, ReadProgress, ReadRequest, SkippedRow};
use crate::sources::source::open;
use crate::sources::url::parse_source;

/// The txn app id of copies made by `inlet copy`.
const APP_ID: &str = "inlet-copy";

/// What `inlet copy` was asked to do.
#[derive(Debug, Clone)]
pub struct CopyRequest {
    pub source: Secret,
    pub table: String,
    /// A directory or `s3://bucket/prefix/name`: the Delta table to (re)write.
    pub to: String,
    pub partitions: usize,
    pub batch_rows: usize,
    /// Leave out rows holding a value the lake cannot hold exactly instead of failing.
    pub skip_bad_rows: bool,
    /// What to do when the table exists and the source's columns differ from it.
    pub schema_policy: SchemaPolicy,
    /// Give the table the source's columns as they are, whatever changed.
    pub replace_schema: bool,
}

/// What a finished copy did.
#[derive(Debug, Clone)]
pub struct CopyReport {
    pub rows: u64,
    pub source_bytes: u64,
    pub files: usize,
    pub table_version: i64,
    pub location: String,
    pub elapsed: Duration,
    /// Rows left out (with `skip_bad_rows`), and the first of them described.
    pub skipped_rows: u64,
    pub skipped: Vec<SkippedRow>,
    /// How the source's columns differed from the table's, and what the copy did.
    pub schema_changes: Vec<SchemaChange>,
}

/// Copies the table, showing progress on standard error.
pub async fn copy(request: CopyRequest) -> anyhow::Result<CopyReport> {
    let started = Instant::now();
    let config = parse_source(&request.source)?;
    let table = TableRef::parse(&request.table, "public").map_err(|e| anyhow::anyhow!("--table {e}"))?;
    let (root, name) = split_target(&request.to)?;
    let lake = Lake::new(&LakeConfig::from_env(root))?;
    lake.check_store().await?;
    let source = open(
        config,
        ConnectOptions {
            statement_timeout: None,
            ..ConnectOptions::default()
        },
    );
    let read = source
        .read(&ReadRequest {
            table,
            columns: None,
            window: None,
            partitions: request.partitions.max(1),
            batch_rows: request.batch_rows.max(1),
            channel_depth: 2,
            on_bad_value: if request.skip_bad_rows {
                BadValue::Skip
            } else {
                BadValue::Fail
            },
        })
        .await?;
    let txn_version = lake.committed_version(name, APP_ID).await?.unwrap_or(0) + 1;
    let spec = CommitSpec {
        mode: WriteMode::Replace,
        app_id: APP_ID.into(),
        txn_version,
        run_id: uuid::Uuid::new_v4().to_string(),
        batch_id: None,
        cdc_position: None,
        first_window: None,
    };
    let (evolution, schema_changes) = evolution(&lake, name, &read.schema, &request).await?;
    let progress = read.progress.clone();
    let reporter = tokio::spawn(show_progress(progress.clone(), read.estimated_rows));
    let outcome = lake
        .write_evolving(name, read.schema.clone(), read.batches, spec, &evolution)
        .await;
    reporter.abort();
    let outcome = outcome.context("the copy failed; the table is unchanged")?;
    let CommitOutcome::Committed {
        table_version,
        files,
        rows,
        ..
    } = outcome
    else {
        bail!(
            "another copy committed the same version of {} first; nothing was written",
            request.to
        );
    };
    Ok(CopyReport {
        rows,
        source_bytes: progress.bytes(),
        files,
        table_version,
        location: lake.table_location(name),
        elapsed: started.elapsed(),
        skipped_rows: progress.failed_rows(),
        skipped: progress.skipped_rows(),
        schema_changes,
    })
}

/// What the copy does to an existing table's schema, by the request's policy; an error
/// naming the changes the policy does not take.
async fn evolution(
    lake: &Lake,
    name: &str,
    data: &SchemaRef,
    request: &CopyRequest,
) -> anyhow::Result<(Evolution, Vec<SchemaChange>)> {
    let Some(table) = lake.table_schema(name).await? else {
        return Ok((Evolution::default(), Vec::new()));
    };
    let differences = differences(&table, data)?;
    let choice = request.replace_schema.then_some(SchemaChoice::Resnapshot);
    let (outcome, changes) = decide(request.schema_policy, choice, &differences);
    match outcome {
        Ok(evolution) => Ok((evolution, changes)),
        Err(_) => {
            let refused: Vec<String> = changes
                .iter()
                .filter(|c| c.action == SchemaAction::Paused)
                .map(SchemaChange::describe)
                .collect();
            bail!(
                "the source's columns differ from {}'s: {}; nothing was written. --replace-schema gives the table \
                 the source's columns as they are now (every value is read again from the source)",
                request.to,
                refused.join(", ")
            )
        }
    }
}

/// `(root, table name)` of a target like `/data/lake/orders` or `s3://bucket/lake/orders`.
fn split_target(to: &str) -> anyhow::Result<(String, &str)> {
    let trimmed = to.trim_end_matches('/');
    let (root, name) = match trimmed.rsplit_once('/') {
        Some((root, name)) if !root.is_empty() && !root.ends_with(':') && !root.ends_with(":/") => {
            (root.to_string(), name)
        }
        Some(("", name)) => ("/".to_string(), name),
        None => (".".to_string(), trimmed),
        _ => bail!("--to `{to}` needs a table name after the bucket or directory, e.g. s3://bucket/orders"),
    };
    let valid = !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if !valid {
        bail!("--to `{to}`: the table's name (its last part) may hold only letters, digits, - and _");
    }
    if !root.contains("://") {
        std::fs::create_dir_all(&root).with_context(|| format!("cannot create {root}"))?;
    }
    Ok((root, name))
}

/// Rows, bytes, rate and (from the source's estimate) ETA: a bar on a terminal, a plain
/// line every five seconds otherwise.
async fn show_progress(progress: Arc<ReadProgress>, estimated_rows: Option<u64>) {
    let started = Instant::now();
    if std::io::stderr().is_terminal() {
        let bar = ProgressBar::new(estimated_rows.unwrap_or(0).max(1));
        let template = "{elapsed_precise} [{wide_bar}] {human_pos}/{human_len} rows {per_sec} ETA {eta} {msg}";
        bar.set_style(ProgressStyle::with_template(template).expect("the template is valid"));
        loop {
            bar.set_position(progress.rows());
            bar.set_message(format!("{:.1} MB", progress.bytes() as f64 / 1e6));
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    loop {
        tokio::time::sleep(Duration::from_secs(5)).await;
        let seconds = started.elapsed().as_secs_f64();
        let rows = progress.rows();
        let eta = estimated_rows
            .filter(|total| *total > rows && rows > 0)
            .map(|total| format!(", ETA {:.0} s", (total - rows) as f64 * seconds / rows as f64))
            .unwrap_or_default();
        eprintln!(
            "copied {rows} rows, {:.1} MB in {seconds:.0} s ({:.0} rows/s){eta}",
            progress.bytes() as f64 / 1e6,
            rows as f64 / seconds
        );
    }
}

#[cfg(test)]
mod tests {
    use super::split_target;

    #[test]
    fn targets_split_into_root_and_table_name() {
        assert_eq!(
            split_target("s3://bucket/lake/orders/").unwrap(),
            ("s3://bucket/lake".to_string(), "orders")
        );
        assert!(split_target("s3://bucket").is_err());
        assert!(split_target("/tmp/x/bad name").is_err());
        let dir = tempfile::tempdir().unwrap();
        let to = dir.path().join("lake/orders");
        let (root, name) = split_target(to.to_str().unwrap()).unwrap();
        assert_eq!(name, "orders");
        assert!(std::path::Path::new(&root).is_dir());
    }
}
