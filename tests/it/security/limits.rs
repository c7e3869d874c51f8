//! Bounded costs and the small holes of issue 11: long values refused cheaply, rate
//! limits on tests and explore, bounded metric labels, table names too long for the
//! source, a second `prod`, and mapping-set versions left by writes that never finished.

use std::io::Write;

use reqwest::{Method, StatusCode};
use serde_json::json;

use super::{basic, test};
use crate::common::pg::{Auth, PgOptions, PgServer, User};
use crate::common::server::{Identity, Inlet, Options, PG_SPEC};
use crate::flows_api::conversion;

#[tokio::test]
async fn megabyte_values_are_refused_before_any_work() {
    let inlet = Inlet::start();
    let api = inlet.identity("ORG1@AdobeOrg");
    let huge = "p".repeat(1_000_000);
    let reply = api
        .post("/connections", &basic("big", "db", 5432, "u", &huge, "Disable"))
        .await;
    assert_eq!(reply.code(), "1001-400", "{}", reply.body);
    assert_eq!(reply.body["report"]["details"][0]["path"], "/auth/params/password");
    // The bound on every string of a body answers first, before the field's own.
    assert_eq!(
        reply.body["report"]["details"][0]["message"],
        "is 1000000 bytes long; at most 65536 are allowed"
    );
    let long = "p".repeat(2_000);
    let reply = api
        .post("/connections", &basic("big", "db", 5432, "u", &long, "Disable"))
        .await;
    assert_eq!(reply.body["report"]["details"][0]["path"], "/auth/params/password");
    assert_eq!(
        reply.body["report"]["details"][0]["message"],
        "must be at most 1024 characters long"
    );
    let text = format!("Server=db;Database=d;UID=u;Password={huge}");
    let cs = json!({"name": "cs", "connectionSpec": {"id": PG_SPEC},
                    "auth": {"specName": "Connection String Based Authentication", "params": {"connectionString": text}}});
    let reply = api.post("/connections", &cs).await;
    assert_eq!(reply.code(), "1001-400");
    assert!(reply.message().contains("at most"), "{}", reply.message());
    for field in ["server", "database", "username", "sslMode", "sslRootCert"] {
        let mut body = basic("big", "db", 5432, "u", "p", "Disable");
        body["auth"]["params"][field] = json!("x".repeat(70_000));
        let reply = api.post("/connections", &body).await;
        assert_eq!(reply.code(), "1001-400", "{field}: {}", reply.body);
        assert!(reply.message().contains("at most"), "{field}: {}", reply.message());
    }
    // A patch is held to the same bounds.
    let id = api
        .create_connection(&basic("ok", "db", 5432, "u", "p", "Disable"))
        .await;
    let ops = json!([{"op": "replace", "path": "/auth/params/password", "value": huge}]);
    assert_eq!(
        api.patch(&format!("/connections/{id}"), None, &ops).await.status,
        StatusCode::BAD_REQUEST
    );
}

#[tokio::test]
async fn tests_and_explores_are_rate_limited_per_org() {
    let config = "source_checks_burst = 3\nsource_checks_per_minute = 0.001\n";
    let inlet = Inlet::start_with(Options {
        config: Some(config.into()),
        ..Options::default()
    });
    let api = inlet.identity("ORG1@AdobeOrg");
    let other = inlet.identity("ORG2@AdobeOrg");
    let id = api
        .create_connection(&basic("c", "127.0.0.1", 1, "u", "p", "Disable"))
        .await;
    let theirs = other
        .create_connection(&basic("c", "127.0.0.1", 1, "u", "p", "Disable"))
        .await;
    assert!(!test(&api, &id).await.0);
    assert!(!test(&api, &id).await.0);
    let explore = api.get(&format!("/connections/{id}/explore?objectType=root")).await;
    assert_eq!(explore.status, StatusCode::BAD_GATEWAY, "{}", explore.body);
    let limited = api.get(&format!("/connections/{id}/test")).await;
    assert_eq!(limited.code(), "1429-429", "{}", limited.body);
    assert!(limited.message().contains("retry in"), "{}", limited.message());
    let limited = api.get(&format!("/connections/{id}/explore?objectType=root")).await;
    assert_eq!(limited.code(), "1429-429");
    // Another org has its own allowance, and other routes are not limited.
    assert!(!test(&other, &theirs).await.0);
    assert_eq!(api.get(&format!("/connections/{id}")).await.status, StatusCode::OK);
}

#[tokio::test]
async fn made_up_methods_and_paths_leave_a_bounded_set_of_series() {
    let inlet = Inlet::start();
    let api = inlet.identity("ORG1@AdobeOrg");
    let series = || async {
        let text = reqwest::get(format!("{}/metrics", inlet.base))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        text.lines()
            .filter(|l| l.starts_with("inlet_http_requests_total{"))
            .map(str::to_string)
            .collect::<Vec<_>>()
    };
    for i in 0..1000 {
        let method = Method::from_bytes(format!("M{i}X").as_bytes()).unwrap();
        let path = if i % 2 == 0 {
            "/data/foundation/flowservice/connections".to_string()
        } else {
            format!("/nothing/{i}")
        };
        let reply = api.send(api.request(method, &path)).await;
        assert!(reply.status.is_client_error(), "{}", reply.status);
    }
    let after = series().await;
    assert!(after.len() <= 4, "{after:#?}");
    assert!(after.iter().all(|l| l.contains("method=\"OTHER\"")), "{after:#?}");
    assert!(after.iter().any(|l| l.contains("route=\"unmatched\"")), "{after:#?}");
}

#[tokio::test]
async fn a_table_name_longer_than_the_source_allows_is_not_found() {
    let pg = PgServer::start(PgOptions {
        users: vec![User::new("reader", "reader-pw", Auth::Scram)],
        ..PgOptions::default()
    });
    let inlet = Inlet::start();
    let api = inlet.identity("ORG1@AdobeOrg");
    let id = api
        .create_connection(&basic("c", "127.0.0.1", pg.port(), "reader", "reader-pw", "Disable"))
        .await;
    let long = "t".repeat(64);
    let explore = api
        .get(&format!(
            "/connections/{id}/explore?objectType=table&object=public.{long}"
        ))
        .await;
    assert_eq!(explore.code(), "1101-404", "{}", explore.body);
    assert!(explore.message().contains("at most 63 bytes"), "{}", explore.message());
    let source = json!({"name": "s", "baseConnectionId": id, "data": {"format": "tabular"},
                        "params": {"tableName": format!("{long}.t")}, "connectionSpec": {"id": PG_SPEC, "version": "1.0"}});
    let reply = api.post("/sourceConnections", &source).await;
    assert!(reply.status.is_client_error(), "{}: {}", reply.status, reply.body);
}

#[tokio::test]
async fn prod_cannot_be_created_a_second_time() {
    let inlet = Inlet::start();
    let api = inlet.identity("ORG1@AdobeOrg");
    let sandboxes = "/data/foundation/sandbox-management/sandboxes";
    let reply = api
        .send(api.request(Method::POST, sandboxes).json(&json!({"name": "prod"})))
        .await;
    assert_eq!(reply.code(), "2101-409", "{}", reply.body);
    let listed = api.send(api.request(Method::GET, sandboxes)).await;
    let names: Vec<&str> = listed.body["sandboxes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["prod"]);
}

/// Writes what an interrupted PUT could leave before the fix: version `n` of the set
/// without the set itself at `n`.
async fn leave_orphan_version(store: &inlet::store::Store, api: &Identity, id: &str, version: i64) {
    use inlet::identity::Tenant;
    let tenant = Tenant {
        org: api.org.clone(),
        sandbox: "prod".into(),
    };
    let row = inlet::store::ResourceRow {
        kind: inlet::mapping::VERSION_KIND.into(),
        id: inlet::mapping::version_id(id, version),
        tenant,
        etag: inlet::store::new_etag(),
        created_at: 0,
        updated_at: 0,
        doc: json!({"id": id, "version": version, "mappings": []}),
        secret: None,
    };
    store.insert_resource(&row).await.unwrap();
}

/// PUTs whose clients go away right after sending them, then orphans: later PUTs still
/// win the next version, and every version up to the set's is readable.
async fn interrupted_writes_leave_no_orphans(inlet: &Inlet, store: &inlet::store::Store) {
    let api = inlet.identity("ORG1@AdobeOrg");
    let body = json!({"mappings": [{"source": "id", "destination": "id"}]});
    let created = conversion(&api, Method::POST, "/mappingSets", Some(&body)).await;
    let id = created.body["id"].as_str().unwrap().to_string();
    let address = inlet.base.trim_start_matches("http://").to_string();
    let payload = body.to_string();
    for _ in 0..20 {
        let mut stream = std::net::TcpStream::connect(&address).unwrap();
        let request = format!(
            "PUT /data/foundation/conversion/mappingSets/{id} HTTP/1.1\r\nhost: x\r\n\
             authorization: Bearer {}\r\nx-api-key: {}\r\nx-gw-ims-org-id: {}\r\nx-sandbox-name: prod\r\n\
             content-type: application/json\r\ncontent-length: {}\r\n\r\n{payload}",
            api.token,
            api.client_id,
            api.org,
            payload.len()
        );
        stream.write_all(request.as_bytes()).unwrap();
        drop(stream);
    }
    let current = |reply: &crate::common::server::Reply| reply.body["version"].as_i64().unwrap();
    // The interrupted PUTs may still be finishing: the orphan goes one past the version
    // the set has once it stops moving.
    let mut set = conversion(&api, Method::GET, &format!("/mappingSets/{id}"), None).await;
    loop {
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        let again = conversion(&api, Method::GET, &format!("/mappingSets/{id}"), None).await;
        if current(&again) == current(&set) {
            break;
        }
        set = again;
    }
    leave_orphan_version(store, &api, &id, current(&set) + 1).await;
    for _ in 0..3 {
        let put = conversion(&api, Method::PUT, &format!("/mappingSets/{id}"), Some(&body)).await;
        assert_eq!(put.status, StatusCode::OK, "{}", put.body);
    }
    let set = conversion(&api, Method::GET, &format!("/mappingSets/{id}"), None).await;
    for version in 0..=current(&set) {
        let old = conversion(&api, Method::GET, &format!("/mappingSets/{id}?version={version}"), None).await;
        assert_eq!(old.status, StatusCode::OK, "version {version}: {}", old.body);
        assert_eq!(old.body["mappings"], set.body["mappings"], "version {version}");
    }
}

#[tokio::test]
async fn mapping_set_versions_stay_whole_on_sqlite() {
    let inlet = Inlet::start();
    let store = inlet::store::Store::open_sqlite(&inlet.data_dir()).await.unwrap();
    interrupted_writes_leave_no_orphans(&inlet, &store).await;
}

#[tokio::test]
async fn mapping_set_versions_stay_whole_on_postgres() {
    let pg = PgServer::start(PgOptions::default());
    pg.create_database("meta");
    let url = pg.admin_url("meta");
    let inlet = Inlet::start_with(Options {
        metadata_url: Some(url.clone()),
        ..Options::default()
    });
    let store = inlet::store::Store::connect(&inlet::secret::Secret::new(url))
        .await
        .unwrap();
    interrupted_writes_leave_no_orphans(&inlet, &store).await;
}
