//! Per-subscription rate limits (`maxDeliveriesPerMinute`): deliveries beyond the limit
//! wait for the next minute, never dropped and not counted as attempts; another
//! subscription without a limit is not held back; bad limits are refused naming the field.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};

use super::receiver::{Answer, Receiver};
use super::webhooks::{alerts, until};
use crate::dataflows::Lab;
use crate::flows_api::detail_paths;

/// Creates a subscription to `url` for run failures with `extra` fields; its id.
async fn subscription(lab: &Lab, url: &str, extra: Value) -> String {
    let mut body = json!({"name": "limited", "url": url, "events": ["flow.run.failure"]});
    body.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
    let reply = lab.api.post("/subscriptions", &body).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    reply.body["id"].as_str().unwrap().to_string()
}

/// Asks for `count` test events to `subscription`.
async fn tests_to(lab: &Lab, subscription: &str, count: usize) {
    for _ in 0..count {
        let reply = lab
            .api
            .post(&format!("/subscriptions/{subscription}/test"), &json!({}))
            .await;
        assert_eq!(reply.status, StatusCode::ACCEPTED, "{}", reply.body);
    }
}

fn distinct_ids(got: &[super::receiver::Received]) -> BTreeSet<String> {
    got.iter().map(|r| r.header("x-inlet-event-id")).collect()
}

#[tokio::test]
async fn deliveries_beyond_the_limit_wait_for_the_next_minute_and_none_is_lost() {
    let lab = Lab::start(chrono::Utc::now().timestamp(), "", &alerts("3s", 4));
    let limited = Receiver::start(Answer::Ok).await;
    let free = Receiver::start(Answer::Ok).await;
    let slow = subscription(&lab, &limited.url(), json!({"maxDeliveriesPerMinute": 4})).await;
    let fast = subscription(&lab, &free.url(), json!({})).await;
    assert_eq!(
        lab.api.get(&format!("/subscriptions/{slow}")).await.body["items"][0]["maxDeliveriesPerMinute"],
        4
    );
    // With the create's own test event: 8 events each.
    tests_to(&lab, &slow, 7).await;
    tests_to(&lab, &fast, 7).await;
    until(&free, "every event to the subscription without a limit", |got| {
        distinct_ids(got).len() == 8
    })
    .await;
    until(&limited, "the limit's worth", |got| got.len() >= 4).await;
    // The window is a minute long: a few seconds on, still the limit's worth and no more.
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert_eq!(
        limited.received().len(),
        4,
        "no more than the limit in the first minute"
    );
    let reply = lab.api.get(&format!("/subscriptions/{slow}/deliveries")).await;
    let items = reply.body["items"].as_array().unwrap().clone();
    let waiting: Vec<&Value> = items.iter().filter(|d| d["status"] == "pending").collect();
    assert_eq!(waiting.len(), 4, "{items:#?}");
    for delivery in waiting {
        assert_eq!(delivery["attempts"], 0, "waiting is no attempt: {delivery:#}");
        assert!(delivery["nextAttemptAt"].as_i64().is_some(), "{delivery:#}");
    }
    // All arrive, each once, in the next window.
    let started = Instant::now();
    while distinct_ids(&limited.received()).len() < 8 {
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "{:#?}",
            limited.received()
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert_eq!(limited.received().len(), 8, "each event once");
}

#[tokio::test]
async fn bad_limits_are_refused_naming_the_field_and_a_limit_is_patched_and_removed() {
    let lab = Lab::start(chrono::Utc::now().timestamp(), "", &alerts("3s", 2));
    let url = "http://127.0.0.1:9/hook";
    for bad in [json!(0), json!(60001), json!("5"), json!(1.5), json!(-1)] {
        let body = json!({"url": url, "events": ["flow.run.failure"], "maxDeliveriesPerMinute": bad});
        let reply = lab.api.post("/subscriptions", &body).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{bad}: {}", reply.body);
        assert!(
            detail_paths(&reply).contains(&"/maxDeliveriesPerMinute".to_string()),
            "{}",
            reply.body
        );
        assert!(reply.body.to_string().contains("from 1 to 60000"), "{}", reply.body);
    }
    let id = subscription(&lab, url, json!({})).await;
    let path = format!("/subscriptions/{id}");
    let item = |reply: &crate::common::server::Reply| reply.body["items"][0].clone();
    let etag = item(&lab.api.get(&path).await)["etag"].as_str().unwrap().to_string();
    let set = json!([{"op": "add", "path": "/maxDeliveriesPerMinute", "value": 30}]);
    assert_eq!(lab.api.patch(&path, Some(&etag), &set).await.status, StatusCode::OK);
    let shown = item(&lab.api.get(&path).await);
    assert_eq!(shown["maxDeliveriesPerMinute"], 30);
    let etag = shown["etag"].as_str().unwrap().to_string();
    let bad = json!([{"op": "replace", "path": "/maxDeliveriesPerMinute", "value": 0}]);
    let reply = lab.api.patch(&path, Some(&etag), &bad).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{}", reply.body);
    let remove = json!([{"op": "remove", "path": "/maxDeliveriesPerMinute"}]);
    assert_eq!(lab.api.patch(&path, Some(&etag), &remove).await.status, StatusCode::OK);
    assert!(item(&lab.api.get(&path).await).get("maxDeliveriesPerMinute").is_none());
}
