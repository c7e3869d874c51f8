//! Identity and tenancy (§2): tokens, api keys, orgs, sandboxes, and isolation.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::common::server::{FLOW, Identity, Inlet, pg_basic};

async fn list_status(api: &Identity) -> (StatusCode, serde_json::Value) {
    let reply = api.get("/connections").await;
    (reply.status, reply.body)
}

#[tokio::test]
async fn the_gateway_checks_token_api_key_org_and_sandbox() {
    let inlet = Inlet::start();
    let api = inlet.identity("ORG1@AdobeOrg");
    assert_eq!(list_status(&api).await.0, StatusCode::OK);

    let url = format!("{}{FLOW}/connections", api.base);
    let no_token = api
        .http
        .get(&url)
        .header("x-api-key", &api.client_id)
        .header("x-gw-ims-org-id", &api.org)
        .header("x-sandbox-name", "prod");
    let reply = api.send(no_token).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert_eq!(reply.body["error_code"], "401013");

    let forged = Identity {
        token: format!("{}x", api.token),
        ..api.clone()
    };
    assert_eq!(list_status(&forged).await.0, StatusCode::UNAUTHORIZED);
    let lowercase_scheme = api
        .http
        .get(&url)
        .header("authorization", format!("bearer {}", api.token))
        .header("x-api-key", &api.client_id)
        .header("x-gw-ims-org-id", &api.org)
        .header("x-sandbox-name", "prod");
    assert_eq!(api.send(lowercase_scheme).await.status, StatusCode::OK);

    let short = Identity {
        token: inlet.token(&api.org, &api.client_id, "1s"),
        ..api.clone()
    };
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let (status, body) = list_status(&short).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error_code"], "401013");

    let other_key = Identity {
        client_id: "someone-else".into(),
        ..api.clone()
    };
    let (status, body) = list_status(&other_key).await;
    assert_eq!(
        (status, body["error_code"].as_str()),
        (StatusCode::FORBIDDEN, Some("403003"))
    );
    let other_org = Identity {
        org: "OTHER@AdobeOrg".into(),
        ..api.clone()
    };
    let (status, body) = list_status(&other_org).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    let no_org = api
        .http
        .get(&url)
        .bearer_auth(&api.token)
        .header("x-api-key", &api.client_id)
        .header("x-sandbox-name", "prod");
    assert_eq!(api.send(no_org).await.body["error_code"], "400003");

    let no_sandbox = api
        .http
        .get(&url)
        .bearer_auth(&api.token)
        .header("x-api-key", &api.client_id)
        .header("x-gw-ims-org-id", &api.org);
    let reply = api.send(no_sandbox).await;
    assert_eq!(reply.code(), "2105-400");
    let reply = api.in_sandbox("nowhere").get("/connections").await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    assert_eq!(reply.code(), "2100-404");
}

#[tokio::test]
async fn a_connection_is_invisible_to_other_orgs_and_sandboxes_on_every_verb() {
    let inlet = Inlet::start();
    let owner = inlet.identity("ORGA@AdobeOrg");
    let stranger = inlet.identity("ORGB@AdobeOrg");
    let created = owner
        .send(
            owner
                .request(Method::POST, "/data/foundation/sandbox-management/sandboxes")
                .json(&json!({"name": "dev", "title": "Dev", "type": "development"})),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let dev = owner.in_sandbox("dev");

    let reply = owner.post("/connections", &pg_basic("a-prod", "p")).await;
    let (id, etag) = (
        reply.body["id"].as_str().unwrap().to_string(),
        reply.body["etag"].as_str().unwrap().to_string(),
    );
    let path = format!("/connections/{id}");
    let rename = json!([{"op": "replace", "path": "/name", "value": "stolen"}]);
    for other in [&stranger, &dev] {
        assert_eq!(other.get(&path).await.code(), "1101-404");
        assert_eq!(other.patch(&path, Some(&etag), &rename).await.code(), "1101-404");
        assert_eq!(other.delete(&path).await.code(), "1101-404");
        assert_eq!(other.get("/connections?count=true").await.body, json!({"count": 0}));
    }
    // Org B cannot reach org A's sandbox by naming it either.
    assert_eq!(stranger.in_sandbox("dev").get("/connections").await.code(), "2100-404");
    assert_eq!(owner.get(&path).await.body["items"][0]["name"], "a-prod");
}

#[tokio::test]
async fn the_token_endpoint_exchanges_client_credentials() {
    let inlet = Inlet::start();
    let api = inlet.identity("ORG1@AdobeOrg");
    let url = format!("{}/ims/token/v3", inlet.base);
    let form = |secret: &str| {
        vec![
            ("grant_type", "client_credentials".to_string()),
            ("client_id", api.client_id.clone()),
            ("client_secret", secret.to_string()),
            ("scope", "openid,AdobeID".to_string()),
        ]
    };

    let reply = api
        .http
        .post(&url)
        .form(&form(&api.client_secret))
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), StatusCode::OK);
    let body: serde_json::Value = reply.json().await.unwrap();
    assert_eq!(body["token_type"], "bearer");
    assert!(body["expires_in"].as_u64().unwrap() > 0);
    let fresh = Identity {
        token: body["access_token"].as_str().unwrap().to_string(),
        ..api.clone()
    };
    assert_eq!(fresh.get("/connections").await.status, StatusCode::OK);

    let reply = api.http.post(&url).form(&form("wrong")).send().await.unwrap();
    assert_eq!(reply.status(), StatusCode::UNAUTHORIZED);
    let body: serde_json::Value = reply.json().await.unwrap();
    assert_eq!(body["error"], "invalid_client");

    let mut bad_grant = form(&api.client_secret);
    bad_grant[0].1 = "password".into();
    let reply = api.http.post(&url).form(&bad_grant).send().await.unwrap();
    assert_eq!(reply.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn the_token_command_refuses_unknown_clients_and_foreign_orgs() {
    let inlet = Inlet::start();
    let api = inlet.identity("ORG1@AdobeOrg");
    let unknown = inlet.cli(&["token", "--org", "ORG1@AdobeOrg", "--client-id", "nobody"]);
    assert!(!unknown.status.success());
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("nobody"));
    let foreign = inlet.cli(&["token", "--org", "ORG2@AdobeOrg", "--client-id", &api.client_id]);
    assert!(!foreign.status.success());
}
