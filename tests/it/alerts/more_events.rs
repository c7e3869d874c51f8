//! The partial and delay events: a run that skipped failed records, and a run left
//! waiting past `alerts.delay_after` by the flow clock, reported once.

use std::time::Duration;

use serde_json::json;

use super::receiver::{Answer, Receiver};
use super::webhooks::{alerts, future_flow, of_type, subscribe_to, until};
use crate::dataflows::{Lab, status};

/// 20 orders; order 7's total is NaN, which the dataset cannot hold.
const ORDERS: &str = "CREATE TABLE public.orders (id bigint PRIMARY KEY, total numeric(12,2));
    INSERT INTO public.orders SELECT g, g * 1.25 FROM generate_series(1, 20) g;
    UPDATE public.orders SET total = 'NaN' WHERE id = 7;";

#[tokio::test]
async fn a_run_that_skipped_records_sends_partial_with_its_counts() {
    let lab = Lab::start(chrono::Utc::now().timestamp(), ORDERS, &alerts("3s", 2));
    let receiver = Receiver::start(Answer::Ok).await;
    let (_, secret) = subscribe_to(&lab, &receiver.url(), &["flow.run.partial"]).await;
    let now = chrono::Utc::now().timestamp();
    let (source, target, _) = lab.connections("public.orders").await;
    let body = json!({
        "name": "orders", "flowSpec": {"id": crate::dataflows::FLOW_SPEC, "version": "1.0"},
        "sourceConnectionIds": [source], "targetConnectionIds": [target], "transformations": [],
        "scheduleParams": {"startTime": (now + 2).to_string(), "frequency": "once"},
        "options": {"partialIngestionPercent": 10}});
    let reply = lab.api.post("/flows", &body).await;
    assert_eq!(reply.status, reqwest::StatusCode::CREATED, "{}", reply.body);
    let flow = reply.body["id"].as_str().unwrap().to_string();
    lab.set_clock(now + 2);
    let run = lab.ended_runs(&flow, 1, Duration::from_secs(60)).await.remove(0);
    assert_eq!(status(&run), "success", "{run:#}");
    let got = until(&receiver, "the partial event", |got| {
        !of_type(got, "flow.run.partial", Some(&flow)).is_empty()
    })
    .await;
    let partial = of_type(&got, "flow.run.partial", Some(&flow))[0];
    assert!(partial.signed_with(&secret));
    let body = partial.json();
    assert_eq!(body["data"]["runId"], run["id"]);
    assert_eq!(
        body["data"]["metrics"]["recordSummary"]["failedRecordCount"], 1,
        "{body:#}"
    );
    assert_eq!(
        body["data"]["metrics"]["recordSummary"]["outputRecordCount"], 19,
        "{body:#}"
    );
    // Only what was asked for: the test event and the partial one.
    assert!(of_type(&got, "flow.run.success", None).is_empty());
}

#[tokio::test]
async fn a_run_waiting_past_the_delay_threshold_is_reported_once() {
    // No workers: the run stays waiting.
    let config = format!("workers = 0\n{}delay_after = \"150m\"\n", alerts("3s", 2));
    let lab = Lab::start(chrono::Utc::now().timestamp(), ORDERS, &config);
    let receiver = Receiver::start(Answer::Ok).await;
    subscribe_to(&lab, &receiver.url(), &["flow.run.delay"]).await;
    let (flow, start) = future_flow(&lab, "public.orders").await;
    lab.set_clock(start + 149 * 60);
    let runs = loop {
        let runs = lab.runs(&flow).await;
        if !runs.is_empty() {
            break runs;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    // Several delay scans pass (every tenth poll of 200 ms) before the threshold is crossed.
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert!(of_type(&receiver.received(), "flow.run.delay", None).is_empty());
    lab.set_clock(start + 151 * 60);
    let got = until(&receiver, "the delay event", |got| {
        !of_type(got, "flow.run.delay", Some(&flow)).is_empty()
    })
    .await;
    let delay = of_type(&got, "flow.run.delay", Some(&flow))[0].json();
    assert_eq!(delay["data"]["runId"], runs[0]["id"], "{delay:#}");
    assert_eq!(delay["data"]["status"], "scheduled");
    assert_eq!(delay["id"], format!("delay-{}", runs[0]["id"].as_str().unwrap()));
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!(
        of_type(&receiver.received(), "flow.run.delay", None).len(),
        1,
        "reported once"
    );
}

/// A change data capture run whose slot retains more WAL than `alerts.slot_lag_bytes`
/// (0 here, so any) reports `cdc.slot.lag` with the bytes retained, once per slot position.
#[tokio::test]
async fn a_cdc_run_above_the_slot_lag_threshold_reports_it() {
    use crate::dataflows::cdc::{cdc_flow, cdc_lab, run_window};
    let table = "CREATE TABLE public.items (id bigint PRIMARY KEY, n bigint NOT NULL);
        INSERT INTO public.items SELECT g, g FROM generate_series(1, 50) g;
        ALTER TABLE public.items OWNER TO reader;";
    let config = format!("{}slot_lag_bytes = 0\n", alerts("3s", 2));
    let lab = cdc_lab(table, &config);
    let receiver = Receiver::start(Answer::Ok).await;
    let (_, secret) = subscribe_to(&lab, &receiver.url(), &["cdc.slot.lag"]).await;
    let (flow, _) = cdc_flow(&lab, "public.items").await;
    let first = run_window(&lab, &flow, 1).await;
    assert_eq!(status(&first), "success", "{first:#}");
    lab.pg.psql(
        "shop",
        "INSERT INTO public.items SELECT g, g FROM generate_series(51, 5000) g",
    );
    let second = run_window(&lab, &flow, 2).await;
    assert_eq!(status(&second), "success", "{second:#}");
    let got = until(&receiver, "the slot lag events", |got| {
        of_type(got, "cdc.slot.lag", Some(&flow)).len() >= 2
    })
    .await;
    for lag in of_type(&got, "cdc.slot.lag", Some(&flow)) {
        assert!(lag.signed_with(&secret));
        let body = lag.json();
        assert!(body["data"]["retainedWalBytes"].as_u64().unwrap() > 0, "{body:#}");
        // Reported once per slot position.
        let at = body["data"]["confirmedLsn"].as_str().unwrap();
        assert_eq!(body["id"], format!("slotlag-{flow}-{at}"));
    }
}

#[tokio::test]
async fn a_flow_paused_by_a_schema_change_is_reported_with_its_changes() {
    let start = chrono::Utc::now().timestamp();
    let lab = Lab::start(
        start,
        "CREATE TABLE public.items (id bigint PRIMARY KEY, n bigint NOT NULL);
         INSERT INTO public.items VALUES (1, 10);",
        &alerts("3s", 2),
    );
    let receiver = Receiver::start(Answer::Ok).await;
    let (_, secret) = subscribe_to(&lab, &receiver.url(), &["flow.paused", "flow.run.failure"]).await;
    let (source, target, _) = lab.connections("public.items").await;
    let body = json!({
        "name": "items", "flowSpec": {"id": crate::dataflows::FLOW_SPEC, "version": "1.0"},
        "sourceConnectionIds": [source], "targetConnectionIds": [target], "transformations": [],
        "scheduleParams": {"startTime": (start + 2).to_string(), "frequency": "minute", "interval": "15"}});
    let reply = lab.api.post("/flows", &body).await;
    assert_eq!(reply.status, reqwest::StatusCode::CREATED, "{}", reply.body);
    let flow = reply.body["id"].as_str().unwrap().to_string();
    // A window is due at its end.
    lab.set_clock(start + 2 + 15 * 60);
    let first = lab.ended_runs(&flow, 1, Duration::from_secs(60)).await.remove(0);
    assert_eq!(status(&first), "success", "{first:#}");
    // bigint → int: no wider type covers it, so the flow pauses whatever its policy.
    lab.pg.psql("shop", "ALTER TABLE public.items ALTER COLUMN n TYPE int");
    lab.set_clock(start + 2 + 30 * 60);
    let runs = lab.ended_runs(&flow, 2, Duration::from_secs(60)).await;
    assert_eq!(status(&runs[1]), "failed", "{runs:#?}");
    let got = until(&receiver, "the paused event", |got| {
        !of_type(got, "flow.paused", Some(&flow)).is_empty()
    })
    .await;
    let paused = of_type(&got, "flow.paused", Some(&flow))[0];
    assert!(paused.signed_with(&secret));
    let body = paused.json();
    assert_eq!(body["data"]["runId"], runs[1]["id"], "{body:#}");
    assert_eq!(body["data"]["errors"][0]["code"], "SCHEMA_CHANGE_PAUSED", "{body:#}");
    let change = &body["data"]["schemaChanges"][0];
    assert_eq!(
        (&change["column"], &change["kind"], &change["from"], &change["to"]),
        (&json!("n"), &json!("typeChanged"), &json!("long"), &json!("integer")),
        "{body:#}"
    );
    assert_eq!(
        of_type(&got, "flow.run.failure", Some(&flow)).len(),
        1,
        "the failure too"
    );
}
