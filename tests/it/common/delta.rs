//! The lake in tests: lakes in temporary directories, and the independent reader
//! (`tests/it/read_delta.py`: the Python `deltalake` package and the raw Delta log).

use futures::stream;
use inlet::lake::arrow::record_batch::RecordBatch;
use inlet::lake::{CommitSpec, Lake, LakeConfig, WriteMode};
use serde_json::Value;

/// A lake in a fresh temporary directory; files roll at `roll_bytes`.
pub fn lake_in(dir: &tempfile::TempDir, roll_bytes: u64) -> Lake {
    let mut config = LakeConfig::new(dir.path().join("lake").to_str().unwrap());
    config.target_file_bytes = roll_bytes;
    Lake::new(&config).expect("open lake")
}

/// Reads the table at `location` with `read_delta.py` (`--rows` adds the rows).
pub fn read(location: &str, rows: bool) -> Value {
    read_with(location, rows, &[])
}

/// As [`read`], with `env` in the reader's environment (an `s3://` location's AWS
/// variables, see `S3Server::env`).
pub fn read_with(location: &str, rows: bool, env: &[(String, String)]) -> Value {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/it/read_delta.py");
    let mut command = std::process::Command::new("python3");
    command.arg(script).arg(location);
    command.envs(env.iter().map(|(k, v)| (k, v)));
    if rows {
        command.arg("--rows");
    }
    let out = command
        .output()
        .expect("python3 runs (scripts/test installs the deltalake package)");
    assert!(
        out.status.success(),
        "read_delta.py failed (scripts/test installs its packages): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("read_delta.py prints JSON")
}

/// A commit of `app` at `version` in `mode`.
pub fn spec(mode: WriteMode, app: &str, version: i64) -> CommitSpec {
    CommitSpec {
        mode,
        app_id: app.to_string(),
        txn_version: version,
        run_id: format!("run-{app}-{version}"),
        batch_id: None,
        cdc_position: None,
        first_window: None,
    }
}

/// Batches as a stream that never fails.
pub fn ok_stream(batches: Vec<RecordBatch>) -> impl futures::Stream<Item = Result<RecordBatch, std::io::Error>> + Send {
    stream::iter(batches.into_iter().map(Ok))
}

/// Parquet files anywhere under `dir`, `_delta_log` excluded.
pub fn parquet_files(dir: &std::path::Path) -> usize {
    std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|entry| {
            let path = entry.path();
            if path.is_dir() && !path.ends_with("_delta_log") {
                parquet_files(&path)
            } else {
                usize::from(path.extension().is_some_and(|e| e == "parquet"))
            }
        })
        .sum()
}
