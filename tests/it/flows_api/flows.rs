//! Flows (§9): creation and its rules, the item's shape, PATCH, actions and DELETE.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use super::{FLOW_SPEC, Shop, conversion, now};

#[tokio::test]
async fn the_tutorial_sequence_makes_a_once_flow_with_its_runs_link() {
    let shop = Shop::start();
    let pipeline = shop.pipeline().await;
    let start = now() + 2;
    let created = shop.api.post("/flows", &pipeline.once(start)).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let id = created.body["id"].as_str().unwrap();
    let etag = created.body["etag"].as_str().unwrap();

    let flow = shop.api.get(&format!("/flows/{id}")).await.body["items"][0].clone();
    assert_eq!(flow["etag"], etag);
    assert_eq!(flow["state"], "enabled");
    assert_eq!(flow["flowSpec"]["id"], FLOW_SPEC);
    assert_eq!(flow["sourceConnectionIds"], json!([pipeline.source]));
    assert_eq!(flow["targetConnectionIds"], json!([pipeline.target]));
    let inherited = &flow["inheritedAttributes"];
    assert_eq!(inherited["sourceConnections"][0]["id"], pipeline.source.as_str());
    assert_eq!(
        inherited["sourceConnections"][0]["baseConnection"]["id"],
        pipeline.base.as_str()
    );
    assert_eq!(
        inherited["targetConnections"][0]["connectionSpec"]["id"],
        super::DATALAKE_SPEC
    );
    assert_eq!(
        flow["scheduleParams"],
        json!({"startTime": start.to_string(), "frequency": "once"})
    );
    assert_eq!(flow["runs"], format!("/runs?property=flowId=={id}"));
    assert!(flow.get("lastRunDetails").is_none(), "no run yet: {flow}");

    let runs = shop.api.get(&format!("/runs?property=flowId=={id}")).await;
    assert_eq!(runs.status, StatusCode::OK);
    assert_eq!(runs.body["items"], json!([]));
    let listed = shop.api.get("/flows?property=state==enabled").await;
    assert_eq!(listed.body["items"][0]["id"], id);
}

#[tokio::test]
async fn each_schedule_rule_answers_its_code_by_the_flow_clock() {
    const NOW: i64 = 2_000_000_000;
    let shop = Shop::on_clock(NOW);
    let pipeline = shop.pipeline().await;
    let delta = json!([{"name": "Copy", "params": {"deltaColumn": {"name": "updated_at"}}}]);
    let cases = [
        (
            json!({"startTime": NOW - 3600, "frequency": "once"}),
            json!([]),
            "1360-400",
        ),
        (
            json!({"startTime": NOW, "frequency": "once", "interval": "15"}),
            json!([]),
            "1361-400",
        ),
        (
            json!({"startTime": NOW, "frequency": "minute", "interval": "14"}),
            delta.clone(),
            "1362-400",
        ),
        (
            json!({"startTime": NOW, "frequency": "hour"}),
            delta.clone(),
            "1362-400",
        ),
        (
            json!({"startTime": NOW, "frequency": "monthly", "interval": 1}),
            delta.clone(),
            "1363-400",
        ),
        (
            json!({"startTime": NOW, "frequency": "once", "backfill": "true"}),
            json!([]),
            "1364-400",
        ),
        (json!({"frequency": "once"}), json!([]), "1365-400"),
        (
            json!({"startTime": NOW, "frequency": "once"}),
            delta.clone(),
            "1369-400",
        ),
    ];
    for (schedule, transformations, code) in cases {
        let reply = shop
            .api
            .post("/flows", &pipeline.flow_body(schedule.clone(), transformations))
            .await;
        assert_eq!(reply.code(), code, "{schedule}: {}", reply.body);
    }
    let in_real_future = json!({"startTime": "1900000000", "frequency": "once"});
    let reply = shop
        .api
        .post("/flows", &pipeline.flow_body(in_real_future.clone(), json!([])))
        .await;
    assert_eq!(
        reply.code(),
        "1360-400",
        "the file clock, not the system's, judges the past"
    );
    shop.set_clock(1_800_000_000);
    shop.flow(&pipeline.flow_body(in_real_future, json!([]))).await;

    let periodic = json!({"startTime": NOW.to_string(), "frequency": "Minute", "interval": "15", "backfill": "true"});
    let id = shop.flow(&pipeline.flow_body(periodic, delta)).await;
    let flow = shop.api.get(&format!("/flows/{id}")).await.body["items"][0].clone();
    assert_eq!(
        flow["scheduleParams"],
        json!({"startTime": NOW.to_string(), "frequency": "minute", "interval": "15", "backfill": "true"})
    );
    assert_eq!(flow["transformations"][0]["params"]["deltaColumn"]["timezone"], "UTC");
}

#[tokio::test]
async fn flow_bodies_are_checked_against_specs_connections_and_columns() {
    let shop = Shop::start();
    let pipeline = shop.pipeline().await;
    let later = json!({"startTime": now() + 3600, "frequency": "hour", "interval": 1});
    let copy = |column: &str| json!([{"name": "Copy", "params": {"deltaColumn": {"name": column}}}]);
    let body = |transformations: Value| pipeline.flow_body(later.clone(), transformations);

    let reply = shop.api.post("/flows", &body(copy("changed_at"))).await;
    assert_eq!(reply.code(), "1331-400", "{}", reply.body);
    assert!(reply.message().contains("changed_at"), "{}", reply.message());
    let mut spec = body(copy("updated_at"));
    spec["flowSpec"]["id"] = json!("no-such-spec");
    assert_eq!(shop.api.post("/flows", &spec).await.code(), "1416-400");
    let mut two = body(copy("updated_at"));
    two["sourceConnectionIds"] = json!([pipeline.source, pipeline.source]);
    assert_eq!(
        super::detail_paths(&shop.api.post("/flows", &two).await),
        ["/sourceConnectionIds"]
    );
    let mut crossed = body(copy("updated_at"));
    crossed["targetConnectionIds"] = json!([pipeline.source]);
    assert_eq!(shop.api.post("/flows", &crossed).await.code(), "1102-400");
    let mapping = json!([{"name": "Mapping", "params": {"mappingId": "no-such-set", "mappingVersion": 0}}]);
    assert_eq!(shop.api.post("/flows", &body(mapping)).await.code(), "1102-400");
    let mut options = body(copy("updated_at"));
    options["options"] = json!({"partialIngestionPercent": 0});
    assert_eq!(
        super::detail_paths(&shop.api.post("/flows", &options).await),
        ["/options/partialIngestionPercent"]
    );
    options["options"] = json!({"partialIngestionPercent": "5"});
    shop.flow(&options).await;
}

#[tokio::test]
async fn a_mapping_flow_pins_its_version_and_names_unread_columns() {
    let shop = Shop::start();
    let pipeline = shop.pipeline().await;
    let set =
        |source: &str| json!({"mappings": [{"sourceType": "ATTRIBUTE", "source": source, "destination": "order.id"}]});
    let good = conversion(&shop.api, Method::POST, "/mappingSets", Some(&set("id"))).await;
    let good = good.body["id"].as_str().unwrap().to_string();
    let bad = conversion(&shop.api, Method::POST, "/mappingSets", Some(&set("colour"))).await;
    let bad = bad.body["id"].as_str().unwrap().to_string();
    let later = json!({"startTime": now() + 3600, "frequency": "once"});
    let mapping = |id: &str| json!([{"name": "Mapping", "params": {"mappingId": id}}]);

    let reply = shop
        .api
        .post("/flows", &pipeline.flow_body(later.clone(), mapping(&bad)))
        .await;
    assert_eq!(reply.code(), "1331-400");
    assert!(reply.message().contains("colour"), "{}", reply.message());
    let id = shop.flow(&pipeline.flow_body(later, mapping(&good))).await;
    let flow = shop.api.get(&format!("/flows/{id}")).await.body["items"][0].clone();
    assert_eq!(flow["transformations"][0]["params"]["mappingVersion"], 0);
    let in_use = conversion(&shop.api, Method::DELETE, &format!("/mappingSets/{good}"), None).await;
    assert_eq!(in_use.code(), "1418-400");
}

#[tokio::test]
async fn flows_are_enabled_disabled_patched_and_deleted() {
    let shop = Shop::start();
    let pipeline = shop.pipeline().await;
    let id = shop.flow(&pipeline.once(now() + 3600)).await;
    let path = format!("/flows/{id}");
    let api = shop.api.clone();
    let state = || {
        let (api, path) = (api.clone(), path.clone());
        async move { api.get(&path).await.body["items"][0].clone() }
    };

    let disabled = shop.api.post(&format!("{path}/action?op=DISABLE"), &json!({})).await;
    assert_eq!(disabled.status, StatusCode::OK, "{}", disabled.body);
    assert_eq!(disabled.body["id"], id.as_str());
    let flow = state().await;
    assert_eq!(flow["state"], "disabled");
    assert_eq!(flow["etag"], disabled.body["etag"]);
    shop.api.post(&format!("{path}/action?op=Enable"), &json!({})).await;
    assert_eq!(state().await["state"], "enabled");
    assert_eq!(
        shop.api
            .post(&format!("{path}/action?op=pause"), &json!({}))
            .await
            .code(),
        "1406-400"
    );

    let etag = state().await["etag"].as_str().unwrap().to_string();
    let rename = json!([{"op": "replace", "path": "/name", "value": "renamed"}]);
    assert_eq!(shop.api.patch(&path, None, &rename).await.code(), "1403-400");
    let hourly = json!([{"op": "replace", "path": "/scheduleParams/frequency", "value": "hour"}]);
    assert_eq!(shop.api.patch(&path, Some(&etag), &hourly).await.code(), "1362-400");
    let hourly = json!([{"op": "replace", "path": "/scheduleParams", "value": {"startTime": now() + 60, "frequency": "hour", "interval": "2"}}]);
    let patched = shop.api.patch(&path, Some(&etag), &hourly).await;
    assert_eq!(patched.status, StatusCode::OK, "{}", patched.body);
    assert_eq!(shop.api.patch(&path, Some(&etag), &rename).await.code(), "1404-412");
    let etag = patched.body["etag"].as_str().unwrap();
    assert_eq!(shop.api.patch(&path, Some(etag), &rename).await.status, StatusCode::OK);
    let flow = state().await;
    assert_eq!(
        (flow["name"].as_str(), flow["scheduleParams"]["interval"].as_str()),
        (Some("renamed"), Some("2"))
    );
    assert_eq!(flow["state"], "enabled", "a patch keeps the state");
    let spec_change = json!([{"op": "replace", "path": "/flowSpec/id", "value": "x"}]);
    let etag = flow["etag"].as_str().unwrap();
    assert_eq!(shop.api.patch(&path, Some(etag), &spec_change).await.code(), "1405-400");

    assert_eq!(shop.api.delete(&path).await.status, StatusCode::NO_CONTENT);
    assert_eq!(shop.api.get(&path).await.code(), "1101-404");
    assert_eq!(shop.api.delete(&path).await.code(), "1101-404");
}
