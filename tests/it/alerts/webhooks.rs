//! Webhooks end to end: subscriptions over the API, run events delivered to a real
//! receiver with signatures checked here, retries through a receiver that is down, a
//! SIGKILL and 500s, and receivers that hang or redirect to a metadata address.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};

use super::receiver::{Answer, Received, Receiver, reserved_port};
use crate::dataflows::{Lab, status};
use crate::flows_api::detail_paths;

const ORDERS: &str = "CREATE TABLE public.orders (id bigint PRIMARY KEY, note text);
    INSERT INTO public.orders SELECT g, 'n' || g FROM generate_series(1, 20) g;
    CREATE TABLE public.doomed (id bigint PRIMARY KEY);";

/// Quick retries, plain HTTP to the loopback receiver allowed.
pub(super) fn alerts(timeout: &str, tasks: usize) -> String {
    format!(
        "[alerts]\nallow_http = true\nfirst_backoff = \"200ms\"\nmax_backoff = \"1s\"\ntimeout = \"{timeout}\"\ndelivery_tasks = {tasks}\n"
    )
}

const ALL: [&str; 3] = ["flow.run.start", "flow.run.success", "flow.run.failure"];

/// Subscribes `url` to the start, success and failure of runs; returns (id, secret).
async fn subscribe(lab: &Lab, url: &str) -> (String, String) {
    subscribe_to(lab, url, &ALL).await
}

/// Subscribes `url` to `events`; returns (id, secret).
pub(super) async fn subscribe_to(lab: &Lab, url: &str, events: &[&str]) -> (String, String) {
    let reply = lab
        .api
        .post(
            "/subscriptions",
            &json!({"name": "pager", "url": url, "events": events}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    let secret = reply.body["secret"].as_str().expect("the secret, once").to_string();
    assert!(secret.starts_with("whsec_"));
    (reply.body["id"].as_str().unwrap().to_string(), secret)
}

/// A `once` flow of `table` starting in 2 s; the clock is moved to its start.
async fn once_flow(lab: &Lab, table: &str) -> String {
    let (flow, start) = future_flow(lab, table).await;
    lab.set_clock(start);
    flow
}

/// A `once` flow of `table` starting in 2 s, and its start; the clock is not moved.
pub(super) async fn future_flow(lab: &Lab, table: &str) -> (String, i64) {
    let now = chrono::Utc::now().timestamp();
    let (source, target, _) = lab.connections(table).await;
    let flow = lab
        .flow(
            &source,
            &target,
            json!([]),
            json!({"startTime": (now + 2).to_string(), "frequency": "once"}),
        )
        .await;
    (flow, now + 2)
}

/// Waits until `done` holds of what `receiver` got.
pub(super) async fn until(receiver: &Receiver, what: &str, done: impl Fn(&[Received]) -> bool) -> Vec<Received> {
    let started = Instant::now();
    loop {
        let got = receiver.received();
        if done(&got) {
            return got;
        }
        assert!(started.elapsed() < Duration::from_secs(60), "{what}: got {got:#?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

pub(super) fn of_type<'a>(got: &'a [Received], kind: &str, flow: Option<&str>) -> Vec<&'a Received> {
    got.iter()
        .filter(|r| {
            let body = r.json();
            body["type"] == kind && flow.is_none_or(|f| body["data"]["flowId"] == f)
        })
        .collect()
}

async fn deliveries(lab: &Lab, subscription: &str) -> Vec<Value> {
    let reply = lab.api.get(&format!("/subscriptions/{subscription}/deliveries")).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    reply.body["items"].as_array().unwrap().clone()
}

#[tokio::test]
async fn bad_subscriptions_are_refused_naming_the_field() {
    let lab = Lab::start(chrono::Utc::now().timestamp(), ORDERS, "");
    let cases = [
        (json!({"url": "http://127.0.0.1:9/x", "events": ALL}), "/url"),
        (json!({"url": "https://169.254.169.254/latest", "events": ALL}), "/url"),
        (
            json!({"url": "https://hooks.example.com/x", "events": ["flow.run.everything"]}),
            "/events/0",
        ),
        (json!({"url": "https://hooks.example.com/x", "events": []}), "/events"),
        (
            json!({"url": "https://hooks.example.com/x", "events": ALL, "flowIds": ["nope"]}),
            "/flowIds/0",
        ),
        (json!({"events": ALL}), "/url"),
    ];
    for (body, path) in cases {
        let reply = lab.api.post("/subscriptions", &body).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{body}: {}", reply.body);
        assert!(
            detail_paths(&reply).contains(&path.to_string()),
            "{body}: {}",
            reply.body
        );
    }
    // Plain HTTP is off unless the operator turns it on.
    let message = lab
        .api
        .post("/subscriptions", &json!({"url": "http://127.0.0.1:9/x", "events": ALL}))
        .await
        .body
        .to_string();
    assert!(message.contains("alerts.allow_http"), "{message}");
}

#[tokio::test]
async fn run_events_arrive_signed_with_their_payload_and_the_secret_stays_secret() {
    let lab = Lab::start(chrono::Utc::now().timestamp(), ORDERS, &alerts("3s", 4));
    let receiver = Receiver::start(Answer::Ok).await;
    let wanted = [ALL.as_slice(), &["flow.paused"]].concat();
    let (subscription, secret) = subscribe_to(&lab, &receiver.url(), &wanted).await;
    let tests = until(&receiver, "the test delivery", |got| {
        !of_type(got, "subscription.test", None).is_empty()
    })
    .await;
    assert!(tests[0].signed_with(&secret), "the test delivery is signed");
    assert!(!tests[0].signed_with("whsec_other"), "the check can fail");

    let (good, _) = future_flow(&lab, "public.orders").await;
    let (bad, start) = future_flow(&lab, "public.doomed").await;
    lab.pg.psql("shop", "DROP TABLE public.doomed");
    lab.set_clock(start);
    let good_run = lab.ended_runs(&good, 1, Duration::from_secs(60)).await.remove(0);
    let bad_run = lab.ended_runs(&bad, 1, Duration::from_secs(60)).await.remove(0);
    assert_eq!(status(&good_run), "success", "{good_run:#}");
    assert_eq!(status(&bad_run), "failed", "{bad_run:#}");

    let got = until(&receiver, "the run events", |got| {
        !of_type(got, "flow.run.success", Some(&good)).is_empty()
            && !of_type(got, "flow.run.failure", Some(&bad)).is_empty()
            && !of_type(got, "flow.run.start", Some(&good)).is_empty()
            && !of_type(got, "flow.paused", Some(&bad)).is_empty()
    })
    .await;
    for request in &got {
        assert!(request.signed_with(&secret), "{request:?}");
        let body = request.json();
        assert_eq!(request.header("x-inlet-event-id"), body["id"].as_str().unwrap());
        assert_eq!(request.header("x-inlet-event-type"), body["type"].as_str().unwrap());
        assert_eq!(request.header("content-type"), "application/json");
        assert_eq!(body["imsOrgId"], "ORG1@AdobeOrg");
        assert_eq!(body["sandboxName"], "prod");
    }
    let success = of_type(&got, "flow.run.success", Some(&good))[0].json();
    assert_eq!(success["data"]["runId"], good_run["id"], "{success:#}");
    assert_eq!(success["data"]["status"], "success");
    assert_eq!(success["data"]["metrics"]["recordSummary"]["outputRecordCount"], 20);
    assert!(
        success["data"]["metrics"]["sizeSummary"]["inputBytes"]
            .as_u64()
            .unwrap()
            > 0
    );
    assert!(success["data"]["durationMs"].as_i64().unwrap() >= 0, "{success:#}");
    let failure = of_type(&got, "flow.run.failure", Some(&bad))[0].json();
    let error = &failure["data"]["errors"][0];
    assert_eq!(
        error["code"], bad_run["metrics"]["statusSummary"]["errors"][0]["code"],
        "{failure:#}"
    );
    assert!(!error["message"].as_str().unwrap().is_empty(), "{failure:#}");
    // The failed window holds the flow's later ones: the flow is paused, the good one not.
    let paused = of_type(&got, "flow.paused", Some(&bad))[0].json();
    assert_eq!(paused["data"]["pausedBy"], "failedRun", "{paused:#}");
    assert_eq!(paused["data"]["runId"], bad_run["id"]);
    assert!(of_type(&got, "flow.paused", Some(&good)).is_empty());

    // The secret is shown once: in no item, list, delivery or log line.
    let mut answers = vec![
        lab.api.get(&format!("/subscriptions/{subscription}")).await.body,
        lab.api.get("/subscriptions").await.body,
        json!(deliveries(&lab, &subscription).await),
    ];
    let item = &answers[0]["items"][0];
    assert_eq!(item["url"], receiver.url());
    assert_eq!(item["events"], json!(wanted));
    answers.push(
        lab.api
            .post(&format!("/subscriptions/{subscription}/test"), &json!({}))
            .await
            .body,
    );
    for answer in &answers {
        assert!(!answer.to_string().contains(&secret), "{answer}");
    }
    let logs = lab.inlet.logs();
    assert!(!logs.contains(&secret), "the secret is in the log");
    let delivered = deliveries(&lab, &subscription).await;
    assert!(
        delivered
            .iter()
            .any(|d| d["status"] == "delivered" && d["lastResponseCode"] == 204),
        "{delivered:#?}"
    );
}

/// The receiver is down while the run ends, the server is SIGKILLed before anything was
/// delivered, the receiver then answers 500s, then 2xx: every event arrives, each event
/// id once in the receiver's log after de-duplication, every copy signed.
#[tokio::test]
async fn down_then_killed_then_500s_then_back_loses_no_event() {
    let addr = reserved_port();
    let mut lab = Lab::start(chrono::Utc::now().timestamp(), ORDERS, &alerts("2s", 2));
    let url = format!("http://{addr}/hook");
    let (subscription, secret) = subscribe(&lab, &url).await;
    let flow = once_flow(&lab, "public.orders").await;
    let run = lab.ended_runs(&flow, 1, Duration::from_secs(60)).await.remove(0);
    assert_eq!(status(&run), "success");
    // The attempts so far failed to connect.
    let started = Instant::now();
    while !deliveries(&lab, &subscription)
        .await
        .iter()
        .any(|d| d["lastError"].is_string())
    {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "no failed attempt recorded"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    lab.inlet.kill();
    lab.inlet.start_again();
    lab.api.base = lab.inlet.base.clone();

    let receiver = Receiver::start_on(addr, Answer::Status(500)).await;
    until(&receiver, "a 500 answered", |got| got.len() >= 2).await;
    receiver.answer(Answer::Ok);
    let started = Instant::now();
    let items = loop {
        let items = deliveries(&lab, &subscription).await;
        if items.len() == 3 && items.iter().all(|d| d["status"] == "delivered") {
            break items;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "{items:#?}\n{}",
            lab.inlet.logs()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let expected: BTreeSet<String> = items
        .iter()
        .map(|d| d["eventId"].as_str().unwrap().to_string())
        .collect();
    let got = receiver.received();
    let seen: BTreeSet<String> = got.iter().map(|r| r.header("x-inlet-event-id")).collect();
    assert_eq!(seen, expected, "each event arrived; de-duplicated by its key");
    let types: BTreeSet<String> = items
        .iter()
        .map(|d| d["eventType"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        types,
        ["flow.run.start", "flow.run.success", "subscription.test"]
            .map(String::from)
            .into()
    );
    assert!(got.iter().all(|r| r.signed_with(&secret)));
    assert!(items.iter().all(|d| d["attempts"].as_i64().unwrap() >= 2), "{items:#?}");
}

/// A receiver that never answers and one that redirects to the cloud metadata address:
/// the run ends while a delivery hangs, and the redirect is recorded, not followed.
#[tokio::test]
async fn hanging_and_redirecting_receivers_do_not_hold_runs_and_redirects_are_not_followed() {
    let lab = Lab::start(chrono::Utc::now().timestamp(), ORDERS, &alerts("60s", 8));
    let hang = Receiver::start(Answer::Hang).await;
    let redirect = Receiver::start(Answer::RedirectTo("http://169.254.169.254/latest/meta-data/".into())).await;
    let (hanging, _) = subscribe(&lab, &hang.url()).await;
    let (redirecting, _) = subscribe(&lab, &redirect.url()).await;
    until(&hang, "the hanging test delivery", |got| !got.is_empty()).await;

    let flow = once_flow(&lab, "public.orders").await;
    let run = lab.ended_runs(&flow, 1, Duration::from_secs(60)).await.remove(0);
    assert_eq!(status(&run), "success");
    let held = deliveries(&lab, &hanging).await;
    assert!(
        held.iter()
            .any(|d| d["eventType"] == "subscription.test" && d["status"] == "delivering"),
        "the run ended while the test delivery still hangs: {held:#?}"
    );

    let started = Instant::now();
    loop {
        let items = deliveries(&lab, &redirecting).await;
        let refused = items.iter().filter(|d| {
            d["lastResponseCode"] == 302
                && d["status"] == "pending"
                && d["lastError"].as_str().unwrap_or_default().contains("not followed")
        });
        if refused.count() >= 2 {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(60), "{items:#?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(
        redirect
            .received()
            .iter()
            .all(|r| r.header("host") == redirect.addr.to_string()),
        "only the receiver itself was asked"
    );
}

/// Two processes on one PostgreSQL metadata store share the outbox: in the normal case
/// each event is delivered once, by one of them.
#[tokio::test]
async fn two_processes_on_postgresql_deliver_each_event_once() {
    let metadata = crate::common::pg::PgServer::start(crate::common::pg::PgOptions::default());
    metadata.create_database("meta");
    let options = crate::common::server::Options {
        metadata_url: Some(metadata.admin_url("meta")),
        ..Default::default()
    };
    let config = alerts("3s", 4);
    let lab = Lab::start_with(chrono::Utc::now().timestamp(), ORDERS, &config, options.clone());
    let other = crate::common::server::Inlet::start_with(crate::common::server::Options {
        clock_file: Some(lab.clock.clone()),
        config: Some(format!("{}{config}", crate::dataflows::QUICK)),
        data_dir: Some(lab.inlet.data_dir()),
        ..options
    });
    let receiver = Receiver::start(Answer::Ok).await;
    let (subscription, secret) = subscribe(&lab, &receiver.url()).await;
    let mut flows = Vec::new();
    for _ in 0..3 {
        flows.push(future_flow(&lab, "public.orders").await);
    }
    lab.set_clock(flows.iter().map(|(_, start)| *start).max().unwrap());
    for (flow, _) in &flows {
        let run = lab.ended_runs(flow, 1, Duration::from_secs(60)).await.remove(0);
        assert_eq!(status(&run), "success", "{run:#}");
    }
    // The test event, and a start and a success for each flow.
    until(&receiver, "seven events", |got| got.len() >= 7).await;
    // A second copy, were one sent, would come within a few polls.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let got = receiver.received();
    assert_eq!(got.len(), 7, "each event once: {got:#?}");
    let keys: BTreeSet<String> = got.iter().map(|r| r.header("x-inlet-event-id")).collect();
    assert_eq!(keys.len(), 7);
    assert!(got.iter().all(|r| r.signed_with(&secret)));
    let items = deliveries(&lab, &subscription).await;
    assert!(
        items.iter().all(|d| d["status"] == "delivered" && d["attempts"] == 1),
        "{items:#?}"
    );
    let by_each = [lab.inlet.logs(), other.logs()].map(|logs| logs.matches("alert delivered").count());
    println!("deliveries by process: {by_each:?}");
    assert_eq!(by_each.iter().sum::<usize>(), 7, "{by_each:?}");
}

/// A receiver that only answers 500: the delivery is retried with backoff until the retry
/// period after its event ran out, then it is dead, with the reason shown.
#[tokio::test]
async fn a_delivery_retried_past_its_period_is_dead_and_says_why() {
    let config = format!("{}retry_for = \"2s\"\n", alerts("2s", 2));
    let lab = Lab::start(chrono::Utc::now().timestamp(), ORDERS, &config);
    let receiver = Receiver::start(Answer::Status(500)).await;
    let (subscription, _) = subscribe(&lab, &receiver.url()).await;
    let started = Instant::now();
    let dead = loop {
        let items = deliveries(&lab, &subscription).await;
        if let Some(dead) = items.iter().find(|d| d["status"] == "dead") {
            break dead.clone();
        }
        assert!(started.elapsed() < Duration::from_secs(60), "{items:#?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(dead["lastResponseCode"], 500, "{dead:#}");
    assert!(
        dead["lastError"].as_str().unwrap().contains("no retry left"),
        "{dead:#}"
    );
    let attempts = dead["attempts"].as_i64().unwrap();
    assert!(attempts >= 2, "{dead:#}");
    assert_eq!(receiver.received().len() as i64, attempts, "one request per attempt");
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(receiver.received().len() as i64, attempts, "no attempt after death");
}
