//! A secret given to Inlet appears nowhere it could leak: responses, logs, metadata files
//! or tables.

use reqwest::StatusCode;
use serde_json::json;

use crate::common::pg::{PgOptions, PgServer};
use crate::common::server::{Identity, Inlet, Options, PG_SPEC, bytes_under, pg_basic};

const SENTINEL: &str = "Sentinel-9f3b2c7e-pw";

/// Exercises every connection verb with the sentinel, returning all response bodies.
async fn use_the_secret(api: &Identity) -> String {
    let mut seen = String::new();
    let string_auth = json!({"name": "cs", "auth": {"specName": "Connection String Based Authentication",
        "params": {"connectionString": format!("Server=db;Database=shop;UID=u;Password={SENTINEL}")}},
        "connectionSpec": {"id": PG_SPEC}});
    let bad_string = json!({"name": "cs", "auth": {"specName": "Connection String Based Authentication",
        "params": {"connectionString": format!("Server=db;Database=shop;UID=u;Password={SENTINEL};Prot=1")}},
        "connectionSpec": {"id": PG_SPEC}});
    let mut bad_type = pg_basic("bad", SENTINEL);
    bad_type["auth"]["params"]["password"] = json!([SENTINEL]);
    for body in [pg_basic("basic", SENTINEL), string_auth, bad_string, bad_type] {
        let reply = api.post("/connections", &body).await;
        seen.push_str(&reply.body.to_string());
        if reply.status == StatusCode::CREATED {
            let id = reply.body["id"].as_str().unwrap();
            let etag = reply.body["etag"].as_str().unwrap();
            let shown = api.get(&format!("/connections/{id}")).await;
            seen.push_str(&shown.body.to_string());
            let ops =
                json!([{"op": "replace", "path": "/auth/params", "value": shown.body["items"][0]["auth"]["params"]}]);
            seen.push_str(
                &api.patch(&format!("/connections/{id}"), Some(etag), &ops)
                    .await
                    .body
                    .to_string(),
            );
            let wrong = json!([{"op": "replace", "path": "/auth/params/port", "value": SENTINEL}]);
            seen.push_str(
                &api.patch(&format!("/connections/{id}"), Some(etag), &wrong)
                    .await
                    .body
                    .to_string(),
            );
        }
    }
    seen.push_str(&api.get("/connections").await.body.to_string());
    seen
}

#[tokio::test]
async fn a_sentinel_password_never_leaves_sqlite_inlet() {
    let mut inlet = Inlet::start_with(Options {
        log_level: Some("debug".into()),
        ..Options::default()
    });
    let api = inlet.identity("ORG1@AdobeOrg");
    let responses = use_the_secret(&api).await;
    assert!(
        responses.contains("<secret>"),
        "the test did not exercise a stored secret"
    );
    assert!(!responses.contains(SENTINEL), "a response carried the secret");
    inlet.stop();
    let logs = inlet.logs();
    assert!(logs.contains("DEBUG"), "debug logging was not on");
    assert!(!logs.contains(SENTINEL), "the log carried the secret");
    let files = bytes_under(&inlet.data_dir());
    assert!(!files.is_empty());
    assert!(
        !files.windows(SENTINEL.len()).any(|w| w == SENTINEL.as_bytes()),
        "the data directory holds the secret in clear"
    );
}

#[tokio::test]
async fn a_sentinel_password_never_reaches_postgres_metadata() {
    let pg = PgServer::start(PgOptions::default());
    pg.create_database("inlet_meta");
    let url = pg.admin_url("inlet_meta");
    let mut inlet = Inlet::start_with(Options {
        metadata_url: Some(url),
        log_level: Some("debug".into()),
        ..Options::default()
    });
    let api = inlet.identity("ORG1@AdobeOrg");
    let responses = use_the_secret(&api).await;
    assert!(!responses.contains(SENTINEL));
    inlet.stop();
    assert!(!inlet.logs().contains(SENTINEL));
    let mut dumped = String::new();
    for table in ["resources", "api_clients", "sandboxes", "schema_migrations"] {
        dumped.push_str(&pg.psql("inlet_meta", &format!("COPY {table} TO STDOUT")));
    }
    assert!(
        dumped.contains("<secret>"),
        "the connections were not stored in PostgreSQL"
    );
    assert!(
        !dumped.contains(SENTINEL),
        "the metadata tables hold the secret in clear"
    );
}
