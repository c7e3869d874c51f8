//! What a new user meets in the first minute: a full copy that runs when it is due, not a
//! settle lag later; a log that shows Inlet's own lines, not delta-rs's internals.

use std::time::Duration;

use serde_json::json;

use crate::dataflows::{Lab, status};

const ORDERS: &str = "CREATE TABLE public.orders (id bigint PRIMARY KEY, note text);
    INSERT INTO public.orders SELECT g, 'n' || g FROM generate_series(1, 20) g;";

/// The settle lag is a minute here, as by default: a `once` full copy due at its start
/// time runs then, with the clock held at the start time (a settle-lag wait would never
/// end), and the default `info` log holds the run's lines and none of delta-rs's.
#[tokio::test]
async fn a_full_copy_runs_at_its_start_time_and_the_log_is_inlets() {
    let now = chrono::Utc::now().timestamp();
    let lab = Lab::start(now, ORDERS, "settle_lag = \"60s\"\n");
    let (source, target, _dataset) = lab.connections("public.orders").await;
    let flow = lab
        .flow(
            &source,
            &target,
            json!([]),
            json!({"startTime": (now + 3).to_string(), "frequency": "once"}),
        )
        .await;
    lab.set_clock(now + 3);
    let runs = lab.ended_runs(&flow, 1, Duration::from_secs(45)).await;
    assert_eq!(status(&runs[0]), "success", "{:#}", runs[0]);
    assert_eq!(runs[0]["metrics"]["recordSummary"]["outputRecordCount"], 20);

    let logs = lab.inlet.logs();
    assert!(logs.contains("run scheduled"), "{logs}");
    for internal in ["snap.build", "deltalake", "delta_kernel"] {
        assert!(!logs.contains(internal), "{internal} in the default log:\n{logs}");
    }
}
