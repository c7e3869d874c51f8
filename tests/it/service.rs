//! The service as an operator sees it: ops endpoints, restarts, limits, sandboxes.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::common::server::{Identity, Inlet, pg_basic};

const SANDBOXES: &str = "/data/foundation/sandbox-management/sandboxes";

#[tokio::test]
async fn ops_endpoints_answer_without_auth() {
    let inlet = Inlet::start();
    let api = inlet.identity("ORG1@AdobeOrg");
    let http = reqwest::Client::new();
    let get = |path: &str| http.get(format!("{}{path}", inlet.base)).send();

    assert_eq!(get("/healthz").await.unwrap().status(), StatusCode::OK);
    let ready: Value = get("/readyz").await.unwrap().json().await.unwrap();
    assert_eq!(ready["status"], "ready");

    api.get("/connections").await;
    api.get("/connections/no-such-id").await;
    let metrics = get("/metrics").await.unwrap().text().await.unwrap();
    assert!(
        metrics.contains(r#"route="/data/foundation/flowservice/connections/{id}""#),
        "{metrics}"
    );
    assert!(metrics.contains(r#"status="404""#), "{metrics}");
    assert!(
        metrics.contains("inlet_http_request_duration_seconds_bucket"),
        "{metrics}"
    );

    let openapi: Value = get("/openapi.json").await.unwrap().json().await.unwrap();
    let paths = openapi["paths"].as_object().unwrap();
    for path in [
        "/data/foundation/flowservice/connections",
        "/data/foundation/flowservice/connections/{id}",
        "/data/foundation/flowservice/connectionSpecs",
        "/ims/token/v3",
        "/data/foundation/sandbox-management/sandboxes",
    ] {
        assert!(paths.contains_key(path), "{path} missing from openapi.json");
    }
    assert!(
        paths["/data/foundation/flowservice/connections/{id}"]
            .get("patch")
            .is_some()
    );
}

#[tokio::test]
async fn every_response_carries_a_request_id_and_errors_name_it() {
    let inlet = Inlet::start();
    let api = inlet.identity("ORG1@AdobeOrg");
    let reply = api.get("/connections/missing").await;
    let id = reply.headers["x-request-id"].to_str().unwrap().to_string();
    assert!(!id.is_empty());
    assert_eq!(reply.body["report"]["request-id"], id.as_str());
    assert_eq!(reply.body["status"], 404);
    assert_eq!(reply.body["title"], "Resource not found");
    let given = api
        .send(
            api.request(Method::GET, "/data/foundation/flowservice/connections")
                .header("x-request-id", "my-trace-1"),
        )
        .await;
    assert_eq!(given.headers["x-request-id"], "my-trace-1");
}

#[tokio::test]
async fn connection_specs_are_served() {
    let inlet = Inlet::start();
    let api = inlet.identity("ORG1@AdobeOrg");
    let specs = api.get("/connectionSpecs").await.body;
    let names: Vec<&str> = specs["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    for name in ["postgre-sql", "amazon-redshift", "datalake"] {
        assert!(names.contains(&name), "{names:?}");
    }
    let pg = api
        .get("/connectionSpecs/74a1c565-4e59-48d7-9d67-7c03b8a13137")
        .await
        .body;
    let auth = pg["items"][0]["authSpec"].as_array().unwrap();
    let basic = auth.iter().find(|a| a["name"] == "Basic Authentication").unwrap();
    assert_eq!(basic["spec"]["properties"]["password"]["format"], "password");
    assert_eq!(api.get("/connectionSpecs/nope").await.code(), "1101-404");
    let flows = api.get("/flowSpecs").await.body;
    assert_eq!(flows["items"][0]["name"], "CRMToAEP");
}

#[tokio::test]
async fn sandboxes_are_created_listed_and_deleted_only_when_empty() {
    let inlet = Inlet::start();
    let api = inlet.identity("ORG1@AdobeOrg");
    let call = |method: Method, path: String, body: Option<Value>| {
        let mut request = api.request(method, &path);
        if let Some(body) = body {
            request = request.json(&body);
        }
        api.send(request)
    };
    let created = call(
        Method::POST,
        SANDBOXES.into(),
        Some(json!({"name": "dev-1", "title": "Dev", "type": "development"})),
    )
    .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    assert_eq!(
        call(
            Method::POST,
            SANDBOXES.into(),
            Some(json!({"name": "dev-1", "title": "Dev", "type": "development"}))
        )
        .await
        .status,
        StatusCode::CONFLICT
    );
    assert_eq!(
        call(
            Method::POST,
            SANDBOXES.into(),
            Some(json!({"name": "Dev_1", "type": "development"}))
        )
        .await
        .status,
        StatusCode::BAD_REQUEST
    );
    let listed = call(Method::GET, SANDBOXES.into(), None).await.body;
    let names: Vec<&str> = listed["sandboxes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["prod", "dev-1"]);

    let dev = api.in_sandbox("dev-1");
    let id = dev.create_connection(&pg_basic("in dev", "p")).await;
    let refused = call(Method::DELETE, format!("{SANDBOXES}/dev-1"), None).await;
    assert_eq!(refused.status, StatusCode::CONFLICT, "{}", refused.body);
    assert_eq!(
        dev.delete(&format!("/connections/{id}")).await.status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        call(Method::DELETE, format!("{SANDBOXES}/dev-1"), None).await.status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        call(Method::GET, format!("{SANDBOXES}/dev-1"), None).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        call(Method::DELETE, format!("{SANDBOXES}/prod"), None).await.status,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(dev.get("/connections").await.code(), "2100-404");
}

#[tokio::test]
async fn connections_clients_sandboxes_and_keys_survive_a_restart() {
    let mut inlet = Inlet::start();
    let api = inlet.identity("ORG1@AdobeOrg");
    let created = api
        .send(
            api.request(Method::POST, SANDBOXES)
                .json(&json!({"name": "stage", "type": "development"})),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED);
    let id = api.in_sandbox("stage").create_connection(&pg_basic("kept", "pw")).await;

    inlet.restart();
    let api = Identity {
        base: inlet.base.clone(),
        ..api
    };
    // The token minted before the restart still verifies: the signing key was kept.
    let shown = api.in_sandbox("stage").get(&format!("/connections/{id}")).await;
    assert_eq!(shown.status, StatusCode::OK, "{}", shown.body);
    assert_eq!(shown.body["items"][0]["name"], "kept");
    // The client secret still exchanges for a token.
    let form = [
        ("grant_type", "client_credentials"),
        ("client_id", api.client_id.as_str()),
        ("client_secret", api.client_secret.as_str()),
    ];
    let token = api
        .http
        .post(format!("{}/ims/token/v3", inlet.base))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(token.status(), StatusCode::OK);
    // A token minted by another process on the same data directory is accepted.
    let minted = Identity {
        token: inlet.token(&api.org, &api.client_id, "5m"),
        ..api.clone()
    };
    assert_eq!(minted.get("/connections").await.status, StatusCode::OK);
}

#[tokio::test]
async fn large_bodies_are_refused_and_many_concurrent_requests_are_served() {
    let inlet = Inlet::start();
    let api = inlet.identity("ORG1@AdobeOrg");
    // A client that announces its body (as curl does for large bodies) gets the 413
    // before sending it.
    let answer = announce_body(&inlet.base, &api, 10 * 1024 * 1024);
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(answer.contains("FLOW-1003-413"), "{answer}");
    // A client that sends 10 MB blindly is cut off, and the server carries on.
    let mut huge = pg_basic("huge", "p");
    huge["description"] = json!("x".repeat(10 * 1024 * 1024));
    let blind = api
        .request(Method::POST, "/data/foundation/flowservice/connections")
        .json(&huge)
        .send()
        .await;
    if let Ok(response) = blind {
        assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    }
    assert_eq!(api.get("/connections?count=true").await.body, json!({"count": 0}));

    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..1000 {
        let api = api.clone();
        tasks.spawn(async move {
            if i % 4 == 0 {
                api.post("/connections", &pg_basic(&format!("c{i}"), "p")).await.status
            } else {
                api.get("/connections?limit=5").await.status
            }
        });
    }
    let mut statuses = std::collections::BTreeMap::new();
    while let Some(status) = tasks.join_next().await {
        *statuses.entry(status.unwrap().as_u16()).or_insert(0) += 1;
    }
    assert_eq!(statuses, [(200, 750), (201, 250)].into_iter().collect());
    assert_eq!(api.get("/connections?count=true").await.body, json!({"count": 250}));
    assert_eq!(
        reqwest::get(format!("{}/healthz", inlet.base)).await.unwrap().status(),
        StatusCode::OK
    );
}

/// Sends a POST's headers with `Expect: 100-continue` and returns what the server answers
/// before any body byte is sent.
fn announce_body(base: &str, api: &Identity, length: usize) -> String {
    use std::io::{Read, Write};
    let address = base.trim_start_matches("http://");
    let mut stream = std::net::TcpStream::connect(address).unwrap();
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .unwrap();
    let head = format!(
        "POST /data/foundation/flowservice/connections HTTP/1.1\r\nHost: {address}\r\nAuthorization: Bearer {}\r\n\
         x-api-key: {}\r\nx-gw-ims-org-id: {}\r\nx-sandbox-name: prod\r\nContent-Type: application/json\r\n\
         Content-Length: {length}\r\nExpect: 100-continue\r\n\r\n",
        api.token, api.client_id, api.org
    );
    stream.write_all(head.as_bytes()).unwrap();
    let mut answer = vec![0u8; 4096];
    let read = stream.read(&mut answer).unwrap();
    String::from_utf8_lossy(&answer[..read]).to_string()
}
