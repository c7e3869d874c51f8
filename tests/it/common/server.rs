//! Starts the real `inlet` binary on a free port with its own data directory, and talks to
//! it over HTTP as a client of the Flow Service API would.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

use reqwest::{Method, RequestBuilder, StatusCode};
use serde_json::Value;

/// The Flow Service prefix.
pub const FLOW: &str = "/data/foundation/flowservice";
/// The PostgreSQL connection spec id.
pub const PG_SPEC: &str = "74a1c565-4e59-48d7-9d67-7c03b8a13137";
/// The Redshift connection spec id.
pub const REDSHIFT_SPEC: &str = "3416976c-a9ca-4bba-901a-1f08f66978ff";

/// The lake's storage variables, never inherited from the test's own environment.
const AWS_VARIABLES: [&str; 6] = [
    "AWS_ENDPOINT_URL",
    "AWS_ALLOW_HTTP",
    "AWS_REGION",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_CONDITIONAL_PUT",
];

/// How to start a server.
#[derive(Default, Clone)]
pub struct Options {
    /// PostgreSQL metadata store URL instead of SQLite.
    pub metadata_url: Option<String>,
    /// Log filter (default `info`).
    pub log_level: Option<String>,
    /// A file of epoch seconds the flow clock reads instead of the system clock.
    pub clock_file: Option<PathBuf>,
    /// TOML settings for `--config` (e.g. `run_lease = "3s"`).
    pub config: Option<String>,
    /// Another server's data directory, for a second process sharing its keys and lake
    /// (with a shared PostgreSQL metadata store); a fresh one when `None`.
    pub data_dir: Option<PathBuf>,
    /// `--lake-root` (e.g. an `s3://` root); `<data dir>/lake` when `None`.
    pub lake_root: Option<String>,
    /// More environment variables (e.g. an S3 server's AWS settings).
    pub env: Vec<(String, String)>,
}

/// A running `inlet serve`. Killed when dropped.
pub struct Inlet {
    child: Option<Child>,
    /// `http://127.0.0.1:<port>`.
    pub base: String,
    dir: tempfile::TempDir,
    options: Options,
    restarts: usize,
}

impl Inlet {
    /// A server on a fresh data directory with the embedded defaults.
    pub fn start() -> Inlet {
        Inlet::start_with(Options::default())
    }

    /// A server on a fresh data directory.
    pub fn start_with(options: Options) -> Inlet {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut inlet = Inlet {
            child: None,
            base: String::new(),
            dir,
            options,
            restarts: 0,
        };
        inlet.spawn();
        inlet
    }

    /// The data directory.
    pub fn data_dir(&self) -> PathBuf {
        match &self.options.data_dir {
            Some(shared) => shared.clone(),
            None => self.dir.path().join("data"),
        }
    }

    /// Whether the server process is running (not killed or stopped).
    pub fn is_running(&self) -> bool {
        self.child.is_some()
    }

    fn log_path(&self) -> PathBuf {
        self.dir.path().join(format!("server-{}.log", self.restarts))
    }

    fn spawn(&mut self) {
        let log = std::fs::File::create(self.log_path()).expect("log file");
        let mut command = self.command(&["serve", "--listen", "127.0.0.1:0"]);
        command.env("INLET_LOG", self.options.log_level.as_deref().unwrap_or("info"));
        if let Some(root) = &self.options.lake_root {
            command.arg("--lake-root").arg(root);
        }
        let mut child = command.stdout(Stdio::piped()).stderr(log).spawn().expect("start inlet");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .expect("read inlet stdout");
        let Some(address) = line.trim().strip_prefix("inlet listening on ") else {
            let _ = child.kill();
            panic!("inlet did not start: {line:?}\n{}", self.logs());
        };
        self.base = address.to_string();
        self.child = Some(child);
    }

    /// A command line of the `inlet` binary on this server's data directory and store.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_inlet"));
        command.args(args).arg("--data-dir").arg(self.data_dir());
        command
            .env_remove("INLET_MASTER_KEY")
            .env_remove("INLET_TOKEN_KEY")
            .env_remove("INLET_METADATA_URL")
            .env_remove("INLET_LAKE_ROOT")
            .env_remove("INLET_CLOCK_FILE");
        for name in AWS_VARIABLES {
            command.env_remove(name);
        }
        command.envs(self.options.env.iter().map(|(k, v)| (k, v)));
        if let Some(url) = &self.options.metadata_url {
            command.arg("--metadata-url").arg(url);
        }
        if let Some(config) = &self.options.config {
            let path = self.dir.path().join("inlet.toml");
            std::fs::write(&path, config).expect("write config");
            command.arg("--config").arg(path);
        }
        if let Some(clock) = &self.options.clock_file {
            command.env("INLET_CLOCK_FILE", clock);
        }
        command
    }

    /// Runs `inlet <args>` to completion.
    pub fn cli(&self, args: &[&str]) -> Output {
        self.command(args).output().expect("run inlet")
    }

    /// Stops the server with SIGTERM (a graceful shutdown) and starts it again on the
    /// same data directory.
    pub fn restart(&mut self) {
        self.stop();
        self.restarts += 1;
        self.spawn();
    }

    /// Kills the server at once (SIGKILL), as a crash would.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().expect("kill -9");
            child.wait().expect("wait for inlet");
        }
    }

    /// Starts the server again on the same data directory after [`Inlet::kill`] or [`Inlet::stop`].
    pub fn start_again(&mut self) {
        assert!(self.child.is_none(), "the server is still running");
        self.restarts += 1;
        self.spawn();
    }

    /// Starts `inlet serve` and waits for it to exit (it is expected to refuse to start);
    /// returns its exit status and everything it logged.
    pub fn start_expecting_failure(options: Options) -> (std::process::ExitStatus, String) {
        let inlet = Inlet {
            child: None,
            base: String::new(),
            dir: tempfile::tempdir().expect("temp dir"),
            options,
            restarts: 0,
        };
        let mut command = inlet.command(&["serve", "--listen", "127.0.0.1:0"]);
        if let Some(root) = &inlet.options.lake_root {
            command.arg("--lake-root").arg(root);
        }
        let out = command.output().expect("run inlet serve");
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        (out.status, text)
    }

    /// Stops the server gracefully and waits for it; panics if it does not exit cleanly.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            Command::new("kill")
                .arg("-TERM")
                .arg(child.id().to_string())
                .status()
                .expect("kill");
            let status = child.wait().expect("wait for inlet");
            assert!(status.success(), "inlet exited with {status} on SIGTERM");
        }
    }

    /// Everything the server has logged so far, across restarts.
    pub fn logs(&self) -> String {
        (0..=self.restarts)
            .map(|i| std::fs::read_to_string(self.dir.path().join(format!("server-{i}.log"))).unwrap_or_default())
            .collect()
    }

    /// Registers a client of `org` and returns a sandbox-`prod` API identity with a token.
    pub fn identity(&self, org: &str) -> Identity {
        let created = self.cli(&["clients", "create", "--org", org, "--name", "tests"]);
        assert!(
            created.status.success(),
            "clients create: {}",
            String::from_utf8_lossy(&created.stderr)
        );
        let client: Value = serde_json::from_slice(&created.stdout).expect("clients create prints JSON");
        let client_id = client["client_id"].as_str().unwrap().to_string();
        let token = self.token(org, &client_id, "1h");
        Identity {
            http: reqwest::Client::new(),
            base: self.base.clone(),
            org: org.to_string(),
            client_id,
            client_secret: client["client_secret"].as_str().unwrap().to_string(),
            token,
            sandbox: "prod".to_string(),
        }
    }

    /// Mints a token with `inlet token`.
    pub fn token(&self, org: &str, client_id: &str, ttl: &str) -> String {
        let out = self.cli(&["token", "--org", org, "--client-id", client_id, "--ttl", ttl]);
        assert!(
            out.status.success(),
            "inlet token: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    }
}

impl Drop for Inlet {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// A caller of the API: a client, its token, and the sandbox it addresses.
#[derive(Clone)]
pub struct Identity {
    pub http: reqwest::Client,
    pub base: String,
    pub org: String,
    pub client_id: String,
    pub client_secret: String,
    pub token: String,
    pub sandbox: String,
}

/// A response: status, headers and JSON body (`Null` when empty or not JSON).
pub struct Reply {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

impl Reply {
    /// The Flow Service error code, e.g. `1101-404`, from the error's `type`.
    pub fn code(&self) -> String {
        let kind = self.body["type"].as_str().unwrap_or_default();
        kind.rsplit_once("FLOW-")
            .map(|(_, code)| code.to_string())
            .unwrap_or_default()
    }

    /// The error's message.
    pub fn message(&self) -> String {
        self.body["errorMessage"]
            .as_str()
            .or(self.body["message"].as_str())
            .unwrap_or_default()
            .to_string()
    }
}

impl Identity {
    /// The same client addressing another sandbox.
    pub fn in_sandbox(&self, sandbox: &str) -> Identity {
        Identity {
            sandbox: sandbox.to_string(),
            ..self.clone()
        }
    }

    /// A request with all the platform's headers; `path` is absolute (starts with `/`).
    pub fn request(&self, method: Method, path: &str) -> RequestBuilder {
        self.http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .header("x-api-key", &self.client_id)
            .header("x-gw-ims-org-id", &self.org)
            .header("x-sandbox-name", &self.sandbox)
    }

    /// Sends a request and reads the reply.
    pub async fn send(&self, request: RequestBuilder) -> Reply {
        let response = request.send().await.expect("request reaches inlet");
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response.bytes().await.expect("response body");
        Reply {
            status,
            headers,
            body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        }
    }

    /// GET a Flow Service path.
    pub async fn get(&self, path: &str) -> Reply {
        self.send(self.request(Method::GET, &format!("{FLOW}{path}"))).await
    }

    /// POST JSON to a Flow Service path.
    pub async fn post(&self, path: &str, body: &Value) -> Reply {
        self.send(self.request(Method::POST, &format!("{FLOW}{path}")).json(body))
            .await
    }

    /// PATCH a Flow Service path with `If-Match: etag` (none when `None`).
    pub async fn patch(&self, path: &str, etag: Option<&str>, ops: &Value) -> Reply {
        let mut request = self.request(Method::PATCH, &format!("{FLOW}{path}")).json(ops);
        if let Some(etag) = etag {
            request = request.header("if-match", etag);
        }
        self.send(request).await
    }

    /// DELETE a Flow Service path.
    pub async fn delete(&self, path: &str) -> Reply {
        self.send(self.request(Method::DELETE, &format!("{FLOW}{path}"))).await
    }

    /// Creates a connection from `body`, asserting 201, and returns its id.
    pub async fn create_connection(&self, body: &Value) -> String {
        let reply = self.post("/connections", body).await;
        assert_eq!(reply.status, StatusCode::CREATED, "create connection: {}", reply.body);
        reply.body["id"].as_str().expect("id").to_string()
    }
}

/// A PostgreSQL Basic Authentication connection body.
pub fn pg_basic(name: &str, password: &str) -> Value {
    serde_json::json!({
        "name": name,
        "auth": {"specName": "Basic Authentication", "params": {
            "server": "db.example.com", "port": "5432", "database": "shop",
            "username": "reader", "password": password, "sslMode": "Verify Full"}},
        "connectionSpec": {"id": PG_SPEC, "version": "1.0"}
    })
}

/// All bytes of the files in `dir` and below.
pub fn bytes_under(dir: &Path) -> Vec<u8> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).expect("read dir").flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(bytes_under(&path));
        } else {
            out.extend(std::fs::read(&path).unwrap_or_default());
        }
    }
    out
}
