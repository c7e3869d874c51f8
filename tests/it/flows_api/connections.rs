//! Source and target connections (§8).

use reqwest::StatusCode;
use serde_json::json;

use super::{ORG, Shop, detail_paths, source_body, target_body};
use crate::common::server::REDSHIFT_SPEC;

#[tokio::test]
async fn a_source_connection_describes_its_table_and_shows_its_base_connection() {
    let shop = Shop::start();
    let base = shop.base_connection().await;
    let id = shop.source(&base, "ORDERS").await;
    let item = shop.api.get(&format!("/sourceConnections/{id}")).await.body["items"][0].clone();
    assert_eq!(item["state"], "enabled");
    assert_eq!(item["baseConnectionId"], base.as_str());
    assert_eq!(
        item["params"]["tableName"], "public.orders",
        "the name reads back canonical"
    );
    assert_eq!(item["inheritedAttributes"]["baseConnection"]["id"], base.as_str());
    assert_eq!(
        item["inheritedAttributes"]["baseConnection"]["connectionSpec"]["id"],
        crate::common::server::PG_SPEC
    );
    assert_eq!(item["etag"], item["version"]);
    assert_eq!(item["imsOrgId"], ORG);

    let mut some = source_body(&base, "public.orders");
    some["params"]["columns"] = json!([{"name": "updated_at", "type": "string"}, "id"]);
    let created = shop.api.post("/sourceConnections", &some).await;
    let id = created.body["id"].as_str().unwrap();
    let item = shop.api.get(&format!("/sourceConnections/{id}")).await.body["items"][0].clone();
    assert_eq!(
        item["params"]["columns"],
        json!([{"name": "updated_at", "type": "string"}, {"name": "id", "type": "long"}])
    );
    let listed = shop
        .api
        .get(&format!("/sourceConnections?property=baseConnectionId=={base}"))
        .await;
    assert_eq!(listed.body["items"].as_array().unwrap().len(), 2, "{}", listed.body);
}

#[tokio::test]
async fn a_missing_or_unreadable_table_or_column_is_1330() {
    let shop = Shop::start();
    let base = shop.base_connection().await;
    let missing = shop
        .api
        .post("/sourceConnections", &source_body(&base, "public.nope"))
        .await;
    assert_eq!(missing.code(), "1330-400", "{}", missing.body);
    assert!(missing.message().contains("public.nope"), "{}", missing.message());
    let unreadable = shop
        .api
        .post("/sourceConnections", &source_body(&base, "public.secret_stuff"))
        .await;
    assert_eq!(unreadable.code(), "1330-400", "{}", unreadable.body);
    let injected = shop
        .api
        .post("/sourceConnections", &source_body(&base, "orders; DROP TABLE orders"))
        .await;
    assert_eq!(injected.code(), "1330-400", "{}", injected.body);
    let mut columns = source_body(&base, "public.orders");
    columns["params"]["columns"] = json!(["id", "colour", "size"]);
    let reply = shop.api.post("/sourceConnections", &columns).await;
    assert_eq!(reply.code(), "1330-400");
    assert!(reply.message().contains("colour, size"), "{}", reply.message());
    assert_eq!(shop.pg.psql("shop", "SELECT count(*) FROM public.orders"), "1");
}

#[tokio::test]
async fn source_connection_bodies_are_checked_field_by_field() {
    let shop = Shop::start();
    let base = shop.base_connection().await;
    let unknown = shop
        .api
        .post("/sourceConnections", &source_body("no-such-base", "orders"))
        .await;
    assert_eq!(unknown.code(), "1102-400");
    assert!(unknown.message().contains("no-such-base"), "{}", unknown.message());
    let mut redshift = source_body(&base, "orders");
    redshift["connectionSpec"]["id"] = json!(REDSHIFT_SPEC);
    assert_eq!(shop.api.post("/sourceConnections", &redshift).await.code(), "1419-400");
    // A column's `type`, when given, must be a type name: numbers are refused at their path.
    for bad in [json!(0), json!(-1), json!(1.5)] {
        let mut typed = source_body(&base, "orders");
        typed["params"]["columns"] = json!([{"name": "id", "type": bad}]);
        let reply = shop.api.post("/sourceConnections", &typed).await;
        assert_eq!(
            detail_paths(&reply),
            ["/params/columns/0/type"],
            "{bad}: {}",
            reply.body
        );
    }
    let mut csv = source_body(&base, "orders");
    csv["data"]["format"] = json!("csv");
    csv["params"] = json!({});
    let reply = shop.api.post("/sourceConnections", &csv).await;
    assert_eq!(reply.code(), "1001-400");
    assert_eq!(detail_paths(&reply), ["/data/format", "/params/tableName"]);
    // Change data capture on a server without logical decoding is refused, naming the
    // flag (docs/cdc.md), and so is a value that is not a boolean.
    for asked in [json!(true), json!("TRUE"), json!(1)] {
        let mut cdc = source_body(&base, "orders");
        cdc["params"]["cdcEnabled"] = asked.clone();
        let reply = shop.api.post("/sourceConnections", &cdc).await;
        assert_eq!(detail_paths(&reply), ["/params/cdcEnabled"], "{asked}: {}", reply.body);
    }
    let mut off = source_body(&base, "orders");
    off["params"]["cdcEnabled"] = json!(false);
    assert_eq!(
        shop.api.post("/sourceConnections", &off).await.status,
        reqwest::StatusCode::CREATED
    );
}

#[tokio::test]
async fn source_connections_patch_with_if_match_and_recheck_the_table() {
    let shop = Shop::start();
    let base = shop.base_connection().await;
    let id = shop.source(&base, "orders").await;
    let path = format!("/sourceConnections/{id}");
    let etag = shop.api.get(&path).await.body["items"][0]["etag"]
        .as_str()
        .unwrap()
        .to_string();
    let rename = json!([{"op": "replace", "path": "/name", "value": "renamed"}]);
    assert_eq!(shop.api.patch(&path, None, &rename).await.code(), "1403-400");
    assert_eq!(
        shop.api.patch(&path, Some("\"stale\""), &rename).await.code(),
        "1404-412"
    );
    let done = shop.api.patch(&path, Some(&etag), &rename).await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.body);
    assert_ne!(done.body["etag"], etag.as_str());
    let item = shop.api.get(&path).await.body["items"][0].clone();
    assert_eq!(item["name"], "renamed");
    assert_eq!(item["etag"], done.body["etag"]);
    let elsewhere = json!([{"op": "replace", "path": "/params/tableName", "value": "public.nope"}]);
    let etag = done.body["etag"].as_str().unwrap();
    assert_eq!(shop.api.patch(&path, Some(etag), &elsewhere).await.code(), "1330-400");
    let base_change = json!([{"op": "replace", "path": "/baseConnectionId", "value": "x"}]);
    assert_eq!(shop.api.patch(&path, Some(etag), &base_change).await.code(), "1405-400");
}

#[tokio::test]
async fn a_target_connection_needs_a_dataset_of_the_same_org_and_sandbox() {
    let shop = Shop::start();
    shop.dev().await;
    let here = shop.dataset(ORG, "prod").await;
    for format in ["tabular", "parquet", "Delta", "delimited", "json", "parquet_xdm"] {
        let reply = shop.api.post("/targetConnections", &target_body(&here, format)).await;
        assert_eq!(reply.status, StatusCode::CREATED, "{format}: {}", reply.body);
        let id = reply.body["id"].as_str().unwrap();
        let item = shop.api.get(&format!("/targetConnections/{id}")).await.body["items"][0].clone();
        assert_eq!(item["params"]["dataSetId"], here.as_str());
        assert_eq!(item["data"]["format"], format.to_lowercase());
    }
    let other_sandbox = shop.dataset(ORG, "dev").await;
    let reply = shop
        .api
        .post("/targetConnections", &target_body(&other_sandbox, "delta"))
        .await;
    assert_eq!(reply.code(), "1308-400", "{}", reply.body);
    assert!(reply.message().contains(&other_sandbox), "{}", reply.message());
    let other_org = shop.dataset("ORG2@AdobeOrg", "prod").await;
    assert_eq!(
        shop.api
            .post("/targetConnections", &target_body(&other_org, "delta"))
            .await
            .code(),
        "1308-400"
    );
    let mut source_spec = target_body(&here, "delta");
    source_spec["connectionSpec"]["id"] = json!(crate::common::server::PG_SPEC);
    assert_eq!(
        shop.api.post("/targetConnections", &source_spec).await.code(),
        "1307-400"
    );
    let csv = shop.api.post("/targetConnections", &target_body(&here, "csv")).await;
    assert_eq!(detail_paths(&csv), ["/data/format"]);
}

#[tokio::test]
async fn deleting_what_a_flow_uses_is_refused_with_1418() {
    let shop = Shop::start();
    let pipeline = shop.pipeline().await;
    let flow = shop.flow(&pipeline.once(super::now() + 3600)).await;

    let base = shop.api.delete(&format!("/connections/{}", pipeline.base)).await;
    assert_eq!(base.code(), "1418-400");
    assert!(base.message().contains(&flow), "names the flow: {}", base.message());
    let source = shop
        .api
        .delete(&format!("/sourceConnections/{}", pipeline.source))
        .await;
    assert_eq!(source.code(), "1418-400");
    assert!(source.message().contains(&flow), "{}", source.message());
    let target = shop
        .api
        .delete(&format!("/targetConnections/{}", pipeline.target))
        .await;
    assert_eq!(target.code(), "1418-400");

    assert_eq!(
        shop.api.delete(&format!("/flows/{flow}")).await.status,
        StatusCode::NO_CONTENT
    );
    let base = shop.api.delete(&format!("/connections/{}", pipeline.base)).await;
    assert_eq!(base.code(), "1418-400", "the source connection still uses it");
    assert!(base.message().contains(&pipeline.source), "{}", base.message());
    for path in [
        format!("/sourceConnections/{}", pipeline.source),
        format!("/targetConnections/{}", pipeline.target),
        format!("/connections/{}", pipeline.base),
    ] {
        assert_eq!(shop.api.delete(&path).await.status, StatusCode::NO_CONTENT, "{path}");
        assert_eq!(shop.api.get(&path).await.code(), "1101-404", "{path}");
    }
}
