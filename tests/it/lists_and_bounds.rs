//! Lists and bounds at a user's scale and an attacker's: 5,000 connections walked page by
//! page visit each exactly once; continuation tokens a client edited or made up are
//! refused; documents nested or long beyond the bounds are refused naming the field and
//! the bound, and the deepest and longest documents allowed can be read, listed, patched
//! and deleted.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::common::server::{Inlet, pg_basic};
use crate::flows_api::{CONVERSION, DATALAKE_SPEC, detail_paths};
use inlet::identity::Tenant;
use inlet::store::{ResourceRow, Store};

const CONNECTIONS: usize = 5_000;

/// `depth` levels of objects, the innermost holding `leaf`.
fn nested(depth: usize, leaf: Value) -> Value {
    (1..depth).fold(leaf, |inner, _| json!({ "a": inner }))
}

#[tokio::test]
async fn five_thousand_connections_are_walked_once_each_and_tokens_cannot_be_edited() {
    let inlet = Inlet::start();
    let api = inlet.identity("ORG1@AdobeOrg");
    let store = Store::open_sqlite(&inlet.data_dir()).await.unwrap();
    let tenant = Tenant {
        org: api.org.clone(),
        sandbox: "prod".into(),
    };
    for i in 0..CONNECTIONS {
        let id = format!("conn-{i:05}");
        let row = ResourceRow {
            kind: "connection".into(),
            id: id.clone(),
            tenant: tenant.clone(),
            etag: "\"e\"".into(),
            // Ties on purpose: 50 connections share each millisecond.
            created_at: 1_000 + (i / 50) as i64,
            updated_at: 1_000,
            doc: json!({"id": id, "name": format!("c{}", i % 97), "createdAt": 1_000 + (i / 50) as i64,
                "updatedAt": 1_000, "connectionSpec": {"id": if i % 2 == 0 { "even" } else { "odd" }}}),
            secret: None,
        };
        store.insert_resource(&row).await.unwrap();
    }
    for (order, filter, expected) in [
        ("-createdAt", "", CONNECTIONS),
        ("name", "&property=connectionSpec.id==odd", CONNECTIONS / 2),
    ] {
        let mut seen = std::collections::HashSet::new();
        let mut path = format!("/connections?limit=20&orderby={order}{filter}");
        let mut pages = 0;
        loop {
            let reply = api.get(&path).await;
            assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
            for item in reply.body["items"].as_array().unwrap() {
                assert!(seen.insert(item["id"].as_str().unwrap().to_string()), "{item} twice");
            }
            pages += 1;
            match reply.body["_links"]["next"]["href"].as_str() {
                Some(next) => path = next.to_string(),
                None => break,
            }
        }
        assert_eq!(
            (seen.len(), pages),
            (expected, expected.div_ceil(20)),
            "{order}{filter}"
        );
    }
    let count = api
        .get("/connections?count=true&property=connectionSpec.id==even")
        .await;
    assert_eq!(count.body, json!({"count": CONNECTIONS / 2}));

    // A token's limit cannot be raised past the maximum by editing it, nor a token made.
    let next = api.get("/connections?limit=100").await.body["_links"]["next"]["href"]
        .as_str()
        .unwrap()
        .to_string();
    let token = next.split_once("continuationToken=").unwrap().1.to_string();
    let mut bytes = URL_SAFE_NO_PAD.decode(&token).unwrap();
    let body = String::from_utf8_lossy(&bytes[32..]).replace("\"l\":100", "\"l\":172");
    bytes.truncate(32);
    bytes.extend(body.as_bytes());
    let edited = api
        .get(&format!(
            "/connections?continuationToken={}",
            URL_SAFE_NO_PAD.encode(&bytes)
        ))
        .await;
    assert_eq!(edited.code(), "1402-400", "{}", edited.body);
    let forged = URL_SAFE_NO_PAD.encode(br#"{"l":172}"#);
    let made_up = api.get(&format!("/connections?continuationToken={forged}")).await;
    assert_eq!(made_up.code(), "1402-400", "{}", made_up.body);
    assert_eq!(api.get(&next).await.body["items"].as_array().unwrap().len(), 100);
}

#[tokio::test]
async fn documents_beyond_the_bounds_are_refused_and_the_largest_allowed_stay_usable() {
    let inlet = Inlet::start();
    let api = inlet.identity("ORG1@AdobeOrg");

    // Beyond the bounds: each refused with the field and the bound named.
    let mut deep = pg_basic("deep", "pw");
    deep["auth"]["params"]["extra"] = nested(120, json!(1));
    let reply = api.post("/connections", &deep).await;
    assert_eq!(reply.code(), "1001-400", "{}", reply.body);
    assert!(
        detail_paths(&reply)[0].starts_with("/auth/params/extra/a/a"),
        "{}",
        reply.body
    );
    assert!(reply.message().contains("at most 32"), "{}", reply.message());
    let mut long = pg_basic(&"n".repeat(1_000_000), "pw");
    let reply = api.post("/connections", &long).await;
    assert_eq!(detail_paths(&reply), ["/name"], "{}", reply.body);
    assert!(reply.message().contains("at most 65536"), "{}", reply.message());
    long["name"] = json!("n".repeat(257));
    let reply = api.post("/connections", &long).await;
    assert!(reply.message().contains("at most 256"), "{}", reply.message());
    let named = json!({"name": 5, "mappings": [{"source": "id", "destination": "id"}]});
    let request = api
        .request(Method::POST, &format!("{CONVERSION}/mappingSets"))
        .json(&named);
    let reply = api.send(request).await;
    assert_eq!(detail_paths(&reply), ["/name"], "{}", reply.body);
    let scalar = json!({"name": "t", "data": "delta", "params": {"dataSetId": "x"},
        "connectionSpec": {"id": DATALAKE_SPEC}});
    let reply = api.post("/targetConnections", &scalar).await;
    assert!(detail_paths(&reply).contains(&"/data".to_string()), "{}", reply.body);

    // The largest allowed: a name of 256 characters and a description of 4,096.
    let mut within = pg_basic(&"n".repeat(256), "pw");
    within["description"] = json!("d".repeat(4_096));
    let id = api.create_connection(&within).await;
    let path = format!("/connections/{id}");
    let etag = api.get(&path).await.body["items"][0]["etag"]
        .as_str()
        .unwrap()
        .to_string();
    // A patch that would nest deeper than allowed is refused, and leaves the document.
    let deeper = json!([{"op": "add", "path": "/description", "value": nested(40, json!("x"))}]);
    let reply = api.patch(&path, Some(&etag), &deeper).await;
    assert_eq!(reply.code(), "1001-400", "{}", reply.body);
    let renamed = json!([{"op": "replace", "path": "/name", "value": "m".repeat(256)}]);
    assert_eq!(api.patch(&path, Some(&etag), &renamed).await.status, StatusCode::OK);
    let shown = api.get(&path).await.body["items"][0].clone();
    assert_eq!(shown["name"].as_str().unwrap().len(), 256);
    assert_eq!(shown["description"].as_str().unwrap().len(), 4_096);
    let listed = api.get("/connections?property=name~mmm").await;
    assert_eq!(listed.body["items"].as_array().unwrap().len(), 1);
    assert_eq!(api.delete(&path).await.status, StatusCode::NO_CONTENT);
    assert_eq!(api.get(&path).await.code(), "1101-404");

    // A target connection keeps `data.schema` as given: the deepest allowed is stored,
    // read, listed, patched and deleted.
    let dataset = api
        .send(
            api.request(Method::POST, "/data/foundation/catalog/dataSets")
                .json(&json!({"name": "d"})),
        )
        .await
        .body[0]
        .as_str()
        .unwrap()
        .trim_start_matches("@/dataSets/")
        .to_string();
    // Nested to the limit (the innermost object is level 32) around a 64 KiB string.
    let schema = nested(30, json!("x".repeat(65_536)));
    let target = json!({"name": "t", "data": {"format": "delta", "schema": schema},
        "params": {"dataSetId": dataset}, "connectionSpec": {"id": DATALAKE_SPEC}});
    let reply = api.post("/targetConnections", &target).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    let id = reply.body["id"].as_str().unwrap().to_string();
    let path = format!("/targetConnections/{id}");
    let shown = api.get(&path).await;
    assert_eq!(shown.body["items"][0]["data"]["schema"], schema);
    assert_eq!(
        api.get("/targetConnections").await.body["items"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let etag = shown.body["items"][0]["etag"].as_str().unwrap().to_string();
    let ops = json!([{"op": "replace", "path": "/name", "value": "renamed"}]);
    assert_eq!(api.patch(&path, Some(&etag), &ops).await.status, StatusCode::OK);
    assert_eq!(api.delete(&path).await.status, StatusCode::NO_CONTENT);
    assert_eq!(api.get("/targetConnections").await.body["items"], json!([]));
}

#[tokio::test]
async fn filters_beyond_their_bounds_are_refused_on_every_list_and_the_largest_allowed_answer() {
    let inlet = Inlet::start();
    let api = inlet.identity("ORG1@AdobeOrg");
    let values = |n: usize| (0..n).map(|i| format!("v{i}")).collect::<Vec<_>>().join(",");
    for (list, field) in [
        ("/connections", "name"),
        ("/sourceConnections", "name"),
        ("/targetConnections", "name"),
        ("/flows", "name"),
        ("/runs", "flowId"),
    ] {
        let reply = api.get(&format!("{list}?property={field}=={}", values(500))).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{list}: {}", reply.body);
        assert!(
            reply.message().contains("at most 100 values"),
            "{list}: {}",
            reply.message()
        );
        let reply = api.get(&format!("{list}?property={field}=={}", values(100))).await;
        assert_eq!(reply.status, StatusCode::OK, "{list}: {}", reply.body);
        let many: Vec<String> = (0..21).map(|i| format!("property={field}!=x{i}")).collect();
        let reply = api.get(&format!("{list}?{}", many.join("&"))).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{list}: {}", reply.body);
        assert!(reply.message().contains("at most 20"), "{list}: {}", reply.message());
        let reply = api.get(&format!("{list}?{}", many[..20].join("&"))).await;
        assert_eq!(reply.status, StatusCode::OK, "{list}: {}", reply.body);
    }
    for list in ["/dataSets", "/batches"] {
        let path = format!("/data/foundation/catalog{list}?property=name=={}", values(500));
        let reply = api.send(api.request(Method::GET, &path)).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{list}: {}", reply.body);
        let path = format!("/data/foundation/catalog{list}?property=name=={}", values(100));
        let reply = api.send(api.request(Method::GET, &path)).await;
        assert_eq!(reply.status, StatusCode::OK, "{list}: {}", reply.body);
    }
}
