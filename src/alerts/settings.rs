//! The operator's alert settings: the `[alerts]` table of the configuration file.

use std::time::Duration;

use serde::Deserialize;

/// `[alerts]` as written in the configuration file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertsFile {
    allow_http: Option<bool>,
    timeout: Option<String>,
    retry_for: Option<String>,
    first_backoff: Option<String>,
    max_backoff: Option<String>,
    delivery_tasks: Option<usize>,
    delay_after: Option<String>,
    keep_for: Option<String>,
    slot_lag_bytes: Option<u64>,
    slot_check_every: Option<String>,
    freshness_after: Option<String>,
    failed_records_percent: Option<f64>,
}

/// How webhooks are delivered.
#[derive(Clone, Debug, PartialEq)]
pub struct AlertSettings {
    /// Whether subscriptions may name a plain `http://` URL (the egress policy still
    /// decides where): off by default, so signed events travel encrypted.
    pub allow_http: bool,
    /// Bound on one delivery: connecting, sending and reading the answer.
    pub timeout: Duration,
    /// How long a delivery is retried after its event was written before it is dead.
    pub retry_for: Duration,
    /// Wait before the first retry; doubled for each further one, up to `max_backoff`.
    pub first_backoff: Duration,
    /// Longest wait between two attempts.
    pub max_backoff: Duration,
    /// Deliveries this process makes at once.
    pub delivery_tasks: usize,
    /// A run not ended this long after it was due (by the flow clock) is reported as
    /// delayed (`flow.run.delay`).
    pub delay_after: Duration,
    /// Events and their finished deliveries are removed this long after the event.
    pub keep_for: Duration,
    /// WAL a change data capture flow's slot may retain after a run before the run
    /// reports `cdc.slot.lag`.
    pub slot_lag_bytes: u64,
    /// How often each change data capture flow's slot is looked at between runs (a
    /// disabled flow's too), for its gauge and `cdc.slot.lag`.
    pub slot_check_every: Duration,
    /// A flow whose newest landed data is older than this (by the flow clock), or that
    /// landed nothing this long after its first run was due, is reported as stale
    /// (`flow.freshness`); `None`: never.
    pub freshness_after: Option<Duration>,
    /// A run that skipped more than this percent of its input records reports
    /// `flow.run.partial`; 0: any skipped record. A flow's `inletAlerts` may set its own.
    pub failed_records_percent: f64,
}

impl Default for AlertSettings {
    fn default() -> Self {
        AlertSettings {
            allow_http: false,
            timeout: Duration::from_secs(10),
            retry_for: Duration::from_secs(24 * 3600),
            first_backoff: Duration::from_secs(10),
            max_backoff: Duration::from_secs(3600),
            delivery_tasks: 4,
            delay_after: Duration::from_secs(150 * 60),
            keep_for: Duration::from_secs(30 * 86_400),
            slot_lag_bytes: 1 << 30,
            slot_check_every: Duration::from_secs(300),
            freshness_after: None,
            failed_records_percent: 0.0,
        }
    }
}

impl AlertSettings {
    /// The settings from the file's `[alerts]` table; `alerts.<name>` names a bad value.
    pub fn from_file(file: Option<AlertsFile>) -> anyhow::Result<AlertSettings> {
        let file = file.unwrap_or_default();
        let base = AlertSettings::default();
        let duration = |text: Option<&str>, name: &str, default: Duration| -> anyhow::Result<Duration> {
            match text {
                None => Ok(default),
                Some(text) => humantime::parse_duration(text)
                    .map_err(|_| anyhow::anyhow!("alerts.{name}: `{text}` is not a duration such as 10s or 24h")),
            }
        };
        let settings = AlertSettings {
            allow_http: file.allow_http.unwrap_or(base.allow_http),
            timeout: duration(file.timeout.as_deref(), "timeout", base.timeout)?,
            retry_for: duration(file.retry_for.as_deref(), "retry_for", base.retry_for)?,
            first_backoff: duration(file.first_backoff.as_deref(), "first_backoff", base.first_backoff)?,
            max_backoff: duration(file.max_backoff.as_deref(), "max_backoff", base.max_backoff)?,
            delivery_tasks: file.delivery_tasks.unwrap_or(base.delivery_tasks).max(1),
            delay_after: duration(file.delay_after.as_deref(), "delay_after", base.delay_after)?,
            keep_for: duration(file.keep_for.as_deref(), "keep_for", base.keep_for)?,
            slot_lag_bytes: file.slot_lag_bytes.unwrap_or(base.slot_lag_bytes),
            slot_check_every: duration(
                file.slot_check_every.as_deref(),
                "slot_check_every",
                base.slot_check_every,
            )?,
            freshness_after: match file.freshness_after.as_deref() {
                None => None,
                Some(text) => Some(duration(Some(text), "freshness_after", Duration::ZERO)?),
            },
            failed_records_percent: file.failed_records_percent.unwrap_or(base.failed_records_percent),
        };
        if !(0.0..100.0).contains(&settings.failed_records_percent) {
            anyhow::bail!("alerts.failed_records_percent must be from 0 up to, not including, 100");
        }
        if settings.slot_check_every < Duration::from_secs(1) {
            anyhow::bail!("alerts.slot_check_every must be a second or more");
        }
        if settings.timeout.is_zero() {
            anyhow::bail!("alerts.timeout must be more than zero");
        }
        if settings.keep_for <= settings.retry_for {
            anyhow::bail!(
                "alerts.keep_for must be longer than alerts.retry_for: deliveries still retried would be removed"
            );
        }
        Ok(settings)
    }

    /// The wait after attempt `attempt` (from 1) failed.
    pub fn backoff(&self, attempt: i64) -> Duration {
        let doublings = u32::try_from(attempt.saturating_sub(1)).unwrap_or(u32::MAX).min(30);
        self.first_backoff
            .saturating_mul(2u32.saturating_pow(doublings))
            .min(self.max_backoff)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_bad_durations_are_named() {
        assert_eq!(AlertSettings::from_file(None).unwrap(), AlertSettings::default());
        let file: AlertsFile = toml::from_str("timeout = \"soon\"").unwrap();
        let error = AlertSettings::from_file(Some(file)).unwrap_err().to_string();
        assert!(error.contains("alerts.timeout"), "{error}");
        assert!(toml::from_str::<AlertsFile>("allow_htttp = true").is_err());
        let file: AlertsFile = toml::from_str("keep_for = \"1h\"").unwrap();
        let error = AlertSettings::from_file(Some(file)).unwrap_err().to_string();
        assert!(error.contains("alerts.keep_for"), "{error}");
        let file: AlertsFile = toml::from_str("failed_records_percent = 100.0").unwrap();
        let error = AlertSettings::from_file(Some(file)).unwrap_err().to_string();
        assert!(error.contains("alerts.failed_records_percent"), "{error}");
        let file: AlertsFile = toml::from_str("slot_check_every = \"10ms\"").unwrap();
        let error = AlertSettings::from_file(Some(file)).unwrap_err().to_string();
        assert!(error.contains("alerts.slot_check_every"), "{error}");
    }

    #[test]
    fn backoff_doubles_up_to_its_bound() {
        let settings = AlertSettings::default();
        assert_eq!(settings.backoff(1), Duration::from_secs(10));
        assert_eq!(settings.backoff(2), Duration::from_secs(20));
        assert_eq!(settings.backoff(4), Duration::from_secs(80));
        assert_eq!(settings.backoff(40), Duration::from_secs(3600));
    }
}
