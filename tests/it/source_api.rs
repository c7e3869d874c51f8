//! `/connections/{id}/test` and `/connections/{id}/explore` over HTTP, against real
//! PostgreSQL servers (one also standing in for Redshift).

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::common::pg::{Auth, PgOptions, PgServer, User};
use crate::common::server::{Identity, Inlet, PG_SPEC, REDSHIFT_SPEC};

const PASSWORD: &str = "Reader-pw-7c1d";

fn basic(spec: &str, port: u16, password: &str, extra: Value) -> Value {
    let mut params =
        json!({"server": "127.0.0.1", "port": port, "database": "shop", "username": "reader", "password": password});
    params
        .as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    json!({"name": "db", "auth": {"specName": "Basic Authentication", "params": params}, "connectionSpec": {"id": spec}})
}

fn shop(options: PgOptions) -> PgServer {
    let pg = PgServer::start(PgOptions {
        users: vec![User::new("reader", PASSWORD, Auth::Scram)],
        ..options
    });
    pg.create_database("shop");
    pg.psql(
        "shop",
        "CREATE TABLE public.orders (id bigint PRIMARY KEY, city text, total numeric(12,2), placed_at timestamptz);
         INSERT INTO public.orders VALUES (1, 'Oslo', 10.50, '2024-05-01 10:00:00+00'), (2, NULL, 0.01, '2024-05-02 11:30:00.25+02');
         CREATE TABLE public.secret_stuff (x int);
         GRANT SELECT ON public.orders TO reader;",
    );
    pg
}

async fn test_result(api: &Identity, body: &Value) -> Value {
    let id = api.create_connection(body).await;
    let reply = api.get(&format!("/connections/{id}/test")).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    reply.body
}

#[tokio::test]
async fn the_connection_test_connects_for_real_and_classifies_failures() {
    let plain = shop(PgOptions::default());
    let tls = shop(PgOptions {
        tls: true,
        hostssl_only: true,
        ..PgOptions::default()
    });
    let inlet = Inlet::start();
    let api = inlet.identity("ORG1@AdobeOrg");

    assert_eq!(
        test_result(&api, &basic(PG_SPEC, plain.port(), PASSWORD, json!({}))).await,
        json!({"result": true})
    );
    let wrong = test_result(&api, &basic(PG_SPEC, plain.port(), "not-the-password", json!({}))).await;
    assert_eq!(wrong["result"], false);
    assert_eq!(wrong["error"]["code"], "AUTHENTICATION_FAILED");
    assert!(!wrong.to_string().contains("not-the-password"));
    let required = test_result(
        &api,
        &basic(PG_SPEC, plain.port(), PASSWORD, json!({"sslMode": "Require"})),
    )
    .await;
    assert_eq!(required["error"]["code"], "TLS_NOT_SUPPORTED");

    let ca = tls.ca_pem().unwrap();
    let by_name = json!({"server": "localhost", "sslMode": "Verify-Full", "sslRootCert": ca});
    assert_eq!(
        test_result(&api, &basic(PG_SPEC, tls.port(), PASSWORD, by_name)).await,
        json!({"result": true})
    );
    let by_ip = json!({"sslMode": "verify_full", "sslRootCert": ca});
    let mismatch = test_result(&api, &basic(PG_SPEC, tls.port(), PASSWORD, by_ip)).await;
    assert_eq!(mismatch["error"]["code"], "HOST_NAME_MISMATCH", "{mismatch}");
    let connection_string = json!({"name": "cs", "connectionSpec": {"id": PG_SPEC}, "auth": {"specName": "Connection String Based Authentication",
        "params": {"connectionString": format!("Server=127.0.0.1;Port={};Database=shop;UID=reader;Password={{{PASSWORD}}};EncryptionMethod=1;ValidateServerCertificate=0", tls.port())}}});
    assert_eq!(test_result(&api, &connection_string).await, json!({"result": true}));
    assert_eq!(api.get("/connections/no-such-id/test").await.code(), "1101-404");
}

#[tokio::test]
async fn explore_lists_describes_and_previews_tables() {
    let pg = shop(PgOptions::default());
    let inlet = Inlet::start();
    let api = inlet.identity("ORG1@AdobeOrg");
    let id = api
        .create_connection(&basic(PG_SPEC, pg.port(), PASSWORD, json!({"sslMode": "Disable"})))
        .await;
    let explore = |query: &str| {
        let path = format!("/connections/{id}/explore?{query}");
        let api = api.clone();
        async move { api.get(&path).await }
    };

    let root = explore("objectType=root").await;
    assert_eq!(root.status, StatusCode::OK, "{}", root.body);
    let names: Vec<&str> = root
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["public.orders"], "the unreadable table must not be listed");
    assert_eq!(root.body[0]["path"], "public.orders");
    assert_eq!(root.body[0]["canPreview"], true);

    let table = explore("objectType=TABLE&object=public.orders").await;
    let columns = table.body["schema"]["columns"].as_array().unwrap();
    assert_eq!(columns[0]["name"], "id");
    assert_eq!(columns[0]["type"], "long");
    assert_eq!(columns[0]["xdm"], json!({"type": "integer"}));
    assert_eq!(columns[0]["meta"]["originalType"], "bigint");
    assert_eq!(columns[3]["meta:xdmType"], "date-time");
    assert!(table.body.get("data").is_none());

    let preview = explore("objectType=table&object=orders&preview=true&limit=1").await;
    assert_eq!(preview.body["data"].as_array().unwrap().len(), 1);
    let all = explore("objectType=table&object=%22public%22.%22orders%22&preview=true").await;
    assert_eq!(
        all.body["data"][1],
        json!({"id": 2, "city": null, "total": "0.01", "placed_at": "2024-05-02T09:30:00.25Z"}),
        "{}",
        all.body
    );

    assert_eq!(explore("objectType=bogus").await.code(), "1358-400");
    assert_eq!(explore("objectType=table").await.code(), "1337-400");
    assert_eq!(
        explore("objectType=table&object=public.orders&preview=true&limit=101")
            .await
            .code(),
        "1402-400"
    );
    let missing = explore("objectType=table&object=public.nope").await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert!(missing.message().contains("public.nope"), "{}", missing.message());
    let injected = explore("objectType=table&object=public.orders%3B%20DROP%20TABLE%20public.orders").await;
    assert_eq!(injected.status, StatusCode::NOT_FOUND);
    assert_eq!(
        pg.psql("shop", "SELECT count(*) FROM public.orders"),
        "2",
        "the fixture was damaged"
    );
}

#[tokio::test]
async fn a_redshift_connection_explores_through_the_redshift_dialect() {
    let pg = shop(PgOptions::default());
    let inlet = Inlet::start();
    let api = inlet.identity("ORG1@AdobeOrg");
    let id = api
        .create_connection(&basic(
            REDSHIFT_SPEC,
            pg.port(),
            PASSWORD,
            json!({"sslMode": "Prefer", "schema": "public"}),
        ))
        .await;
    assert_eq!(
        api.get(&format!("/connections/{id}/test")).await.body,
        json!({"result": true})
    );
    let root = api.get(&format!("/connections/{id}/explore?objectType=root")).await;
    assert_eq!(root.body.as_array().unwrap().len(), 1, "{}", root.body);
    let preview = api
        .get(&format!(
            "/connections/{id}/explore?objectType=table&object=orders&preview=true"
        ))
        .await;
    assert_eq!(preview.body["data"][0]["city"], "Oslo", "{}", preview.body);
}
