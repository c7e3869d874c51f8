//! Dataflows end to end: real PostgreSQL sources, a real `inlet serve` running the
//! scheduler and workers, Delta tables read back by an independent reader.

pub mod cdc;
mod chaos;
mod copy_cli;
mod crash;
mod exactly_once;
mod maintenance;
mod partial;
mod runs;
mod s3;
mod schema_changes;
mod shared_connections;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::common::delta;
use crate::common::pg::{Auth, PgOptions, PgServer, User};
use crate::common::server::{Identity, Inlet, Options, PG_SPEC};

pub const FLOW_SPEC: &str = "14518937-270c-4525-bdec-c2ba7cce3860";
const DATALAKE_SPEC: &str = "c604ff05-7f1a-43c0-8e18-33bf874cb11c";
pub const PASSWORD: &str = "Reader-pw-2f81";
/// Run settings that keep tests quick: no settle lag, short leases, fast polling.
pub const QUICK: &str =
    "settle_lag = \"0s\"\nrun_lease = \"3s\"\npoll_interval = \"200ms\"\nretry_backoff = \"200ms\"\n";

/// The quick run settings and `config`, whose `settle_lag`, when it sets one, wins.
fn quick_with(config: &str) -> String {
    let quick: String = QUICK
        .lines()
        .filter(|line| !(config.contains("settle_lag") && line.starts_with("settle_lag")))
        .map(|line| format!("{line}\n"))
        .collect();
    format!("{quick}{config}")
}

/// A source database, an Inlet server with a file clock, and an API identity.
pub struct Lab {
    pub pg: PgServer,
    pub inlet: Inlet,
    pub api: Identity,
    pub clock: PathBuf,
    /// The lake's storage variables (an S3 lake's), for the independent reader.
    pub lake_env: Vec<(String, String)>,
    _clock_dir: tempfile::TempDir,
}

impl Lab {
    /// Starts both servers; the flow clock starts at `now`; `sql` sets up the source;
    /// `config` adds to the quick run settings.
    pub fn start(now: i64, sql: &str, config: &str) -> Lab {
        Lab::start_with(now, sql, config, Options::default())
    }

    /// As [`Lab::start`], with the server's other options (e.g. a PostgreSQL metadata store).
    pub fn start_with(now: i64, sql: &str, config: &str, options: Options) -> Lab {
        Lab::start_on(Vec::new(), now, sql, config, options)
    }

    /// As [`Lab::start_with`], the source server started with `settings` in its
    /// `postgresql.conf` (e.g. `wal_level = logical`).
    pub fn start_on(settings: Vec<(String, String)>, now: i64, sql: &str, config: &str, options: Options) -> Lab {
        let pg = PgServer::start(PgOptions {
            users: vec![User::new("reader", PASSWORD, Auth::Scram)],
            settings,
            ..PgOptions::default()
        });
        pg.create_database("shop");
        pg.psql("shop", sql);
        pg.psql("shop", "GRANT SELECT ON ALL TABLES IN SCHEMA public TO reader");
        let clock_dir = tempfile::tempdir().unwrap();
        let clock = clock_dir.path().join("clock");
        std::fs::write(&clock, now.to_string()).unwrap();
        let lake_env = options.env.clone();
        let inlet = Inlet::start_with(Options {
            clock_file: Some(clock.clone()),
            config: Some(quick_with(config)),
            ..options
        });
        let api = inlet.identity("ORG1@AdobeOrg");
        Lab {
            pg,
            inlet,
            api,
            clock,
            lake_env,
            _clock_dir: clock_dir,
        }
    }

    /// Moves the flow clock.
    pub fn set_clock(&self, now: i64) {
        crate::common::write_atomically(&self.clock, &now.to_string());
    }

    /// Base connection, source connection on `table`, dataset and target connection;
    /// returns (source connection id, target connection id, dataset id).
    pub async fn connections(&self, table: &str) -> (String, String, String) {
        self.connections_with(json!({"tableName": table})).await
    }

    /// As [`Lab::connections`], the source connection with `params`; panics unless
    /// every create succeeds.
    pub async fn connections_with(&self, params: Value) -> (String, String, String) {
        self.connections_on(PG_SPEC, params).await
    }

    /// As [`Lab::connections_with`], the base and source connections of connection spec
    /// `spec` (PostgreSQL's, or Redshift's with the server standing in for Redshift).
    pub async fn connections_on(&self, spec: &str, params: Value) -> (String, String, String) {
        let base = self.base_connection_of(spec).await;
        let mut body = self.source_body(&base, params);
        body["connectionSpec"]["id"] = json!(spec);
        let source = self.created(self.api.post("/sourceConnections", &body).await);
        let dataset = self.dataset().await;
        let target = self.created(
            self.api
                .post(
                    "/targetConnections",
                    &json!({
            "name": "target", "data": {"format": "delta"}, "params": {"dataSetId": dataset},
            "connectionSpec": {"id": DATALAKE_SPEC, "version": "1.0"}}),
                )
                .await,
        );
        (source, target, dataset)
    }

    /// A base connection to the source database as `reader`.
    pub async fn base_connection(&self) -> String {
        self.base_connection_of(PG_SPEC).await
    }

    async fn base_connection_of(&self, spec: &str) -> String {
        self.api
            .create_connection(&json!({
            "name": "shop", "connectionSpec": {"id": spec, "version": "1.0"},
            "auth": {"specName": "Basic Authentication", "params": {"server": "127.0.0.1", "port": self.pg.port(),
                "database": "shop", "username": "reader", "password": PASSWORD, "sslMode": "Disable"}}}))
            .await
    }

    /// Asks for a source connection of base connection `base` with `params`.
    pub async fn source_connection(&self, base: &str, params: Value) -> crate::common::server::Reply {
        self.api
            .post("/sourceConnections", &self.source_body(base, params))
            .await
    }

    fn source_body(&self, base: &str, params: Value) -> Value {
        json!({
            "name": "source", "baseConnectionId": base, "data": {"format": "tabular"},
            "params": params, "connectionSpec": {"id": PG_SPEC, "version": "1.0"}})
    }

    async fn dataset(&self) -> String {
        let request = self
            .api
            .request(Method::POST, "/data/foundation/catalog/dataSets")
            .json(&json!({"name": "orders"}));
        let reply = self.api.send(request).await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
        reply.body[0]
            .as_str()
            .unwrap()
            .trim_start_matches("@/dataSets/")
            .to_string()
    }

    fn created(&self, reply: crate::common::server::Reply) -> String {
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
        reply.body["id"].as_str().unwrap().to_string()
    }

    /// Creates a flow from its parts; returns its id.
    pub async fn flow(&self, source: &str, target: &str, transformations: Value, schedule: Value) -> String {
        let reply = self
            .api
            .post(
                "/flows",
                &json!({
            "name": "orders to lake", "flowSpec": {"id": FLOW_SPEC, "version": "1.0"},
            "sourceConnectionIds": [source], "targetConnectionIds": [target],
            "transformations": transformations, "scheduleParams": schedule}),
            )
            .await;
        self.created(reply)
    }

    /// The flow's runs, oldest window first.
    pub async fn runs(&self, flow: &str) -> Vec<Value> {
        let reply = self
            .api
            .get(&format!("/runs?property=flowId=={flow}&limit=100&orderby=createdAt"))
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        reply.body["items"].as_array().unwrap().clone()
    }

    /// Waits until the flow has `count` runs that ended, and returns them (oldest first).
    pub async fn ended_runs(&self, flow: &str, count: usize, timeout: Duration) -> Vec<Value> {
        let started = Instant::now();
        loop {
            let runs = self.runs(flow).await;
            let ended = runs
                .iter()
                .filter(|r| ["success", "failed", "cancelled"].contains(&status(r)))
                .count();
            if ended >= count {
                return runs;
            }
            assert!(
                started.elapsed() < timeout,
                "{count} runs did not end within {timeout:?}: {runs:#?}\n{}",
                self.inlet.logs()
            );
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    /// The dataset's Delta table read by the independent reader, with its rows.
    pub async fn dataset_table(&self, dataset: &str) -> Value {
        let location = self.dataset_location(dataset).await;
        delta::read_with(&location, true, &self.lake_env)
    }

    /// Where the dataset's table lives, as its catalog item says (a path or `s3://` URL).
    pub async fn dataset_location(&self, dataset: &str) -> String {
        let reply = self
            .api
            .send(
                self.api
                    .request(Method::GET, &format!("/data/foundation/catalog/dataSets/{dataset}")),
            )
            .await;
        let location = reply.body[dataset]["location"].as_str().expect("dataset location");
        location.trim_start_matches("file://").to_string()
    }

    /// A catalog batch by id.
    pub async fn batch(&self, id: &str) -> Value {
        let reply = self
            .api
            .send(
                self.api
                    .request(Method::GET, &format!("/data/foundation/catalog/batches/{id}")),
            )
            .await;
        reply.body[id].clone()
    }
}

/// A run's status.
pub fn status(run: &Value) -> &str {
    run["metrics"]["statusSummary"]["status"].as_str().unwrap_or_default()
}

/// The ids of the rows of a table read by the independent reader, sorted.
pub fn ids(table: &Value, column: &str) -> Vec<i64> {
    let mut ids: Vec<i64> = table["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| row[column].as_i64().unwrap())
        .collect();
    ids.sort_unstable();
    ids
}

/// The source's rows of `query` (one row per line, columns separated by `|`).
pub fn source_rows(pg: &PgServer, query: &str) -> Vec<String> {
    let mut rows: Vec<String> = pg.psql("shop", query).lines().map(str::to_string).collect();
    rows.sort();
    rows
}
