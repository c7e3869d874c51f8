//! Runs (§9): on-demand runs of `once` flows, their items, their errors; tenancy.

use reqwest::StatusCode;
use serde_json::json;

use super::{Shop, now};

#[tokio::test]
async fn an_on_demand_run_is_listed_with_zero_metrics_and_its_window() {
    let shop = Shop::start();
    let pipeline = shop.pipeline().await;
    let flow = shop.flow(&pipeline.once(now() + 3600)).await;
    let params = json!({"startTime": now().to_string(), "windowStartTime": "1714521600", "windowEndTime": 1714608000,
        "deltaColumn": {"name": "updated_at"}});
    let created = shop.api.post("/runs", &json!({"flowId": flow, "params": params})).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let run_id = created.body["items"][0]["id"].as_str().unwrap().to_string();
    assert!(created.body["items"][0]["etag"].is_string());

    let run = shop.api.get(&format!("/runs/{run_id}")).await.body["items"][0].clone();
    assert_eq!(run["flowId"], flow.as_str());
    assert_eq!(run["metrics"]["statusSummary"]["status"], "scheduled");
    assert_eq!(run["metrics"]["recordSummary"]["inputRecordCount"], 0);
    assert_eq!(run["metrics"]["sizeSummary"]["outputBytes"], 0);
    assert_eq!(run["metrics"]["fileSummary"]["outputFileCount"], 0);
    let extensions = &run["activities"][0]["durationSummary"]["extensions"];
    assert_eq!(extensions["windowStart"], "2024-05-01T00:00:00Z");
    assert_eq!(extensions["windowEnd"], "2024-05-02T00:00:00Z");
    assert!(run["createdAt"].as_i64().unwrap() > 1_600_000_000_000);

    let runs = shop.api.get(&format!("/runs?property=flowId=={flow}")).await.body;
    let items = runs["items"].as_array().unwrap();
    assert_eq!(items.len(), 2, "the flow's scheduled run and the on-demand one: {runs}");
    let page = shop
        .api
        .get(&format!("/runs?property=flowId=={flow}&limit=1"))
        .await
        .body;
    assert!(
        page["_links"]["next"]["href"]
            .as_str()
            .unwrap()
            .starts_with("/runs?continuationToken=")
    );
    let shown = shop.api.get(&format!("/flows/{flow}")).await.body["items"][0].clone();
    assert_eq!(shown["lastRunDetails"]["id"], run_id.as_str(), "{shown}");
    assert_eq!(shown["lastRunDetails"]["state"], "scheduled");

    assert_eq!(
        shop.api.delete(&format!("/flows/{flow}")).await.status,
        StatusCode::NO_CONTENT
    );
    let cancelled = shop.api.get(&format!("/runs/{run_id}")).await.body["items"][0].clone();
    assert_eq!(cancelled["metrics"]["statusSummary"]["status"], "cancelled");
}

#[tokio::test]
async fn on_demand_run_errors_have_their_codes() {
    let shop = Shop::start();
    let pipeline = shop.pipeline().await;
    let once = shop.flow(&pipeline.once(now() + 3600)).await;
    let hourly = json!({"startTime": now() + 3600, "frequency": "hour", "interval": 1});
    let periodic = shop.flow(&pipeline.flow_body(hourly, json!([]))).await;
    let window = |start: i64, end: i64| json!({"windowStartTime": start, "windowEndTime": end});
    let run = |flow: &str, params: serde_json::Value| json!({"flowId": flow, "params": params});
    let cases = [
        (run(&once, window(2000, 1000)), "1381-400"),
        (run(&once, window(1000, 1000)), "1381-400"),
        (run(&once, json!({"windowStartTime": 1000})), "1382-400"),
        (
            run(&once, json!({"windowStartTime": 1000, "windowEndTime": "soon"})),
            "1382-400",
        ),
        (
            run(
                &once,
                json!({"startTime": now() - 3600, "windowStartTime": 1, "windowEndTime": 2}),
            ),
            "1383-400",
        ),
        (
            run(
                &once,
                json!({"windowStartTime": 1, "windowEndTime": 2, "deltaColumn": {}}),
            ),
            "1384-400",
        ),
        (
            run(
                &once,
                json!({"windowStartTime": 1, "windowEndTime": 2, "deltaColumn": {"name": "nope"}}),
            ),
            "1331-400",
        ),
        (run(&once, window(1000, 2000)), "1384-400"),
        (run(&periodic, window(1000, 2000)), "1386-400"),
        (run("no-such-flow", window(1000, 2000)), "1102-400"),
        (json!({"params": window(1000, 2000)}), "1001-400"),
    ];
    for (body, code) in cases {
        let reply = shop.api.post("/runs", &body).await;
        assert_eq!(reply.code(), code, "{body}: {}", reply.body);
    }
    shop.api
        .post(&format!("/flows/{once}/action?op=disable"), &json!({}))
        .await;
    let disabled = shop.api.post("/runs", &run(&once, window(1000, 2000))).await;
    assert_eq!(disabled.code(), "1385-400");
    assert_eq!(
        shop.api.get(&format!("/runs?property=flowId=={once}")).await.body["items"],
        json!([])
    );
}

#[tokio::test]
async fn other_sandboxes_and_orgs_see_none_of_it() {
    let shop = Shop::start();
    let pipeline = shop.pipeline().await;
    let flow = shop.flow(&pipeline.once(now() + 3600)).await;
    let created = shop
        .api
        .post(
            "/runs",
            &json!({"flowId": flow, "params": {"windowStartTime": 1, "windowEndTime": 2,
                "deltaColumn": {"name": "updated_at"}}}),
        )
        .await;
    let run = created.body["items"][0]["id"].as_str().unwrap().to_string();
    let dev = shop.dev().await;
    let stranger = shop.inlet.identity("ORG2@AdobeOrg");
    let paths = [
        format!("/sourceConnections/{}", pipeline.source),
        format!("/targetConnections/{}", pipeline.target),
        format!("/flows/{flow}"),
        format!("/runs/{run}"),
    ];
    for caller in [&dev, &stranger] {
        for path in &paths {
            assert_eq!(caller.get(path).await.code(), "1101-404", "{path}");
        }
        for list in ["/sourceConnections", "/targetConnections", "/flows", "/runs"] {
            assert_eq!(caller.get(list).await.body["items"], json!([]), "{list}");
        }
        assert_eq!(caller.delete(&paths[2]).await.code(), "1101-404");
        let borrowed = caller.post("/flows", &pipeline.once(now() + 3600)).await;
        assert_eq!(borrowed.code(), "1102-400", "{}", borrowed.body);
        let foreign_run = caller
            .post(
                "/runs",
                &json!({"flowId": flow, "params": {"windowStartTime": 1, "windowEndTime": 2}}),
            )
            .await;
        assert_eq!(foreign_run.code(), "1102-400");
    }
    assert_eq!(shop.api.get(&paths[2]).await.status, StatusCode::OK);
}
