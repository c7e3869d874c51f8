//! Source and target connections, flows, runs and mapping sets over HTTP (§8, §9, §11),
//! against a real `inlet serve` and a real PostgreSQL holding the source tables.

mod connections;
mod flows;
mod mapping_sets;
mod runs;

use std::path::PathBuf;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::common::pg::{Auth, PgOptions, PgServer, User};
use crate::common::server::{Identity, Inlet, Options, PG_SPEC, Reply};
use inlet::identity::Tenant;
use inlet::store::{ResourceRow, Store};

/// The data lake target spec.
pub const DATALAKE_SPEC: &str = "c604ff05-7f1a-43c0-8e18-33bf874cb11c";
/// The `CRMToAEP` flow spec.
pub const FLOW_SPEC: &str = "14518937-270c-4525-bdec-c2ba7cce3860";
/// Where mapping sets live.
pub const CONVERSION: &str = "/data/foundation/conversion";
const PASSWORD: &str = "Reader-pw-5e2a";
const ORG: &str = "ORG1@AdobeOrg";

/// A source database, a server (optionally on a file clock) and a caller of org `ORG1`.
pub struct Shop {
    pub pg: PgServer,
    pub inlet: Inlet,
    pub api: Identity,
    clock: Option<(tempfile::TempDir, PathBuf)>,
}

/// Epoch seconds now.
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn source_database() -> PgServer {
    let pg = PgServer::start(PgOptions {
        users: vec![User::new("reader", PASSWORD, Auth::Scram)],
        ..PgOptions::default()
    });
    pg.create_database("shop");
    pg.psql(
        "shop",
        "CREATE TABLE public.orders (id bigint PRIMARY KEY, city text, total numeric(12,2), updated_at timestamptz);
         INSERT INTO public.orders VALUES (1, 'Oslo', 10.50, '2024-05-01 10:00:00+00');
         CREATE TABLE public.secret_stuff (x int);
         GRANT SELECT ON public.orders TO reader;",
    );
    pg
}

impl Shop {
    /// A shop on the system clock.
    pub fn start() -> Shop {
        Shop::started(None)
    }

    /// A shop whose flow clock reads `now` (epoch seconds) from a file.
    pub fn on_clock(now: i64) -> Shop {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("clock");
        std::fs::write(&path, now.to_string()).unwrap();
        Shop::started(Some((dir, path)))
    }

    fn started(clock: Option<(tempfile::TempDir, PathBuf)>) -> Shop {
        let pg = source_database();
        let inlet = Inlet::start_with(Options {
            clock_file: clock.as_ref().map(|(_, path)| path.clone()),
            ..Options::default()
        });
        let api = inlet.identity(ORG);
        Shop { pg, inlet, api, clock }
    }

    /// Moves the file clock.
    pub fn set_clock(&self, now: i64) {
        let (_, path) = self.clock.as_ref().expect("a shop on a file clock");
        crate::common::write_atomically(path, &now.to_string());
    }

    /// A base connection to the shop database.
    pub async fn base_connection(&self) -> String {
        let params = json!({"server": "127.0.0.1", "port": self.pg.port(), "database": "shop",
            "username": "reader", "password": PASSWORD, "sslMode": "Disable"});
        let body = json!({"name": "shop", "auth": {"specName": "Basic Authentication", "params": params},
            "connectionSpec": {"id": PG_SPEC, "version": "1.0"}});
        self.api.create_connection(&body).await
    }

    /// Creates a source connection on `table` of `base`, asserting 201.
    pub async fn source(&self, base: &str, table: &str) -> String {
        let reply = self.api.post("/sourceConnections", &source_body(base, table)).await;
        assert_eq!(reply.status, StatusCode::CREATED, "source connection: {}", reply.body);
        reply.body["id"].as_str().unwrap().to_string()
    }

    /// Creates a target connection on `dataset`, asserting 201.
    pub async fn target(&self, dataset: &str) -> String {
        let reply = self
            .api
            .post("/targetConnections", &target_body(dataset, "delta"))
            .await;
        assert_eq!(reply.status, StatusCode::CREATED, "target connection: {}", reply.body);
        reply.body["id"].as_str().unwrap().to_string()
    }

    /// A dataset of `org` and `sandbox`, stored as the Catalog API stores it: a `dataset`
    /// resource in the server's metadata store.
    pub async fn dataset(&self, org: &str, sandbox: &str) -> String {
        let store = Store::open_sqlite(&self.inlet.data_dir()).await.unwrap();
        let id = uuid::Uuid::new_v4().simple().to_string();
        let row = ResourceRow {
            kind: "dataset".into(),
            id: id.clone(),
            tenant: Tenant {
                org: org.into(),
                sandbox: sandbox.into(),
            },
            etag: "\"1\"".into(),
            created_at: 1,
            updated_at: 1,
            doc: json!({"id": id, "name": "orders"}),
            secret: None,
        };
        store.insert_resource(&row).await.unwrap();
        id
    }

    /// Base connection, source connection on `public.orders`, dataset, target connection.
    pub async fn pipeline(&self) -> Pipeline {
        let base = self.base_connection().await;
        let source = self.source(&base, "public.orders").await;
        let dataset = self.dataset(ORG, "prod").await;
        let target = self.target(&dataset).await;
        Pipeline { base, source, target }
    }

    /// Creates a flow from `body`, asserting 201.
    pub async fn flow(&self, body: &Value) -> String {
        let reply = self.api.post("/flows", body).await;
        assert_eq!(reply.status, StatusCode::CREATED, "flow: {}", reply.body);
        reply.body["id"].as_str().unwrap().to_string()
    }

    /// A sandbox `dev` of the caller's org, and the caller addressing it.
    pub async fn dev(&self) -> Identity {
        let created = self
            .api
            .send(
                self.api
                    .request(Method::POST, "/data/foundation/sandbox-management/sandboxes")
                    .json(&json!({"name": "dev", "title": "Dev", "type": "development"})),
            )
            .await;
        assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
        self.api.in_sandbox("dev")
    }
}

/// The ids of a ready pipeline.
pub struct Pipeline {
    pub base: String,
    pub source: String,
    pub target: String,
}

impl Pipeline {
    /// A flow body with `schedule` and `transformations`.
    pub fn flow_body(&self, schedule: Value, transformations: Value) -> Value {
        json!({
            "name": "orders to lake", "description": "tutorial",
            "flowSpec": {"id": FLOW_SPEC, "version": "1.0"},
            "sourceConnectionIds": [self.source], "targetConnectionIds": [self.target],
            "transformations": transformations, "scheduleParams": schedule,
        })
    }

    /// A `once` flow body starting at `start`.
    pub fn once(&self, start: i64) -> Value {
        self.flow_body(json!({"startTime": start.to_string(), "frequency": "once"}), json!([]))
    }
}

/// A source connection body.
pub fn source_body(base: &str, table: &str) -> Value {
    json!({"name": "orders source", "baseConnectionId": base, "description": "orders",
        "data": {"format": "tabular"}, "params": {"tableName": table},
        "connectionSpec": {"id": PG_SPEC, "version": "1.0"}})
}

/// A target connection body.
pub fn target_body(dataset: &str, format: &str) -> Value {
    json!({"name": "orders target",
        "data": {"format": format, "schema": {"id": "https://ns.adobe.com/x", "version": "application/vnd.adobe.xed-full+json;version=1"}},
        "params": {"dataSetId": dataset},
        "connectionSpec": {"id": DATALAKE_SPEC, "version": "1.0"}})
}

/// Sends `method` with an optional JSON body to a mapping set path.
pub async fn conversion(api: &Identity, method: Method, path: &str, body: Option<&Value>) -> Reply {
    let mut request = api.request(method, &format!("{CONVERSION}{path}"));
    if let Some(body) = body {
        request = request.json(body);
    }
    api.send(request).await
}

/// The JSON paths named by a `1001-400` answer.
pub fn detail_paths(reply: &Reply) -> Vec<String> {
    reply.body["report"]["details"]
        .as_array()
        .map(|details| {
            details
                .iter()
                .map(|d| d["path"].as_str().unwrap_or_default().to_string())
                .collect()
        })
        .unwrap_or_default()
}
