//! What the watchers report between runs: a flow whose landed data grew old by the flow
//! clock, a flow that never landed anything, and the slot of a disabled capture flow.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;

use super::receiver::{Answer, Receiver};
use super::webhooks::{alerts, future_flow, of_type, subscribe_to, until};
use crate::dataflows::{Lab, status};

/// With `alerts.freshness_after` set, a flow is reported once its landed data is older
/// than that by the flow clock, however long ago by the wall clock the run ended; once,
/// until newer data lands. A flow whose run failed (its table is gone) is reported as
/// having landed nothing, once.
#[tokio::test]
async fn a_flow_whose_landed_data_grew_old_or_that_landed_nothing_is_reported_stale_once() {
    let config = format!("{}freshness_after = \"3s\"\n", alerts("3s", 2));
    let tables = "CREATE TABLE public.orders (id bigint PRIMARY KEY); INSERT INTO public.orders VALUES (1), (2);
        CREATE TABLE public.gone (id bigint PRIMARY KEY);";
    let lab = Lab::start(chrono::Utc::now().timestamp(), tables, &config);
    let receiver = Receiver::start(Answer::Ok).await;
    subscribe_to(&lab, &receiver.url(), &["flow.freshness"]).await;
    let (fresh, start) = future_flow(&lab, "public.orders").await;
    let (never, _) = future_flow(&lab, "public.gone").await;
    lab.pg.psql("shop", "DROP TABLE public.gone");
    lab.set_clock(start);
    let run = lab.ended_runs(&fresh, 1, Duration::from_secs(60)).await.remove(0);
    assert_eq!(status(&run), "success", "{run:#}");
    let failed = lab.ended_runs(&never, 1, Duration::from_secs(60)).await.remove(0);
    assert_eq!(status(&failed), "failed", "{failed:#}");
    // Seconds pass on the wall, none on the flow clock: the data is as new as it was.
    tokio::time::sleep(Duration::from_secs(6)).await;
    assert!(
        of_type(&receiver.received(), "flow.freshness", None).is_empty(),
        "{:#?}",
        receiver.received()
    );
    lab.set_clock(start + 4);
    let got = until(&receiver, "both freshness events", |got| {
        of_type(got, "flow.freshness", None).len() >= 2
    })
    .await;
    let stale = of_type(&got, "flow.freshness", Some(&fresh))[0].json();
    assert_eq!(stale["data"]["runId"], run["id"], "{stale:#}");
    assert_eq!(stale["data"]["landedUpTo"], start, "{stale:#}");
    assert_eq!(stale["id"], format!("stale-{}", run["id"].as_str().unwrap()));
    let nothing = of_type(&got, "flow.freshness", Some(&never))[0].json();
    assert_eq!(nothing["data"]["landedUpTo"], json!(null), "{nothing:#}");
    assert_eq!(nothing["data"]["firstDueAt"], start, "{nothing:#}");
    assert_eq!(nothing["data"]["runId"], failed["id"], "{nothing:#}");
    assert_eq!(nothing["id"], format!("stale-never-{never}"));
    lab.set_clock(start + 60);
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!(
        of_type(&receiver.received(), "flow.freshness", None).len(),
        2,
        "each reported once"
    );
}

/// A disabled capture flow's slot retains WAL while no run moves it: the slot watcher
/// (`alerts.slot_check_every`) reports it above the flow's threshold, once for the slot's
/// position, and sets the flow's gauge.
#[tokio::test]
async fn a_disabled_capture_flows_growing_slot_is_reported_once_per_position() {
    use crate::dataflows::cdc::{cdc_flow, cdc_lab, run_window};
    let table = "CREATE TABLE public.items (id bigint PRIMARY KEY, n bigint NOT NULL);
        INSERT INTO public.items SELECT g, g FROM generate_series(1, 50) g;
        ALTER TABLE public.items OWNER TO reader;";
    let config = format!("{}slot_check_every = \"1s\"\n", alerts("3s", 2));
    let lab = cdc_lab(table, &config);
    let receiver = Receiver::start(Answer::Ok).await;
    let (_, secret) = subscribe_to(&lab, &receiver.url(), &["cdc.slot.lag"]).await;
    let (flow, _) = cdc_flow(&lab, "public.items").await;
    let first = run_window(&lab, &flow, 1).await;
    assert_eq!(status(&first), "success", "{first:#}");
    let patch = json!([{"op": "add", "path": "/inletAlerts", "value": {"slotLagBytes": 100000}}]);
    let item = lab.api.get(&format!("/flows/{flow}")).await.body["items"][0].clone();
    let etag = item["etag"].as_str().unwrap();
    let reply = lab.api.patch(&format!("/flows/{flow}"), Some(etag), &patch).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let reply = lab
        .api
        .post(&format!("/flows/{flow}/action?op=DISABLE"), &json!({}))
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    // Under the threshold: nothing, whatever the watcher looks at.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(of_type(&receiver.received(), "cdc.slot.lag", None).is_empty());
    lab.pg.psql(
        "shop",
        "INSERT INTO public.items SELECT g, g FROM generate_series(51, 20000) g",
    );
    let got = until(&receiver, "the slot lag event", |got| {
        !of_type(got, "cdc.slot.lag", Some(&flow)).is_empty()
    })
    .await;
    let lag = of_type(&got, "cdc.slot.lag", Some(&flow))[0];
    assert!(lag.signed_with(&secret));
    let body = lag.json();
    let retained = body["data"]["retainedWalBytes"].as_u64().unwrap();
    assert!(retained > 100_000, "{body:#}");
    let at = body["data"]["confirmedLsn"].as_str().unwrap();
    assert_eq!(body["id"], format!("slotlag-{flow}-{at}"));
    let metrics = reqwest::get(format!("{}/metrics", lab.inlet.base))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let gauge = metrics
        .lines()
        .find(|line| line.starts_with("inlet_cdc_slot_retained_wal_bytes") && line.contains(&flow))
        .unwrap_or_else(|| panic!("no gauge for {flow} in {metrics}"));
    assert!(
        gauge.split(' ').next_back().unwrap().parse::<f64>().unwrap() > 100_000.0,
        "{gauge}"
    );
    // More WAL, the same position: still one event.
    lab.pg.psql(
        "shop",
        "INSERT INTO public.items SELECT g, g FROM generate_series(20001, 21000) g",
    );
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert_eq!(of_type(&receiver.received(), "cdc.slot.lag", None).len(), 1);
}
