//! Throw-away PostgreSQL servers for tests: a real `initdb` cluster per server, started with
//! `pg_ctl` on a free port, with optional TLS, md5/SCRAM login roles and statement logging.
//!
//! Synchronous std code on purpose: it runs before any tokio runtime needs it and must not
//! depend on one. Every failure panics with the reason and the server log; nothing is skipped.

use std::collections::BTreeSet;
use std::collections::hash_map::RandomState;
use std::fs;
use std::hash::BuildHasher;
use std::io::Write;
use std::net::TcpListener;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::{Mutex, OnceLock};

/// The superuser role `initdb` creates in every cluster.
const SUPERUSER: &str = "postgres";
/// The OS user that owns clusters when the tests run as root (initdb refuses root).
const OS_USER: &str = "postgres";
/// Where TCP clients may connect from; the server listens on the IPv4 one only.
const NETWORKS: [&str; 2] = ["127.0.0.1/32", "::1/128"];
/// Attempts to start on a fresh port when another server took the previous one.
const START_ATTEMPTS: usize = 10;

/// How a login role proves its password over TCP.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Auth {
    /// `scram-sha-256` in pg_hba.conf and a SCRAM verifier in `pg_authid`.
    Scram,
    /// `md5` in pg_hba.conf and an md5 hash in `pg_authid`.
    Md5,
}

/// An extra login role created when the server starts.
#[derive(Clone, Debug)]
pub struct User {
    /// Role name (no `"` or newline: it is written into pg_hba.conf).
    pub name: String,
    /// Plain-text password.
    pub password: String,
    /// Password method for this role.
    pub auth: Auth,
}

impl User {
    /// A login role with the given password method.
    pub fn new(name: &str, password: &str, auth: Auth) -> User {
        let (name, password) = (name.to_string(), password.to_string());
        User { name, password, auth }
    }
}

/// What kind of server to start; `PgOptions::default()` is a plain server without TLS.
#[derive(Clone, Debug, Default)]
pub struct PgOptions {
    /// Generate a CA and a server certificate (SAN: DNS `localhost` only, so connecting by
    /// `127.0.0.1` is a host-name mismatch) and turn `ssl` on.
    pub tls: bool,
    /// pg_hba.conf admits TCP clients only over TLS (`hostssl`).
    pub hostssl_only: bool,
    /// `log_statement = 'all'`, to assert later which statements a client sent.
    pub log_statements: bool,
    /// Extra login roles, with password auth of the given method.
    pub users: Vec<User>,
    /// Extra `postgresql.conf` settings as (name, value); values are written as given.
    pub settings: Vec<(String, String)>,
}

/// A running PostgreSQL server in its own temporary directory; stopped and removed on drop.
pub struct PgServer {
    bin: PathBuf,
    dir: tempfile::TempDir,
    port: u16,
    password: String,
    ca: Option<(String, PathBuf)>,
}

impl PgServer {
    /// Creates a cluster and starts it; panics with the reason and the server log on failure.
    pub fn start(opts: PgOptions) -> PgServer {
        let bin = pg_bin_dir();
        let dir = tempfile::Builder::new()
            .prefix("inlet-pg-")
            .tempdir_in(std::env::temp_dir())
            .expect("create a temporary directory for PostgreSQL");
        let base = dir.path();
        fs::create_dir(base.join("sock")).expect("create socket directory");
        let password = random_token();
        fs::write(base.join("pwfile"), format!("{password}\n")).expect("write pwfile");
        let ca = opts.tls.then(|| write_certs(base));
        give_to_os_user(base);
        let args = "--no-sync -A scram-sha-256 --pwfile pwfile -E UTF8 --locale=C -D data";
        let mut initdb = server_command(&bin, "initdb", base, &["-U", SUPERUSER]);
        // Names the user because, as root, a TMPDIR closed to `postgres` fails right here.
        let what = "initdb (as the cluster's owner)";
        run(initdb.args(args.split(' ')), what, base);
        write_config(base, &opts);
        let port = start_on_free_port(&bin, base);
        let server = PgServer {
            bin,
            dir,
            port,
            password,
            ca,
        };
        server.create_users(&opts.users);
        server
    }

    /// TCP port the server listens on (at `host()`).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Address the server listens on.
    pub fn host(&self) -> &str {
        "127.0.0.1"
    }

    /// Superuser (name, password); the password works over TCP with SCRAM.
    pub fn superuser(&self) -> (&str, &str) {
        (SUPERUSER, &self.password)
    }

    /// `postgres://user:password@127.0.0.1:port/database`, with the parts percent-encoded.
    pub fn url(&self, user: &str, password: &str, database: &str) -> String {
        let (u, p, d) = (encode(user), encode(password), encode(database));
        format!("postgres://{u}:{p}@{}:{}/{d}", self.host(), self.port)
    }

    /// URL of the superuser for `database`.
    pub fn admin_url(&self, database: &str) -> String {
        self.url(SUPERUSER, &self.password, database)
    }

    /// Runs `sql` as the superuser over the unix socket (`psql -v ON_ERROR_STOP=1 -At`) and
    /// returns its trimmed output; panics with psql's stderr and the server log on error.
    pub fn psql(&self, database: &str, sql: &str) -> String {
        let socket_dir = self.dir.path().join("sock");
        let port = self.port.to_string();
        let mut cmd = Command::new(self.psql_path());
        cmd.args("-X -q -v ON_ERROR_STOP=1 -At -f -".split(' '));
        cmd.args(["-h", s(&socket_dir), "-p", &port]);
        cmd.args(["-U", SUPERUSER, "-d", database]);
        let out = run_with_stdin(cmd, sql);
        if !out.status.success() {
            let stderr = String::from_utf8_lossy(&out.stderr);
            let log = log_of(self.dir.path());
            panic!("psql failed on database {database:?}: {stderr}\nSQL:\n{sql}\n{log}");
        }
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    /// The socket directory and port of the server: for [`psql_at`] on another thread.
    pub fn socket(&self) -> (PathBuf, u16) {
        (self.dir.path().join("sock"), self.port)
    }

    /// Creates an empty database owned by the superuser.
    pub fn create_database(&self, name: &str) {
        let sql = format!("CREATE DATABASE {}", quote_ident(name));
        self.psql("postgres", &sql);
    }

    /// PEM of the CA that signed the server certificate, when started with `tls`.
    pub fn ca_pem(&self) -> Option<&str> {
        self.ca.as_ref().map(|(pem, _)| pem.as_str())
    }

    /// File holding `ca_pem()`, for clients that take a path (`sslrootcert`).
    pub fn ca_path(&self) -> Option<&Path> {
        self.ca.as_ref().map(|(_, path)| path.as_path())
    }

    /// Everything the server has logged so far.
    pub fn server_log(&self) -> String {
        let bytes = fs::read(self.dir.path().join("server.log")).unwrap_or_default();
        String::from_utf8_lossy(&bytes).into_owned()
    }

    /// Directory of the PostgreSQL binaries in use (`psql`, `pg_dump`, ...).
    pub fn bin_dir(&self) -> &Path {
        &self.bin
    }

    /// Temporary directory holding the cluster (`data/`), socket, log and certificates.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// `psql` of the same installation as the server, else the one on PATH.
    pub fn psql_path(&self) -> PathBuf {
        let psql = self.bin.join("psql");
        if psql.exists() { psql } else { PathBuf::from("psql") }
    }

    fn create_users(&self, users: &[User]) {
        let mut sql = String::new();
        for user in users {
            let method = match user.auth {
                Auth::Scram => "scram-sha-256",
                Auth::Md5 => "md5",
            };
            let (name, password) = (quote_ident(&user.name), quote_literal(&user.password));
            sql += &format!("SET password_encryption = '{method}';\n");
            sql += &format!("CREATE ROLE {name} LOGIN PASSWORD {password};\n");
        }
        if !sql.is_empty() {
            self.psql("postgres", &sql);
        }
    }
}

impl PgServer {
    /// Stops the server at once (`pg_ctl stop -m immediate`), as a crash or an outage
    /// would; connections break mid-statement.
    pub fn stop_now(&self) {
        let args = ["-D", "data", "-m", "immediate", "-w", "stop"];
        let out = server_command(&self.bin, "pg_ctl", self.dir.path(), &args)
            .output()
            .expect("run pg_ctl");
        assert!(out.status.success(), "pg_ctl stop: {out:?}");
    }
}

impl Drop for PgServer {
    fn drop(&mut self) {
        let args = ["-D", "data", "-m", "immediate", "-w", "stop"];
        let out = server_command(&self.bin, "pg_ctl", self.dir.path(), &args).output();
        // Drop may run during a panic, so it reports instead of panicking.
        if let Ok(out) = out
            && !out.status.success()
        {
            eprintln!("pg: stopping the server in {:?} failed: {out:?}", self.dir);
        }
    }
}

/// A TCP port on 127.0.0.1 that was free a moment ago and that this process has not handed
/// out before (many servers start at once in one test process).
pub fn free_port() -> u16 {
    static HANDED_OUT: Mutex<BTreeSet<u16>> = Mutex::new(BTreeSet::new());
    loop {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let port = listener.local_addr().expect("local address").port();
        let mut handed_out = HANDED_OUT.lock().unwrap_or_else(|e| e.into_inner());
        if handed_out.insert(port) {
            return port;
        }
    }
}

/// PostgreSQL binaries: `INLET_PG_BIN`, else the newest /usr/lib/postgresql/*/bin, else PATH.
fn pg_bin_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("INLET_PG_BIN") {
        let dir = PathBuf::from(dir);
        let has_initdb = dir.join("initdb").is_file();
        assert!(has_initdb, "INLET_PG_BIN={dir:?} has no initdb in it");
        return dir;
    }
    let versions = fs::read_dir("/usr/lib/postgresql").into_iter().flatten();
    let newest = versions
        .flatten()
        .filter_map(|e| Some((e.file_name().to_str()?.parse::<u32>().ok()?, e.path())))
        .filter(|(_, dir)| dir.join("bin/initdb").is_file())
        .max();
    if let Some((_, dir)) = newest {
        return dir.join("bin");
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    let found = std::env::split_paths(&path).find(|dir| dir.join("initdb").is_file());
    found.unwrap_or_else(|| {
        panic!(
            "no PostgreSQL server binaries (initdb) in INLET_PG_BIN, /usr/lib/postgresql/*/bin \
             or PATH: install the `postgresql` package (scripts/test does that)"
        )
    })
}

fn running_as_root() -> bool {
    static ROOT: OnceLock<bool> = OnceLock::new();
    *ROOT.get_or_init(|| {
        let out = Command::new("id").arg("-u").output().expect("run `id -u`");
        String::from_utf8_lossy(&out.stdout).trim() == "0"
    })
}

/// One of the server programs, run in `base` as the user that owns the cluster.
fn server_command(bin: &Path, program: &str, base: &Path, args: &[&str]) -> Command {
    let mut cmd = if running_as_root() {
        let mut cmd = Command::new("runuser");
        cmd.args(["-u", OS_USER, "--"]).arg(bin.join(program));
        cmd
    } else {
        Command::new(bin.join(program))
    };
    // The caller's directory may be closed to the `postgres` user.
    cmd.args(args).current_dir(base);
    cmd
}

/// When root, hands the directory (pwfile and key included) to the `postgres` OS user.
fn give_to_os_user(base: &Path) {
    if !running_as_root() {
        return;
    }
    let owner = format!("{OS_USER}:{OS_USER}");
    let mut chown = Command::new("chown");
    run(chown.args(["-R", &owner, s(base)]), "chown", base);
}

fn write_config(base: &Path, opts: &PgOptions) {
    let path = |name: &str| quote_literal(s(&base.join(name)));
    let mut conf = format!(
        "\n# inlet test harness\nlisten_addresses = '127.0.0.1'\n\
         unix_socket_directories = {}\nfsync = off\nsynchronous_commit = off\n\
         full_page_writes = off\nlogging_collector = off\n\
         log_line_prefix = '%m [%p] %q%u@%d '\n",
        path("sock")
    );
    if opts.tls {
        let (cert, key) = (path("server.crt"), path("server.key"));
        conf += &format!("ssl = on\nssl_cert_file = {cert}\nssl_key_file = {key}\n");
    }
    if opts.log_statements {
        conf += "log_statement = 'all'\n";
    }
    for (name, value) in &opts.settings {
        conf += &format!("{name} = {value}\n");
    }
    let data = base.join("data");
    let mut append = fs::OpenOptions::new();
    let file = append.append(true).open(data.join("postgresql.conf"));
    file.and_then(|mut f| f.write_all(conf.as_bytes()))
        .expect("append to postgresql.conf");
    fs::write(data.join("pg_hba.conf"), hba(opts)).expect("write pg_hba.conf");
}

/// pg_hba.conf: trust on the unix socket (for `psql()`), passwords over TCP.
fn hba(opts: &PgOptions) -> String {
    let kind = if opts.hostssl_only { "hostssl" } else { "host" };
    let mut hba = String::from("local all all trust\n");
    for user in opts.users.iter().filter(|u| u.auth == Auth::Md5) {
        let name = &user.name;
        assert!(!name.contains(['"', '\n']), "unusable role name {name:?}");
        for net in NETWORKS {
            hba += &format!("{kind} all \"{name}\" {net} md5\n");
        }
    }
    for net in NETWORKS {
        hba += &format!("{kind} all all {net} scram-sha-256\n");
    }
    hba
}

/// Starts the cluster, moving to another port when the chosen one was taken meanwhile.
fn start_on_free_port(bin: &Path, base: &Path) -> u16 {
    for _ in 0..START_ATTEMPTS {
        let port = free_port();
        let logged_before = log_of(base).len();
        let port_option = format!("-p {port}");
        let mut pg_ctl = server_command(bin, "pg_ctl", base, &["-o", &port_option]);
        pg_ctl.args("-D data -l server.log -w -t 120 start".split(' '));
        let out = pg_ctl.output().expect("run pg_ctl");
        if out.status.success() {
            return port;
        }
        let log = log_of(base);
        let new_lines = log.get(logged_before..).unwrap_or("");
        if !new_lines.contains("Address already in use") {
            panic!("{}", failure("pg_ctl start", &out, base));
        }
    }
    panic!("PostgreSQL found no free port in {START_ATTEMPTS} attempts");
}

/// Writes a CA, a server certificate for DNS `localhost` only and its key; returns the CA.
fn write_certs(base: &Path) -> (String, PathBuf) {
    use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair, KeyUsagePurpose};
    let ca_key = KeyPair::generate().expect("CA key");
    let mut ca = CertificateParams::new(Vec::<String>::new()).expect("CA params");
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    ca.distinguished_name.push(DnType::CommonName, "Inlet test CA");
    let ca = ca.self_signed(&ca_key).expect("self-sign CA");

    let key = KeyPair::generate().expect("server key");
    let mut leaf = CertificateParams::new(vec!["localhost".to_string()]).expect("server params");
    // Not a host name, so no verifier can fall back to matching the CN.
    leaf.distinguished_name.push(DnType::CommonName, "Inlet test server");
    leaf.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    leaf.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth];
    let leaf = leaf.signed_by(&key, &ca, &ca_key).expect("sign server cert");

    fs::write(base.join("server.crt"), leaf.pem()).expect("write server.crt");
    let key_path = base.join("server.key");
    fs::write(&key_path, key.serialize_pem()).expect("write server.key");
    // PostgreSQL refuses a key that others can read.
    fs::set_permissions(&key_path, fs::Permissions::from_mode(0o600)).expect("chmod key");
    let ca_path = base.join("ca.crt");
    fs::write(&ca_path, ca.pem()).expect("write ca.crt");
    (ca.pem(), ca_path)
}

fn run_with_stdin(mut cmd: Command, input: &str) -> Output {
    let piped = Stdio::piped;
    cmd.stdin(piped()).stdout(piped()).stderr(piped());
    let mut child = cmd.spawn().unwrap_or_else(|e| panic!("spawn {cmd:?}: {e}"));
    let mut stdin = child.stdin.take().expect("stdin");
    let input = input.to_string();
    // A separate writer keeps a large input from deadlocking against a full stdout pipe.
    let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()));
    let out = child.wait_with_output().expect("wait for psql");
    let _ = writer.join();
    out
}

fn run(cmd: &mut Command, what: &str, base: &Path) {
    let out = cmd.output();
    let out = out.unwrap_or_else(|e| panic!("could not run {what}: {e}"));
    if !out.status.success() {
        panic!("{}", failure(what, &out, base));
    }
}

fn failure(what: &str, out: &Output, base: &Path) -> String {
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let log = log_of(base);
    let status = out.status;
    format!("PostgreSQL test server: {what} failed ({status})\n{stdout}\n{stderr}\n{log}")
}

fn log_of(base: &Path) -> String {
    let bytes = fs::read(base.join("server.log")).unwrap_or_default();
    let log = String::from_utf8_lossy(&bytes);
    format!("--- server log ---\n{log}--- end of server log ---")
}

/// The temp dir comes from TMPDIR, which could in theory be non-UTF-8; tests need not care.
fn s(path: &Path) -> &str {
    path.to_str().expect("temporary paths are UTF-8")
}

/// A password that needs no quoting anywhere; RandomState keys come from the OS's randomness.
fn random_token() -> String {
    let (a, b) = (RandomState::new().hash_one(1), RandomState::new().hash_one(2));
    format!("{a:016x}{b:016x}")
}

/// Percent-encodes everything but RFC 3986 unreserved characters.
fn encode(text: &str) -> String {
    let keep = |b: u8| b.is_ascii_alphanumeric() || b"-._~".contains(&b);
    let byte = |b: u8| {
        if keep(b) {
            char::from(b).to_string()
        } else {
            format!("%{b:02X}")
        }
    };
    text.bytes().map(byte).collect()
}

/// SQL identifier quoting.
pub fn quote_ident(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}

/// SQL string literal quoting (standard_conforming_strings is on).
pub fn quote_literal(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// Runs `sql` as the superuser with the `psql` at `psql` over the socket in `socket_dir`
/// (see [`PgServer::socket`]); panics with psql's stderr on error.
pub fn psql_at(psql: &Path, (socket_dir, port): (&Path, u16), database: &str, sql: &str) -> String {
    let port = port.to_string();
    let mut cmd = Command::new(psql);
    cmd.args("-X -q -v ON_ERROR_STOP=1 -At -f -".split(' '));
    cmd.args(["-h", s(socket_dir), "-p", &port]);
    cmd.args(["-U", SUPERUSER, "-d", database]);
    let out = run_with_stdin(cmd, sql);
    assert!(
        out.status.success(),
        "psql failed on database {database:?}: {}\nSQL:\n{sql}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}
