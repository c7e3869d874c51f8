//! A flow's own alert thresholds: Inlet's `inletAlerts` extension of the flow document
//! (docs/alerts.md). Each one left out falls back to the operator's `[alerts]` setting.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::settings::AlertSettings;
use crate::specs::Violation;

/// Where the extension sits on a flow's document and in requests.
pub const FIELD: &str = "inletAlerts";

/// Bounds of `delayAfterMinutes`: a minute to a week.
pub const DELAY_MINUTES: (u64, u64) = (1, 7 * 24 * 60);
/// Bounds of `freshnessAfterMinutes`: a minute to 30 days.
pub const FRESHNESS_MINUTES: (u64, u64) = (1, 30 * 24 * 60);
/// Bounds of `slotLagBytes`: one byte to a pebibyte.
pub const SLOT_LAG_BYTES: (u64, u64) = (1, 1 << 50);

/// `inletAlerts` as stored on a flow and shown on its item: every field optional.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FlowThresholds {
    /// `flow.run.delay` once a run has not ended this many minutes after it was due
    /// (1 to 10080); default `alerts.delay_after` (150 minutes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(minimum = 1, maximum = 10080)]
    pub delay_after_minutes: Option<u64>,
    /// `flow.freshness` once the flow's newest success ended this many minutes ago (1 to
    /// 43200); default `alerts.freshness_after` (off unless set).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(minimum = 1, maximum = 43200)]
    pub freshness_after_minutes: Option<u64>,
    /// `flow.run.partial` only when a run skipped more than this percent of its input
    /// records (0 up to, not including, 100); default `alerts.failed_records_percent` (0:
    /// any skipped record).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(minimum = 0, exclusive_maximum = 100)]
    pub failed_records_percent: Option<f64>,
    /// `cdc.slot.lag` once the flow's replication slot retains more WAL than this after a
    /// run (1 to 2^50); default `alerts.slot_lag_bytes` (1 GiB).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(minimum = 1, maximum = 1125899906842624_u64)]
    pub slot_lag_bytes: Option<u64>,
}

/// A whole number of `value` within `bounds`, or the violation naming `path` and the bounds.
fn bounded(value: &Value, path: String, (low, high): (u64, u64), unit: &str) -> Result<Option<u64>, Violation> {
    match value {
        Value::Null => Ok(None),
        Value::Number(n) => match n.as_u64() {
            Some(v) if (low..=high).contains(&v) => Ok(Some(v)),
            _ => Err(Violation::new(
                path,
                format!("must be a whole number of {unit} from {low} to {high}"),
            )),
        },
        _ => Err(Violation::new(
            path,
            format!("must be a whole number of {unit} from {low} to {high} (a JSON number)"),
        )),
    }
}

impl FlowThresholds {
    /// Reads `inletAlerts` from a request or a stored flow; absent or null: none set.
    /// Each violation names its field (`/inletAlerts/delayAfterMinutes`) and the range.
    pub fn parse(value: &Value) -> Result<FlowThresholds, Vec<Violation>> {
        let fields = match value {
            Value::Null => return Ok(FlowThresholds::default()),
            Value::Object(fields) => fields,
            _ => {
                return Err(vec![Violation::new(
                    format!("/{FIELD}"),
                    "must be an object: {delayAfterMinutes, freshnessAfterMinutes, failedRecordsPercent, slotLagBytes}",
                )]);
            }
        };
        let mut violations = Vec::new();
        let path = |name: &str| format!("/{FIELD}/{name}");
        for name in fields.keys() {
            if ![
                "delayAfterMinutes",
                "freshnessAfterMinutes",
                "failedRecordsPercent",
                "slotLagBytes",
            ]
            .contains(&name.as_str())
            {
                violations.push(Violation::new(
                    path(name),
                    "is not a threshold: delayAfterMinutes, freshnessAfterMinutes, failedRecordsPercent and slotLagBytes are",
                ));
            }
        }
        let mut take = |name: &str, bounds, unit| {
            bounded(&value[name], path(name), bounds, unit)
                .map_err(|v| violations.push(v))
                .unwrap_or_default()
        };
        let delay_after_minutes = take("delayAfterMinutes", DELAY_MINUTES, "minutes");
        let freshness_after_minutes = take("freshnessAfterMinutes", FRESHNESS_MINUTES, "minutes");
        let slot_lag_bytes = take("slotLagBytes", SLOT_LAG_BYTES, "bytes");
        let failed_records_percent = match &value["failedRecordsPercent"] {
            Value::Null => None,
            Value::Number(n) if n.as_f64().is_some_and(|p| (0.0..100.0).contains(&p)) => n.as_f64(),
            _ => {
                violations.push(Violation::new(
                    path("failedRecordsPercent"),
                    "must be a number from 0 up to, not including, 100 (a JSON number)",
                ));
                None
            }
        };
        if !violations.is_empty() {
            return Err(violations);
        }
        Ok(FlowThresholds {
            delay_after_minutes,
            freshness_after_minutes,
            failed_records_percent,
            slot_lag_bytes,
        })
    }

    /// Whether none is set (the flow follows the server's settings only).
    pub fn is_empty(&self) -> bool {
        *self == FlowThresholds::default()
    }

    /// How long a run may stay unended after it was due.
    pub fn delay_after(&self, settings: &AlertSettings) -> Duration {
        self.delay_after_minutes
            .map_or(settings.delay_after, |m| Duration::from_secs(m * 60))
    }

    /// How long after its newest success the flow is stale; `None`: never.
    pub fn freshness_after(&self, settings: &AlertSettings) -> Option<Duration> {
        self.freshness_after_minutes
            .map(|m| Duration::from_secs(m * 60))
            .or(settings.freshness_after)
    }

    /// The share of input records (percent) a run may skip before `flow.run.partial`.
    pub fn failed_records_percent(&self, settings: &AlertSettings) -> f64 {
        self.failed_records_percent.unwrap_or(settings.failed_records_percent)
    }

    /// The WAL the flow's slot may retain after a run before `cdc.slot.lag`.
    pub fn slot_lag_bytes(&self, server: u64) -> u64 {
        self.slot_lag_bytes.unwrap_or(server)
    }
}

/// Whether a run that read `input` records and skipped `failed` is above `percent`:
/// `flow.run.partial` is sent only then (and never when nothing was skipped).
pub fn partial_above(failed: u64, input: u64, percent: f64) -> bool {
    if failed == 0 {
        return false;
    }
    // Failed records are part of the input; an input count of 0 with failures is all failed.
    let share = if input == 0 {
        100.0
    } else {
        failed as f64 * 100.0 / input as f64
    };
    share > percent
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn thresholds_parse_within_their_bounds_and_fall_back_to_the_server() {
        let given = json!({"delayAfterMinutes": 5, "freshnessAfterMinutes": 60, "failedRecordsPercent": 0.5,
            "slotLagBytes": 1024});
        let parsed = FlowThresholds::parse(&given).unwrap();
        assert_eq!(serde_json::to_value(&parsed).unwrap(), given);
        let settings = AlertSettings::default();
        assert_eq!(parsed.delay_after(&settings), Duration::from_secs(300));
        assert_eq!(parsed.freshness_after(&settings), Some(Duration::from_secs(3600)));
        assert_eq!(parsed.failed_records_percent(&settings), 0.5);
        assert_eq!(parsed.slot_lag_bytes(7), 1024);
        let none = FlowThresholds::parse(&Value::Null).unwrap();
        assert!(none.is_empty());
        assert_eq!(none.delay_after(&settings), settings.delay_after);
        assert_eq!(none.freshness_after(&settings), None);
        assert_eq!(none.failed_records_percent(&settings), 0.0);
        assert_eq!(none.slot_lag_bytes(7), 7);
    }

    #[test]
    fn bad_thresholds_are_refused_by_their_path() {
        let refused = |value: Value| -> Vec<String> {
            FlowThresholds::parse(&value)
                .unwrap_err()
                .into_iter()
                .map(|v| v.path)
                .collect()
        };
        assert_eq!(refused(json!(5)), ["/inletAlerts"]);
        assert_eq!(
            refused(json!({"delayAfterMinutes": 0})),
            ["/inletAlerts/delayAfterMinutes"]
        );
        assert_eq!(
            refused(json!({"delayAfterMinutes": 10081})),
            ["/inletAlerts/delayAfterMinutes"]
        );
        assert_eq!(
            refused(json!({"delayAfterMinutes": 1.5})),
            ["/inletAlerts/delayAfterMinutes"]
        );
        assert_eq!(
            refused(json!({"delayAfterMinutes": "5"})),
            ["/inletAlerts/delayAfterMinutes"]
        );
        assert_eq!(
            refused(json!({"freshnessAfterMinutes": -1})),
            ["/inletAlerts/freshnessAfterMinutes"]
        );
        assert_eq!(
            refused(json!({"failedRecordsPercent": 100})),
            ["/inletAlerts/failedRecordsPercent"]
        );
        assert_eq!(
            refused(json!({"failedRecordsPercent": -0.1})),
            ["/inletAlerts/failedRecordsPercent"]
        );
        assert_eq!(refused(json!({"slotLagBytes": 0})), ["/inletAlerts/slotLagBytes"]);
        assert_eq!(refused(json!({"delayAfter": 5})), ["/inletAlerts/delayAfter"]);
        let message = FlowThresholds::parse(&json!({"delayAfterMinutes": 0})).unwrap_err()[0]
            .message
            .clone();
        assert!(message.contains("from 1 to 10080"), "{message}");
    }

    #[test]
    fn partial_is_judged_against_the_share_of_input_records() {
        assert!(!partial_above(0, 100, 0.0));
        assert!(partial_above(1, 1000, 0.0));
        assert!(!partial_above(5, 1000, 0.5));
        assert!(partial_above(6, 1000, 0.5));
        assert!(partial_above(3, 0, 50.0));
    }
}
