//! The metadata store's contract, run against both backends: SQLite and a real
//! PostgreSQL server.

use serde_json::json;

use inlet::identity::Tenant;
use inlet::secret::Secret;
use inlet::store::{ApiClient, ResourceRow, SandboxRow, Store, StoreError, Update};

use crate::common::pg::{PgOptions, PgServer};

fn tenant(sandbox: &str) -> Tenant {
    Tenant {
        org: "ORG@AdobeOrg".into(),
        sandbox: sandbox.into(),
    }
}

fn row(id: &str, sandbox: &str, created_at: i64) -> ResourceRow {
    ResourceRow {
        kind: "connection".into(),
        id: id.into(),
        tenant: tenant(sandbox),
        etag: format!("\"{id}-1\""),
        created_at,
        updated_at: created_at,
        doc: json!({"id": id, "name": id}),
        secret: Some(vec![0, 1, 2, 255]),
    }
}

async fn exercise(store: Store) {
    store.ping().await.unwrap();
    store.insert_resource(&row("a", "prod", 1)).await.unwrap();
    store.insert_resource(&row("b", "prod", 2)).await.unwrap();
    store.insert_resource(&row("c", "dev", 3)).await.unwrap();
    assert!(matches!(
        store.insert_resource(&row("a", "prod", 9)).await,
        Err(StoreError::Conflict)
    ));

    let got = store
        .get_resource("connection", &tenant("prod"), "a")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(got.doc, json!({"id": "a", "name": "a"}));
    assert_eq!(got.secret, Some(vec![0, 1, 2, 255]));
    assert!(
        store
            .get_resource("connection", &tenant("dev"), "a")
            .await
            .unwrap()
            .is_none()
    );
    let listed: Vec<String> = store
        .list_resources("connection", &tenant("prod"))
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.id)
        .collect();
    assert_eq!(listed, ["a", "b"]);

    let mut changed = got.clone();
    changed.etag = "\"a-2\"".into();
    changed.doc = json!({"id": "a", "name": "renamed"});
    assert_eq!(store.update_resource(&changed, "\"a-1\"").await.unwrap(), Update::Done);
    assert_eq!(store.update_resource(&changed, "\"a-1\"").await.unwrap(), Update::Stale);
    let mut missing = changed.clone();
    missing.id = "zz".into();
    assert_eq!(
        store.update_resource(&missing, "\"a-2\"").await.unwrap(),
        Update::NotFound
    );
    assert_eq!(
        store
            .get_resource("connection", &tenant("prod"), "a")
            .await
            .unwrap()
            .unwrap()
            .doc["name"],
        "renamed"
    );

    let sandbox = SandboxRow {
        org: "ORG@AdobeOrg".into(),
        name: "dev".into(),
        id: "s1".into(),
        title: "Dev".into(),
        sandbox_type: "development".into(),
        created_by: "me".into(),
        created_at: 5,
    };
    store.insert_sandbox(&sandbox).await.unwrap();
    assert!(matches!(
        store.insert_sandbox(&sandbox).await,
        Err(StoreError::Conflict)
    ));
    assert_eq!(
        store.list_sandboxes("ORG@AdobeOrg").await.unwrap(),
        vec![sandbox.clone()]
    );
    assert!(matches!(
        store.delete_empty_sandbox("ORG@AdobeOrg", "dev").await,
        Err(StoreError::Conflict)
    ));
    assert_eq!(store.count_resources(&tenant("dev")).await.unwrap(), 1);
    assert!(store.delete_resource("connection", &tenant("dev"), "c").await.unwrap());
    assert!(!store.delete_resource("connection", &tenant("dev"), "c").await.unwrap());
    assert!(store.delete_empty_sandbox("ORG@AdobeOrg", "dev").await.unwrap());
    assert!(!store.delete_empty_sandbox("ORG@AdobeOrg", "dev").await.unwrap());

    let client = ApiClient {
        client_id: "c1".into(),
        org: "ORG@AdobeOrg".into(),
        name: "n".into(),
        secret_hash: "h".into(),
        created_at: 7,
    };
    store.insert_client(&client).await.unwrap();
    assert_eq!(store.get_client("c1").await.unwrap(), Some(client));
    assert_eq!(store.get_client("c2").await.unwrap(), None);
}

#[tokio::test]
async fn the_sqlite_store_keeps_its_contract_and_migrates_once() {
    let dir = tempfile::tempdir().unwrap();
    exercise(Store::open_sqlite(dir.path()).await.unwrap()).await;
    // Reopening runs no migration twice and keeps the data.
    let again = Store::open_sqlite(dir.path()).await.unwrap();
    assert_eq!(
        again.list_resources("connection", &tenant("prod")).await.unwrap().len(),
        2
    );
}

#[tokio::test]
async fn the_postgres_store_keeps_its_contract_and_migrates_once() {
    let pg = PgServer::start(PgOptions::default());
    pg.create_database("meta");
    let url = Secret::new(pg.admin_url("meta"));
    // Two processes starting at once must not both migrate.
    let (first, second) = tokio::join!(Store::connect(&url), Store::connect(&url));
    first.unwrap();
    exercise(second.unwrap()).await;
    let again = Store::connect(&url).await.unwrap();
    assert_eq!(
        again.list_resources("connection", &tenant("prod")).await.unwrap().len(),
        2
    );
    // Each migration was applied exactly once, in sequence from 1.
    let applied = pg.psql(
        "meta",
        "SELECT count(*) = max(version) AND count(*) = count(DISTINCT version) FROM schema_migrations",
    );
    assert_eq!(applied, "t");
}

#[tokio::test]
async fn a_bad_metadata_url_is_refused_without_echoing_it() {
    let error = Store::connect(&Secret::new("mysql://u:hunter2@h/db"))
        .await
        .err()
        .unwrap();
    assert!(!format!("{error:#}").contains("hunter2"));
    let error = Store::connect(&Secret::new("postgres://u:hunter2@127.0.0.1:1/db"))
        .await
        .err()
        .unwrap();
    let text = format!("{error:#}");
    assert!(!text.contains("hunter2"), "{text}");
}
