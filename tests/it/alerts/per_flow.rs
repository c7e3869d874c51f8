//! Per-flow thresholds (`inletAlerts`): a flow with its own delay, freshness or
//! failed-records threshold gets its event while a flow on the server's settings does
//! not; bad thresholds are refused at the edge, naming the field and the range.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use super::receiver::{Answer, Receiver};
use super::webhooks::{alerts, of_type, subscribe_to, until};
use crate::dataflows::{FLOW_SPEC, Lab, status};
use crate::flows_api::detail_paths;

/// A `once` flow of `table` starting at `start`, with `extra` fields merged into its body.
async fn flow_with(lab: &Lab, table: &str, start: i64, extra: Value) -> String {
    let (source, target, _) = lab.connections(table).await;
    let mut body = json!({
        "name": table, "flowSpec": {"id": FLOW_SPEC, "version": "1.0"},
        "sourceConnectionIds": [source], "targetConnectionIds": [target], "transformations": [],
        "scheduleParams": {"startTime": start.to_string(), "frequency": "once"}});
    body.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
    let reply = lab.api.post("/flows", &body).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    reply.body["id"].as_str().unwrap().to_string()
}

async fn flow_item(lab: &Lab, flow: &str) -> Value {
    let reply = lab.api.get(&format!("/flows/{flow}")).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    reply.body["items"][0].clone()
}

const ORDERS: &str = "CREATE TABLE public.orders (id bigint PRIMARY KEY, total numeric(12,2));
    INSERT INTO public.orders SELECT g, g * 1.25 FROM generate_series(1, 20) g;";

#[tokio::test]
async fn a_flow_with_a_short_delay_threshold_is_reported_and_one_on_the_default_is_not() {
    // No workers: the runs stay waiting; the server's delay threshold stays 150 minutes.
    let config = format!("workers = 0\n{}", alerts("3s", 2));
    let lab = Lab::start(chrono::Utc::now().timestamp(), ORDERS, &config);
    let receiver = Receiver::start(Answer::Ok).await;
    subscribe_to(&lab, &receiver.url(), &["flow.run.delay"]).await;
    let start = chrono::Utc::now().timestamp() + 2;
    let quick = flow_with(
        &lab,
        "public.orders",
        start,
        json!({"inletAlerts": {"delayAfterMinutes": 5}}),
    )
    .await;
    let default = flow_with(&lab, "public.orders", start, json!({})).await;
    assert_eq!(
        flow_item(&lab, &quick).await["inletAlerts"],
        json!({"delayAfterMinutes": 5})
    );
    assert!(flow_item(&lab, &default).await.get("inletAlerts").is_none());
    lab.set_clock(start + 4 * 60);
    // Several delay scans pass before the flow's 5 minutes are crossed.
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert!(of_type(&receiver.received(), "flow.run.delay", None).is_empty());
    lab.set_clock(start + 6 * 60);
    let got = until(&receiver, "the quick flow's delay event", |got| {
        !of_type(got, "flow.run.delay", Some(&quick)).is_empty()
    })
    .await;
    assert_eq!(
        of_type(&got, "flow.run.delay", Some(&quick))[0].json()["data"]["status"],
        "scheduled"
    );
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert!(
        of_type(&receiver.received(), "flow.run.delay", Some(&default)).is_empty(),
        "the flow on the server's 150 minutes is not late yet"
    );
    // Past the server's threshold the other flow is reported too.
    lab.set_clock(start + 151 * 60);
    until(&receiver, "the default flow's delay event", |got| {
        !of_type(got, "flow.run.delay", Some(&default)).is_empty()
    })
    .await;
}

#[tokio::test]
async fn bad_thresholds_are_refused_and_thresholds_are_patched_and_removed() {
    let lab = Lab::start(chrono::Utc::now().timestamp(), ORDERS, "workers = 0\n");
    let start = chrono::Utc::now().timestamp() + 60;
    let (source, target, _) = lab.connections("public.orders").await;
    let body = |alerts: Value| {
        json!({
            "name": "orders", "flowSpec": {"id": FLOW_SPEC, "version": "1.0"},
            "sourceConnectionIds": [source], "targetConnectionIds": [target], "transformations": [],
            "scheduleParams": {"startTime": start.to_string(), "frequency": "once"},
            "inletAlerts": alerts})
    };
    let cases = [
        (
            json!({"delayAfterMinutes": 0}),
            "/inletAlerts/delayAfterMinutes",
            "from 1 to 10080",
        ),
        (
            json!({"delayAfterMinutes": "5"}),
            "/inletAlerts/delayAfterMinutes",
            "from 1 to 10080",
        ),
        (
            json!({"freshnessAfterMinutes": 43201}),
            "/inletAlerts/freshnessAfterMinutes",
            "from 1 to 43200",
        ),
        (
            json!({"failedRecordsPercent": 100}),
            "/inletAlerts/failedRecordsPercent",
            "not including, 100",
        ),
        (json!({"slotLagBytes": -5}), "/inletAlerts/slotLagBytes", "bytes"),
        (json!({"delay": 5}), "/inletAlerts/delay", "is not a threshold"),
        (json!([5]), "/inletAlerts", "must be an object"),
    ];
    for (alerts, path, says) in &cases {
        let reply = lab.api.post("/flows", &body(alerts.clone())).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{alerts}: {}", reply.body);
        assert!(
            detail_paths(&reply).contains(&path.to_string()),
            "{alerts}: {}",
            reply.body
        );
        assert!(reply.body.to_string().contains(says), "{alerts}: {}", reply.body);
    }
    let reply = lab
        .api
        .post("/flows", &body(json!({"failedRecordsPercent": 0.5})))
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    let flow = reply.body["id"].as_str().unwrap().to_string();
    let path = format!("/flows/{flow}");
    let etag = flow_item(&lab, &flow).await["etag"].as_str().unwrap().to_string();
    let bad = json!([{"op": "replace", "path": "/inletAlerts/failedRecordsPercent", "value": 101}]);
    let reply = lab.api.patch(&path, Some(&etag), &bad).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{}", reply.body);
    assert!(detail_paths(&reply).contains(&"/inletAlerts/failedRecordsPercent".to_string()));
    let good = json!([{"op": "add", "path": "/inletAlerts/freshnessAfterMinutes", "value": 90}]);
    let reply = lab.api.patch(&path, Some(&etag), &good).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let item = flow_item(&lab, &flow).await;
    assert_eq!(
        item["inletAlerts"],
        json!({"failedRecordsPercent": 0.5, "freshnessAfterMinutes": 90})
    );
    let etag = item["etag"].as_str().unwrap().to_string();
    let remove = json!([{"op": "remove", "path": "/inletAlerts"}]);
    let reply = lab.api.patch(&path, Some(&etag), &remove).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert!(flow_item(&lab, &flow).await.get("inletAlerts").is_none());
}

/// 20 orders, one (5 %) holding NaN: a flow whose threshold is 10 % sends no partial
/// event for it, one whose threshold is 2 % does.
#[tokio::test]
async fn partial_is_sent_only_above_the_flows_failed_records_percent() {
    let orders = format!("{ORDERS} UPDATE public.orders SET total = 'NaN' WHERE id = 7;");
    let lab = Lab::start(chrono::Utc::now().timestamp(), &orders, &alerts("3s", 2));
    let receiver = Receiver::start(Answer::Ok).await;
    subscribe_to(&lab, &receiver.url(), &["flow.run.partial", "flow.run.success"]).await;
    let start = chrono::Utc::now().timestamp() + 2;
    let skip = json!({"partialIngestionPercent": 50});
    let tolerant = flow_with(
        &lab,
        "public.orders",
        start,
        json!({"options": skip, "inletAlerts": {"failedRecordsPercent": 10}}),
    )
    .await;
    let strict = flow_with(
        &lab,
        "public.orders",
        start,
        json!({"options": skip, "inletAlerts": {"failedRecordsPercent": 2}}),
    )
    .await;
    lab.set_clock(start);
    for flow in [&tolerant, &strict] {
        let run = lab.ended_runs(flow, 1, Duration::from_secs(60)).await.remove(0);
        assert_eq!(status(&run), "success", "{run:#}");
        assert_eq!(run["metrics"]["recordSummary"]["failedRecordCount"], 1, "{run:#}");
    }
    let got = until(&receiver, "the strict flow's partial and both successes", |got| {
        !of_type(got, "flow.run.partial", Some(&strict)).is_empty()
            && !of_type(got, "flow.run.success", Some(&tolerant)).is_empty()
    })
    .await;
    let partial = of_type(&got, "flow.run.partial", Some(&strict))[0].json();
    assert_eq!(partial["data"]["metrics"]["recordSummary"]["failedRecordCount"], 1);
    // The tolerant flow's partial event was written with its success and fanned out to no one.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(of_type(&receiver.received(), "flow.run.partial", Some(&tolerant)).is_empty());
}

/// The server sets no freshness target; a flow setting one minute is reported stale once
/// its landed data is a minute old by the flow clock, the other flow never.
#[tokio::test]
async fn a_flow_with_its_own_freshness_target_is_reported_stale_and_one_without_is_not() {
    let lab = Lab::start(chrono::Utc::now().timestamp(), ORDERS, &alerts("3s", 2));
    let receiver = Receiver::start(Answer::Ok).await;
    subscribe_to(&lab, &receiver.url(), &["flow.freshness"]).await;
    let start = chrono::Utc::now().timestamp() + 2;
    let watched = flow_with(
        &lab,
        "public.orders",
        start,
        json!({"inletAlerts": {"freshnessAfterMinutes": 1}}),
    )
    .await;
    let unwatched = flow_with(&lab, "public.orders", start, json!({})).await;
    lab.set_clock(start);
    let run = lab.ended_runs(&watched, 1, Duration::from_secs(60)).await.remove(0);
    assert_eq!(status(&run), "success", "{run:#}");
    let other = lab.ended_runs(&unwatched, 1, Duration::from_secs(60)).await.remove(0);
    assert_eq!(status(&other), "success", "{other:#}");
    // 59 seconds old: not yet.
    lab.set_clock(start + 59);
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert!(of_type(&receiver.received(), "flow.freshness", None).is_empty());
    lab.set_clock(start + 61);
    let got = until(&receiver, "the freshness event", |got| {
        !of_type(got, "flow.freshness", Some(&watched)).is_empty()
    })
    .await;
    let stale = of_type(&got, "flow.freshness", Some(&watched))[0].json();
    assert_eq!(stale["data"]["runId"], run["id"], "{stale:#}");
    assert_eq!(stale["data"]["landedUpTo"], start, "{stale:#}");
    // The other flow ended at the same time and is as old: it has no target.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(of_type(&receiver.received(), "flow.freshness", Some(&unwatched)).is_empty());
}

/// Two change data capture flows, the server's slot lag threshold at its 1 GiB: the one
/// whose `slotLagBytes` is 1 reports `cdc.slot.lag` after its run, the other does not.
#[tokio::test]
async fn a_cdc_flow_with_its_own_slot_lag_threshold_reports_it_and_one_without_does_not() {
    use crate::dataflows::cdc::{cdc_flow, cdc_lab, run_window};
    let tables = "CREATE TABLE public.a (id bigint PRIMARY KEY, n bigint NOT NULL);
        CREATE TABLE public.b (id bigint PRIMARY KEY, n bigint NOT NULL);
        INSERT INTO public.a SELECT g, g FROM generate_series(1, 50) g;
        INSERT INTO public.b SELECT g, g FROM generate_series(1, 50) g;
        ALTER TABLE public.a OWNER TO reader; ALTER TABLE public.b OWNER TO reader;";
    let lab = cdc_lab(tables, &alerts("3s", 2));
    let receiver = Receiver::start(Answer::Ok).await;
    subscribe_to(&lab, &receiver.url(), &["cdc.slot.lag", "flow.run.success"]).await;
    let (watched, _) = cdc_flow(&lab, "public.a").await;
    let (unwatched, _) = cdc_flow(&lab, "public.b").await;
    let etag = flow_item(&lab, &watched).await["etag"].as_str().unwrap().to_string();
    let set = json!([{"op": "add", "path": "/inletAlerts", "value": {"slotLagBytes": 1}}]);
    let reply = lab.api.patch(&format!("/flows/{watched}"), Some(&etag), &set).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(status(&run_window(&lab, &watched, 1).await), "success");
    assert_eq!(status(&run_window(&lab, &unwatched, 1).await), "success");
    let got = until(&receiver, "the watched flow's slot lag and both successes", |got| {
        !of_type(got, "cdc.slot.lag", Some(&watched)).is_empty()
            && !of_type(got, "flow.run.success", Some(&unwatched)).is_empty()
    })
    .await;
    let lag = of_type(&got, "cdc.slot.lag", Some(&watched))[0].json();
    assert!(lag["data"]["retainedWalBytes"].as_u64().unwrap() > 1, "{lag:#}");
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(of_type(&receiver.received(), "cdc.slot.lag", Some(&unwatched)).is_empty());
}
