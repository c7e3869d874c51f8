//! Configuration, loaded once at start-up from flags, `INLET_*` environment variables and
//! an optional TOML file (in that order of precedence), then passed down.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use serde::Deserialize;

use crate::flows::clock::{Clock, FileClock, SystemClock};
use crate::flows::engine::RunSettings;
use crate::flows::maintenance::MaintenanceSettings;
use crate::secret::Secret;
use crate::sources::connect::ConnectOptions;
use crate::sources::egress::EgressPolicy;

/// How log lines are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

/// Settings shared by every command; flags and environment variables (clap) win over the
/// file given with `--config`.
#[derive(Clone, Debug, Default, clap::Args)]
pub struct ConfigArgs {
    /// TOML file with any of the settings below (snake_case keys).
    #[arg(long, env = "INLET_CONFIG", global = true)]
    pub config: Option<PathBuf>,
    /// Directory for the SQLite metadata, keys and the local lake [default: ./inlet-data].
    #[arg(long, env = "INLET_DATA_DIR", global = true)]
    pub data_dir: Option<PathBuf>,
    /// PostgreSQL URL of a shared metadata store (default: SQLite in the data directory).
    #[arg(long, env = "INLET_METADATA_URL", global = true, hide_env_values = true)]
    pub metadata_url: Option<String>,
    /// Address to listen on [default: 127.0.0.1:8080].
    #[arg(long, env = "INLET_LISTEN", global = true)]
    pub listen: Option<SocketAddr>,
    /// Log format [default: text].
    #[arg(long, env = "INLET_LOG_FORMAT", global = true)]
    pub log_format: Option<LogFormat>,
    /// Log filter, e.g. `info` or `inlet=debug` [default: info].
    #[arg(long, env = "INLET_LOG", global = true)]
    pub log_level: Option<String>,
    /// Where datasets' Delta tables live: a directory or s3://bucket/prefix [default: <data-dir>/lake].
    #[arg(long, env = "INLET_LAKE_ROOT", global = true)]
    pub lake_root: Option<String>,
    /// Test facility: read the flow clock (epoch seconds) from this file instead of the
    /// system clock, so tests move time instead of waiting.
    #[arg(long, env = "INLET_CLOCK_FILE", global = true)]
    pub clock_file: Option<PathBuf>,
}

/// The optional TOML file: the same settings, all optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    data_dir: Option<PathBuf>,
    metadata_url: Option<String>,
    listen: Option<SocketAddr>,
    log_format: Option<LogFormat>,
    log_level: Option<String>,
    lake_root: Option<String>,
    token_ttl: Option<String>,
    max_body_bytes: Option<usize>,
    source_connect_timeout: Option<String>,
    source_statement_timeout: Option<String>,
    clock_file: Option<PathBuf>,
    workers: Option<usize>,
    source_partitions: Option<usize>,
    source_connections: Option<usize>,
    batch_rows: Option<usize>,
    settle_lag: Option<String>,
    run_lease: Option<String>,
    run_attempts: Option<u32>,
    retry_backoff: Option<String>,
    poll_interval: Option<String>,
    cdc_changes_per_run: Option<u32>,
    catch_up_windows: Option<u32>,
    run_retention_keep: Option<usize>,
    run_retention_age: Option<String>,
    egress_allow: Option<Vec<String>>,
    egress_deny: Option<Vec<String>>,
    egress_builtin_deny: Option<bool>,
    trust_store_dir: Option<PathBuf>,
    source_checks_per_minute: Option<f64>,
    source_checks_burst: Option<u32>,
    alerts: Option<crate::alerts::settings::AlertsFile>,
    maintenance: Option<bool>,
    maintenance_interval: Option<String>,
    maintenance_small_file_bytes: Option<u64>,
    maintenance_min_small_files: Option<usize>,
    maintenance_target_file_bytes: Option<u64>,
    maintenance_checkpoint_after: Option<u64>,
    maintenance_retention: Option<String>,
}

/// The resolved configuration.
#[derive(Clone, Debug)]
pub struct Config {
    pub data_dir: PathBuf,
    pub metadata_url: Option<Secret>,
    pub listen: SocketAddr,
    pub log_format: LogFormat,
    pub log_level: String,
    /// The lake's root: a local directory or an `s3://bucket/prefix` URL.
    pub lake_root: String,
    /// Lifetime of tokens issued by `POST /ims/token/v3`.
    pub token_ttl: Duration,
    /// Largest accepted request body; larger ones get 413.
    pub max_body_bytes: usize,
    /// Bound on connecting to a source database (DNS, TCP, TLS and authentication).
    pub source_connect_timeout: Duration,
    /// Bound on each explore statement run on a source database.
    pub source_statement_timeout: Duration,
    /// Runs executed at once by this process (0: this process runs none, it only serves
    /// the API and schedules).
    pub workers: usize,
    /// Partitions a run reads a PostgreSQL table in, in parallel.
    pub source_partitions: usize,
    /// Reading connections this process opens to one source server at a time, all runs
    /// together (see [`crate::flows::slots`]).
    pub source_connections: usize,
    /// Rows per Arrow record batch.
    pub batch_rows: usize,
    /// How long after a window's end (by the source's clock) its run starts, so rows
    /// stamped inside the window by transactions that commit late are still read.
    pub settle_lag: Duration,
    /// How long a worker's claim on a run lasts without a heartbeat.
    pub run_lease: Duration,
    /// Attempts at a run (claims, across processes) before it fails: transient failures
    /// are retried until then, and a run whose worker died that many times is abandoned.
    pub run_attempts: u32,
    /// Wait before the first retry; doubled for each further one.
    pub retry_backoff: Duration,
    /// How often idle workers and the scheduler look for work.
    pub poll_interval: Duration,
    /// Changes a change data capture run reads at most (whole transactions: it stops
    /// after the transaction that reaches this); the next run goes on from there.
    pub cdc_changes_per_run: u32,
    /// Consecutive due windows of a flow landed in one commit at most (catch-up).
    pub catch_up_windows: u32,
    /// Runs kept per flow however old (retention, see [`crate::flows::retention`]).
    pub run_retention_keep: usize,
    /// Runs younger than this are kept however many there are.
    pub run_retention_age: Duration,
    /// Secrets-encryption key from `INLET_MASTER_KEY`, else a key file in the data directory.
    pub master_key: Option<Secret>,
    /// Token-signing key from `INLET_TOKEN_KEY`, else a key file in the data directory.
    pub token_key: Option<Secret>,
    /// Test facility: a file holding the flow clock's epoch seconds (see [`crate::flows::clock`]).
    pub clock_file: Option<PathBuf>,
    /// Which networks and hosts sources may be on (docs/security.md).
    pub egress: Arc<EgressPolicy>,
    /// The directory `TrustStore` paths may name files in (canonical); `None`: no paths.
    pub trust_store_dir: Option<PathBuf>,
    /// Connection tests and explores each org may run.
    pub source_checks: RateLimit,
    /// How alert webhooks are delivered (`[alerts]`, docs/alerts.md).
    pub alerts: crate::alerts::AlertSettings,
    /// Maintenance of the datasets' tables (see [`crate::flows::maintenance`]).
    pub maintenance: MaintenanceSettings,
}

/// A token bucket's size and refill rate.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RateLimit {
    /// Requests refilled per minute (fractions allowed).
    pub per_minute: f64,
    /// Requests that may come at once after a quiet spell.
    pub burst: u32,
}

impl Config {
    /// Resolves flags and environment over the file over the defaults.
    pub fn load(args: &ConfigArgs) -> anyhow::Result<Config> {
        let file = match &args.config {
            Some(path) => read_file(path)?,
            None => FileConfig::default(),
        };
        let maintenance = maintenance_settings(&file)?;
        let token_ttl = duration(file.token_ttl.as_deref(), "token_ttl", Duration::from_secs(24 * 3600))?;
        let data_dir: PathBuf = args
            .data_dir
            .clone()
            .or(file.data_dir)
            .unwrap_or_else(|| "inlet-data".into());
        let lake_root = args
            .lake_root
            .clone()
            .or(file.lake_root)
            .unwrap_or_else(|| data_dir.join("lake").display().to_string());
        Ok(Config {
            data_dir,
            lake_root,
            metadata_url: args.metadata_url.clone().or(file.metadata_url).map(Secret::new),
            listen: args.listen.or(file.listen).unwrap_or(([127, 0, 0, 1], 8080).into()),
            log_format: args.log_format.or(file.log_format).unwrap_or(LogFormat::Text),
            log_level: args
                .log_level
                .clone()
                .or(file.log_level)
                .unwrap_or_else(|| "info".into()),
            token_ttl,
            max_body_bytes: file.max_body_bytes.unwrap_or(1024 * 1024),
            source_connect_timeout: duration(
                file.source_connect_timeout.as_deref(),
                "source_connect_timeout",
                Duration::from_secs(10),
            )?,
            source_statement_timeout: duration(
                file.source_statement_timeout.as_deref(),
                "source_statement_timeout",
                Duration::from_secs(30),
            )?,
            workers: file.workers.unwrap_or(2),
            source_partitions: file.source_partitions.unwrap_or_else(default_partitions).max(1),
            source_connections: file.source_connections.unwrap_or(8).max(1),
            batch_rows: file.batch_rows.unwrap_or(8_192).max(1),
            settle_lag: duration(file.settle_lag.as_deref(), "settle_lag", Duration::from_secs(60))?,
            run_lease: duration(file.run_lease.as_deref(), "run_lease", Duration::from_secs(30))?,
            run_attempts: file.run_attempts.unwrap_or(3),
            retry_backoff: duration(file.retry_backoff.as_deref(), "retry_backoff", Duration::from_secs(2))?,
            poll_interval: duration(
                file.poll_interval.as_deref(),
                "poll_interval",
                Duration::from_millis(500),
            )?,
            cdc_changes_per_run: file.cdc_changes_per_run.unwrap_or(1_000_000).max(1),
            catch_up_windows: catch_up_windows(file.catch_up_windows)?,
            run_retention_keep: file.run_retention_keep.unwrap_or(500),
            run_retention_age: duration(
                file.run_retention_age.as_deref(),
                "run_retention_age",
                Duration::from_secs(30 * 86_400),
            )?,
            master_key: env_secret("INLET_MASTER_KEY"),
            token_key: env_secret("INLET_TOKEN_KEY"),
            clock_file: args.clock_file.clone().or(file.clock_file),
            egress: Arc::new(egress_policy(
                file.egress_allow.unwrap_or_default(),
                file.egress_deny.unwrap_or_default(),
                file.egress_builtin_deny.unwrap_or(true),
            )?),
            trust_store_dir: file.trust_store_dir.map(|dir| trust_store_dir(&dir)).transpose()?,
            source_checks: rate_limit(file.source_checks_per_minute, file.source_checks_burst)?,
            alerts: crate::alerts::AlertSettings::from_file(file.alerts)?,
            maintenance,
        })
    }

    /// How explore and tests connect to sources.
    pub fn source_options(&self) -> ConnectOptions {
        ConnectOptions {
            connect_timeout: self.source_connect_timeout,
            statement_timeout: Some(self.source_statement_timeout),
            egress: self.egress.clone(),
            trust_store_dir: self.trust_store_dir.clone(),
            ..ConnectOptions::default()
        }
    }

    /// The settings the run engine and the workers use.
    pub fn run_settings(&self) -> RunSettings {
        RunSettings {
            settle_lag: self.settle_lag,
            batch_rows: self.batch_rows,
            source_partitions: self.source_partitions,
            run_attempts: self.run_attempts,
            retry_backoff: self.retry_backoff,
            run_lease: self.run_lease,
            poll_interval: self.poll_interval,
            cdc_changes_per_run: self.cdc_changes_per_run,
            catch_up_windows: self.catch_up_windows,
            slot_lag_alert_bytes: self.alerts.slot_lag_bytes,
        }
    }

    /// The flow clock: the system clock unless `clock_file` is set.
    pub fn clock(&self) -> Arc<dyn Clock> {
        match &self.clock_file {
            Some(path) => Arc::new(FileClock::new(path)),
            None => Arc::new(SystemClock),
        }
    }

    /// Creates the data directory (owner-only) if it does not exist.
    pub fn ensure_data_dir(&self) -> anyhow::Result<()> {
        std::fs::create_dir_all(&self.data_dir)
            .with_context(|| format!("cannot create data directory {}", self.data_dir.display()))?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&self.data_dir, std::fs::Permissions::from_mode(0o700))?;
        }
        Ok(())
    }
}

fn default_partitions() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get())
}

fn duration(text: Option<&str>, name: &str, default: Duration) -> anyhow::Result<Duration> {
    match text {
        Some(text) => humantime::parse_duration(text)
            .with_context(|| format!("{name} `{text}` is not a duration like 10s, 90m or 24h")),
        None => Ok(default),
    }
}

fn maintenance_settings(file: &FileConfig) -> anyhow::Result<MaintenanceSettings> {
    MaintenanceSettings::parse(
        file.maintenance,
        duration(
            file.maintenance_interval.as_deref(),
            "maintenance_interval",
            Duration::from_secs(300),
        )?,
        file.maintenance_small_file_bytes,
        file.maintenance_min_small_files,
        file.maintenance_target_file_bytes,
        file.maintenance_checkpoint_after,
        duration(
            file.maintenance_retention.as_deref(),
            "maintenance_retention",
            Duration::from_secs(7 * 86_400),
        )?,
    )
}

/// `catch_up_windows`: 50 by default, 1 (each window its own commit) to 1,000.
fn catch_up_windows(windows: Option<u32>) -> anyhow::Result<u32> {
    match windows.unwrap_or(50) {
        windows @ 1..=1000 => Ok(windows),
        other => anyhow::bail!("catch_up_windows must be from 1 (each window in its own commit) to 1000, not {other}"),
    }
}

fn egress_policy(allow: Vec<String>, deny: Vec<String>, builtin: bool) -> anyhow::Result<EgressPolicy> {
    EgressPolicy::new(&allow, &deny, builtin).map_err(|e| anyhow::anyhow!("egress_allow / egress_deny: {e}"))
}

fn trust_store_dir(dir: &Path) -> anyhow::Result<PathBuf> {
    let canonical =
        std::fs::canonicalize(dir).with_context(|| format!("trust_store_dir {} cannot be opened", dir.display()))?;
    anyhow::ensure!(
        canonical.is_dir(),
        "trust_store_dir {} is not a directory",
        dir.display()
    );
    Ok(canonical)
}

fn rate_limit(per_minute: Option<f64>, burst: Option<u32>) -> anyhow::Result<RateLimit> {
    let limit = RateLimit {
        per_minute: per_minute.unwrap_or(30.0),
        burst: burst.unwrap_or(10),
    };
    anyhow::ensure!(
        limit.per_minute.is_finite() && limit.per_minute > 0.0 && limit.burst >= 1,
        "source_checks_per_minute must be a number above 0 and source_checks_burst at least 1"
    );
    Ok(limit)
}

fn read_file(path: &Path) -> anyhow::Result<FileConfig> {
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read config file {}", path.display()))?;
    toml::from_str(&text).with_context(|| format!("config file {}", path.display()))
}

fn env_secret(name: &str) -> Option<Secret> {
    std::env::var(name).ok().filter(|v| !v.is_empty()).map(Secret::new)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_win_over_the_file_and_the_file_over_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("inlet.toml");
        std::fs::write(
            &file,
            "listen = \"0.0.0.0:9000\"\nlog_level = \"debug\"\ntoken_ttl = \"2h\"\n",
        )
        .unwrap();
        let args = ConfigArgs {
            config: Some(file),
            log_level: Some("warn".into()),
            ..ConfigArgs::default()
        };
        let config = Config::load(&args).unwrap();
        assert_eq!(config.listen, "0.0.0.0:9000".parse().unwrap());
        assert_eq!(config.log_level, "warn");
        assert_eq!(config.token_ttl, Duration::from_secs(7200));
        assert_eq!(config.data_dir, PathBuf::from("inlet-data"));
        assert_eq!(config.lake_root, "inlet-data/lake");
    }

    #[test]
    fn catch_up_windows_are_bounded() {
        assert_eq!(catch_up_windows(None).unwrap(), 50);
        assert_eq!(catch_up_windows(Some(1)).unwrap(), 1);
        let error = catch_up_windows(Some(0)).unwrap_err().to_string();
        assert!(
            error.contains("from 1 (each window in its own commit) to 1000, not 0"),
            "{error}"
        );
        assert!(catch_up_windows(Some(1001)).is_err());
    }

    #[test]
    fn the_lake_root_comes_from_the_flag_or_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("inlet.toml");
        std::fs::write(&file, "lake_root = \"s3://bucket/lake\"\n").unwrap();
        let mut args = ConfigArgs {
            config: Some(file),
            ..ConfigArgs::default()
        };
        assert_eq!(Config::load(&args).unwrap().lake_root, "s3://bucket/lake");
        args.lake_root = Some("/srv/lake".into());
        assert_eq!(Config::load(&args).unwrap().lake_root, "/srv/lake");
    }

    #[test]
    fn egress_trust_and_rate_settings_are_read_and_checked() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("inlet.toml");
        let load = |text: String| {
            std::fs::write(&file, text).unwrap();
            Config::load(&ConfigArgs {
                config: Some(file.clone()),
                ..ConfigArgs::default()
            })
        };
        let config = load(format!(
            "egress_deny = [\"127.0.0.2/32\"]\ntrust_store_dir = {:?}\nsource_checks_per_minute = 0.5\n",
            dir.path().to_str().unwrap()
        ))
        .unwrap();
        assert!(config.egress.check_host("127.0.0.2").is_err());
        assert!(config.egress.check_host("169.254.169.254").is_err());
        assert_eq!(config.trust_store_dir, Some(std::fs::canonicalize(dir.path()).unwrap()));
        assert_eq!(
            config.source_checks,
            RateLimit {
                per_minute: 0.5,
                burst: 10
            }
        );
        assert_eq!(config.source_options().trust_store_dir, config.trust_store_dir);
        let defaults = load(String::new()).unwrap();
        assert_eq!(
            (defaults.trust_store_dir, defaults.source_checks.per_minute),
            (None, 30.0)
        );
        for (bad, named) in [
            ("egress_allow = [\"10.0.0.0/40\"]", "10.0.0.0/40"),
            ("trust_store_dir = \"/no/such/dir\"", "/no/such/dir"),
            ("source_checks_per_minute = 0", "source_checks_per_minute"),
        ] {
            let error = format!("{:#}", load(bad.to_string()).unwrap_err());
            assert!(error.contains(named), "{error}");
        }
    }

    #[test]
    fn an_unknown_file_key_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("inlet.toml");
        std::fs::write(&file, "lisen = \"0.0.0.0:9000\"\n").unwrap();
        let args = ConfigArgs {
            config: Some(file),
            ..ConfigArgs::default()
        };
        let error = format!("{:#}", Config::load(&args).unwrap_err());
        assert!(error.contains("lisen"), "{error}");
    }
}
