//! Base connections over HTTP (§6): the platform's examples, validation, patching, paging.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::common::server::{Inlet, PG_SPEC, REDSHIFT_SPEC, pg_basic};

fn pg_string(connection_string: &str) -> Value {
    json!({
        "name": "pg by string", "description": "from the docs",
        "auth": {"specName": "Connection String Based Authentication", "params": {"connectionString": connection_string}},
        "connectionSpec": {"id": PG_SPEC, "version": "1.0"}
    })
}

#[tokio::test]
async fn the_platform_examples_are_accepted_verbatim_and_shown_with_defaults() {
    let inlet = Inlet::start();
    let api = inlet.identity("ORG1@AdobeOrg");

    for body in [
        pg_string("Server=db;Database=shop;Port=5432;UID=u;Password=p"),
        pg_string("Server=db;Database=shop;Port=5432;UID=u;Password=p;EncryptionMethod=1;ValidateServerCertificate=1"),
    ] {
        let created = api.post("/connections", &body).await;
        assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
        let etag = created.body["etag"].as_str().unwrap();
        assert!(etag.starts_with('"') && etag.ends_with('"'), "{etag}");
        let id = created.body["id"].as_str().unwrap();
        let shown = api.get(&format!("/connections/{id}")).await;
        let item = &shown.body["items"][0];
        assert_eq!(item["auth"]["params"]["connectionString"], "<secret>");
        assert_eq!(item["etag"], etag);
        assert_eq!(item["version"], etag);
        assert_eq!(item["state"], "enabled");
        assert_eq!(item["imsOrgId"], "ORG1@AdobeOrg");
        assert_eq!(item["sandboxName"], "prod");
        assert_eq!(item["createdClient"], api.client_id.as_str());
        assert!(item["createdAt"].as_i64().unwrap() > 1_600_000_000_000);
    }

    let id = api.create_connection(&pg_basic("pg basic", "s3cret")).await;
    let item = api.get(&format!("/connections/{id}")).await.body["items"][0].clone();
    assert_eq!(item["auth"]["params"]["port"], "5432");
    assert_eq!(item["auth"]["params"]["sslMode"], "Verify Full");
    assert_eq!(item["auth"]["params"]["password"], "<secret>");

    let redshift = json!({
        "name": "redshift", "auth": {"specName": "Basic Authentication", "params": {
            "server": "cluster.abc.us-east-1.redshift.amazonaws.com", "database": "dev",
            "username": "awsuser", "password": "Secret1"}},
        "connectionSpec": {"id": REDSHIFT_SPEC, "version": "1.0"}
    });
    let id = api.create_connection(&redshift).await;
    let params = api.get(&format!("/connections/{id}")).await.body["items"][0]["auth"]["params"].clone();
    assert_eq!(params["port"], 5439);
    assert_eq!(params["password"], "<secret>");
    assert_eq!(params["server"], "cluster.abc.us-east-1.redshift.amazonaws.com");
}

#[tokio::test]
async fn bad_bodies_are_refused_with_what_was_wrong() {
    let inlet = Inlet::start();
    let api = inlet.identity("ORG1@AdobeOrg");

    let not_json = "{\"name\": \"x\",\n \"description\": \"never closed}";
    let reply = api
        .send(
            api.request(reqwest::Method::POST, "/data/foundation/flowservice/connections")
                .header("content-type", "application/json")
                .body(not_json),
        )
        .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert!(reply.message().contains("line 2 column"), "{}", reply.message());

    let mut missing_server = pg_basic("x", "p");
    missing_server["auth"]["params"]
        .as_object_mut()
        .unwrap()
        .remove("server");
    let reply = api.post("/connections", &missing_server).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert!(reply.message().contains("/auth/params/server"), "{}", reply.message());
    assert_eq!(reply.body["report"]["details"][0]["path"], "/auth/params/server");

    let mut unknown_spec = pg_basic("x", "p");
    unknown_spec["connectionSpec"]["id"] = json!("00000000-0000-0000-0000-000000000000");
    assert_eq!(api.post("/connections", &unknown_spec).await.code(), "1413-400");

    let mut unknown_auth = pg_basic("x", "p");
    unknown_auth["auth"]["specName"] = json!("Kerberos");
    let reply = api.post("/connections", &unknown_auth).await;
    assert_eq!(reply.code(), "1415-400");
    assert!(reply.message().contains("Basic Authentication"), "{}", reply.message());

    let mut bad_mode = pg_basic("x", "p");
    bad_mode["auth"]["params"]["sslMode"] = json!("Sometimes");
    let reply = api.post("/connections", &bad_mode).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    for mode in ["Disable", "Allow", "Prefer", "Require", "Verify-Ca", "Verify-Full"] {
        assert!(
            reply.message().contains(mode),
            "{mode} missing from: {}",
            reply.message()
        );
    }

    let reply = api
        .post(
            "/connections",
            &pg_string("Server=db;Database=shop;Prot=5432;UID=u;Password=p"),
        )
        .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert!(reply.message().contains("Prot"), "{}", reply.message());
    assert!(!reply.message().contains("Password=p"), "{}", reply.message());

    let mut misspelt = pg_basic("x", "p");
    misspelt["auth"]["params"]["sslmode"] = json!("Require");
    let reply = api.post("/connections", &misspelt).await;
    assert!(
        reply.message().contains("sslmode") && reply.message().contains("sslMode"),
        "{}",
        reply.message()
    );

    let reply = api
        .send(
            api.request(reqwest::Method::POST, "/data/foundation/flowservice/connections")
                .header("content-type", "text/plain")
                .body("{}"),
        )
        .await;
    assert_eq!(reply.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
}

#[tokio::test]
async fn patch_needs_a_current_etag_and_keeps_masked_secrets() {
    let inlet = Inlet::start();
    let api = inlet.identity("ORG1@AdobeOrg");
    let created = api.post("/connections", &pg_basic("before", "original-pw")).await;
    let id = created.body["id"].as_str().unwrap().to_string();
    let etag = created.body["etag"].as_str().unwrap().to_string();
    let path = format!("/connections/{id}");
    let rename = json!([{"op": "REPLACE", "path": "/name", "value": "after"}]);

    assert_eq!(api.patch(&path, None, &rename).await.code(), "1403-400");
    assert_eq!(
        api.patch(&path, Some("\"not-the-etag\""), &rename).await.code(),
        "1404-412"
    );

    let patched = api.patch(&path, Some(&etag), &rename).await;
    assert_eq!(patched.status, StatusCode::OK, "{}", patched.body);
    let new_etag = patched.body["etag"].as_str().unwrap().to_string();
    assert_ne!(new_etag, etag);
    assert_eq!(api.patch(&path, Some(&etag), &rename).await.code(), "1404-412");

    // Echo the whole params block back as GET shows it: the password must survive. A
    // new database would take the stored password elsewhere: it must be given again
    // (tests/it/security.rs tries every destination field).
    let shown = api.get(&path).await.body["items"][0].clone();
    assert_eq!(shown["name"], "after");
    let mut params = shown["auth"]["params"].clone();
    params["database"] = json!("warehouse");
    let moved = json!([{"op": "replace", "path": "/auth/params", "value": params}]);
    let refused = api.patch(&path, Some(&new_etag), &moved).await;
    assert_eq!(refused.code(), "1001-400", "{}", refused.body);
    assert_eq!(refused.body["report"]["details"][0]["path"], "/auth/params/password");
    params["database"] = json!("shop");
    let echoed = api
        .patch(
            &path,
            Some(&new_etag),
            &json!([{"op": "Replace", "path": "/auth/params", "value": params}]),
        )
        .await;
    assert_eq!(echoed.status, StatusCode::OK, "{}", echoed.body);
    inlet_stored_password_is(&inlet, &api.org, &id, "original-pw").await;

    let etag = echoed.body["etag"].as_str().unwrap();
    let changed = api
        .patch(
            &path,
            Some(etag),
            &json!([{"op": "replace", "path": "/auth/params/password", "value": "new-pw"}]),
        )
        .await;
    assert_eq!(changed.status, StatusCode::OK, "{}", changed.body);
    inlet_stored_password_is(&inlet, &api.org, &id, "new-pw").await;

    let etag = changed.body["etag"].as_str().unwrap();
    let spec_change = json!([{"op": "replace", "path": "/connectionSpec/id", "value": "x"}]);
    assert_eq!(api.patch(&path, Some(etag), &spec_change).await.code(), "1414-400");
    let bad_param = json!([{"op": "add", "path": "/auth/params/sslmode", "value": "Require"}]);
    let reply = api.patch(&path, Some(etag), &bad_param).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert!(reply.message().contains("sslmode"), "{}", reply.message());
}

/// Reads the stored, encrypted parameters with the instance's own key and store, as a
/// second process on the same data directory would.
async fn inlet_stored_password_is(inlet: &Inlet, org: &str, id: &str, expected: &str) {
    use inlet::identity::{Tenant, keys};
    let store = inlet::store::Store::open_sqlite(&inlet.data_dir()).await.unwrap();
    let tenant = Tenant {
        org: org.to_string(),
        sandbox: "prod".to_string(),
    };
    let row = store.get_resource("connection", &tenant, id).await.unwrap().unwrap();
    let key = keys::load_or_create(None, &inlet.data_dir(), keys::MASTER_KEY_FILE).unwrap();
    let cipher = inlet::connections::secrets::SecretCipher::new(&key);
    let binding = inlet::connections::record_binding(&tenant, id);
    let params =
        inlet::connections::open_params(&cipher, &row.doc["auth"]["params"], row.secret.as_deref(), &binding).unwrap();
    assert_eq!(params["password"], expected);
}

#[tokio::test]
async fn lists_page_filter_and_count() {
    let inlet = Inlet::start();
    let api = inlet.identity("ORG1@AdobeOrg");
    let mut created = Vec::new();
    for i in 0..40 {
        created.push(api.create_connection(&pg_basic(&format!("pg {i}"), "p")).await);
    }
    let redshift = json!({"name": "rs", "auth": {"specName": "Basic Authentication", "params": {"server": "h", "database": "d", "username": "u", "password": "p"}}, "connectionSpec": {"id": REDSHIFT_SPEC}});
    for _ in 0..5 {
        created.push(api.create_connection(&redshift).await);
    }

    let mut seen = Vec::new();
    let mut pages = 0;
    let mut next = Some("/connections?limit=20".to_string());
    while let Some(path) = next {
        let page = api.get(&path).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        pages += 1;
        seen.extend(
            page.body["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|i| i["id"].as_str().unwrap().to_string()),
        );
        next = page.body["_links"]["next"]["href"].as_str().map(str::to_string);
        if next.is_none() {
            assert_eq!(page.body["_links"], json!({}));
        }
    }
    assert_eq!(pages, 3);
    let mut sorted_seen = seen.clone();
    sorted_seen.sort();
    sorted_seen.dedup();
    assert_eq!(sorted_seen.len(), 45, "duplicates or gaps across pages");
    let mut sorted_created = created.clone();
    sorted_created.sort();
    assert_eq!(sorted_seen, sorted_created);

    let pg_only = api
        .get(&format!("/connections?property=connectionSpec.id=={PG_SPEC}&limit=100"))
        .await;
    assert_eq!(pg_only.body["items"].as_array().unwrap().len(), 40);
    assert!(
        pg_only.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|i| i["connectionSpec"]["id"] == PG_SPEC)
    );
    assert_eq!(api.get("/connections?count=true").await.body, json!({"count": 45}));
    assert_eq!(
        api.get(&format!(
            "/connections?count=true&property=connectionSpec.id=={REDSHIFT_SPEC}"
        ))
        .await
        .body,
        json!({"count": 5})
    );
    assert_eq!(api.get("/connections?count=true&limit=5").await.code(), "1401-400");

    let by_name = api.get("/connections?orderby=name&limit=3").await;
    let names: Vec<&str> = by_name.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["pg 0", "pg 1", "pg 10"]);
}

#[tokio::test]
async fn delete_removes_a_connection() {
    let inlet = Inlet::start();
    let api = inlet.identity("ORG1@AdobeOrg");
    let id = api.create_connection(&pg_basic("gone", "p")).await;
    assert_eq!(
        api.delete(&format!("/connections/{id}")).await.status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(api.get(&format!("/connections/{id}")).await.code(), "1101-404");
    assert_eq!(api.delete(&format!("/connections/{id}")).await.code(), "1101-404");
}
