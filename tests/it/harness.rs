//! Tests of the PostgreSQL test harness itself: what it promises must really hold, checked
//! with `psql` as an independent client.

use crate::common::pg::{Auth, PgOptions, PgServer, User};
use std::net::TcpStream;
use std::process::{Command, Stdio};

/// Runs `sql` with psql over `conninfo` (key=value string or URL): Ok(stdout) or Err(stderr).
fn psql_tcp(pg: &PgServer, conninfo: &str, sql: &str) -> Result<String, String> {
    let mut cmd = Command::new(pg.psql_path());
    cmd.args(["-X", "-w", "-At", "-c", sql, "-d", conninfo]);
    // Only what the test passes may reach the server: no ambient PG* settings or ~/.pgpass.
    cmd.env_clear().env("PGPASSFILE", "/dev/null");
    cmd.env("PGCONNECT_TIMEOUT", "20").stdin(Stdio::null());
    let out = cmd.output().expect("run psql");
    let stdout = String::from_utf8_lossy(&out.stdout).trim().to_string();
    let stderr = String::from_utf8_lossy(&out.stderr).trim().to_string();
    if out.status.success() { Ok(stdout) } else { Err(stderr) }
}

fn plain_conninfo(pg: &PgServer, user: &str, password: &str, database: &str) -> String {
    format!(
        "host=127.0.0.1 port={} user={user} password={password} dbname={database} \
         sslmode=disable",
        pg.port()
    )
}

#[test]
fn scram_and_md5_users_log_in_over_tcp_with_their_passwords_only() {
    let bob_password = "b@d pw:/?%&'";
    let pg = PgServer::start(PgOptions {
        users: vec![
            User::new("alice", "alice-pw", Auth::Scram),
            User::new("bob", bob_password, Auth::Md5),
        ],
        ..Default::default()
    });

    let alice = plain_conninfo(&pg, "alice", "alice-pw", "postgres");
    assert_eq!(psql_tcp(&pg, &alice, "select current_user"), Ok("alice".into()));
    let bob = pg.url("bob", bob_password, "postgres") + "?sslmode=disable";
    assert_eq!(psql_tcp(&pg, &bob, "select current_user"), Ok("bob".into()));
    let admin = pg.admin_url("postgres") + "?sslmode=disable";
    assert_eq!(psql_tcp(&pg, &admin, "select current_user"), Ok("postgres".into()));

    for (user, wrong) in [("alice", "alice-pw2"), ("bob", "b@d-pw"), ("postgres", "x")] {
        let err = psql_tcp(&pg, &plain_conninfo(&pg, user, wrong, "postgres"), "select 1")
            .expect_err("a wrong password must be refused");
        assert!(err.contains("password authentication failed"), "{user}: {err}");
    }

    let stored = pg.psql(
        "postgres",
        "SELECT rolname, rolpassword LIKE 'md5%', rolpassword LIKE 'SCRAM-SHA-256$%' \
         FROM pg_authid WHERE rolname IN ('alice', 'bob', 'postgres') ORDER BY rolname",
    );
    assert_eq!(stored, "alice|f|t\nbob|t|f\npostgres|f|t");

    pg.create_database("it db");
    let url = pg.url("alice", "alice-pw", "it db") + "?sslmode=disable";
    assert_eq!(psql_tcp(&pg, &url, "select current_database()"), Ok("it db".into()));
    // Statement logging is off unless asked for.
    assert!(!pg.server_log().contains("statement:"), "{}", pg.server_log());
}

#[test]
fn tls_hostssl_only_server_checks_host_name_and_refuses_plain_connections() {
    let pg = PgServer::start(PgOptions {
        tls: true,
        hostssl_only: true,
        ..Default::default()
    });
    let ca = pg.ca_path().expect("CA path").to_str().expect("utf-8 path").to_string();
    let pem = pg.ca_pem().expect("CA PEM");
    assert!(pem.starts_with("-----BEGIN CERTIFICATE-----"), "{pem}");
    assert_eq!(std::fs::read_to_string(&ca).expect("read CA file"), pem);

    let (user, password) = pg.superuser();
    let conninfo = |host: &str, mode: &str| {
        format!(
            "host={host} port={} user={user} password={password} dbname=postgres \
             sslmode={mode} sslrootcert={ca}",
            pg.port()
        )
    };
    let ssl_in_use = "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()";
    assert_eq!(
        psql_tcp(&pg, &conninfo("localhost", "verify-full"), ssl_in_use),
        Ok("t".into())
    );

    let err = psql_tcp(&pg, &conninfo("127.0.0.1", "verify-full"), "select 1")
        .expect_err("127.0.0.1 is not in the certificate");
    assert!(err.contains("does not match host name"), "{err}");
    // Same address with the chain checked but not the name: only the name was wrong.
    assert_eq!(
        psql_tcp(&pg, &conninfo("127.0.0.1", "verify-ca"), ssl_in_use),
        Ok("t".into())
    );

    let err = psql_tcp(&pg, &conninfo("127.0.0.1", "disable"), "select 1")
        .expect_err("hostssl only: a plain connection has no pg_hba.conf entry");
    assert!(err.contains("no pg_hba.conf entry"), "{err}");
}

#[test]
fn log_statements_records_what_clients_sent() {
    let pg = PgServer::start(PgOptions {
        log_statements: true,
        ..Default::default()
    });
    let over_tcp = "SELECT 'inlet-harness-marker-tcp'";
    let admin = pg.admin_url("postgres") + "?sslmode=disable";
    assert_eq!(psql_tcp(&pg, &admin, over_tcp), Ok("inlet-harness-marker-tcp".into()));
    assert_eq!(pg.psql("postgres", "SELECT 40 + 2"), "42");

    let log = pg.server_log();
    assert!(log.contains(&format!("statement: {over_tcp}")), "{log}");
    assert!(log.contains("statement: SELECT 40 + 2"), "{log}");
}

#[test]
fn drop_stops_the_server_and_removes_its_directory() {
    let pg = PgServer::start(PgOptions::default());
    let (dir, port) = (pg.dir().to_path_buf(), pg.port());
    assert!(dir.join("data/PG_VERSION").is_file());
    TcpStream::connect(("127.0.0.1", port)).expect("server listens");
    drop(pg);
    assert!(!dir.exists(), "{} still exists", dir.display());
    assert!(
        TcpStream::connect(("127.0.0.1", port)).is_err(),
        "port {port} still answers"
    );
}

#[test]
fn servers_started_at_once_get_their_own_ports() {
    let servers: Vec<PgServer> = std::thread::scope(|s| {
        let starts: Vec<_> = (0..3)
            .map(|_| s.spawn(|| PgServer::start(Default::default())))
            .collect();
        starts.into_iter().map(|h| h.join().expect("start")).collect()
    });
    let mut ports: Vec<u16> = servers.iter().map(PgServer::port).collect();
    ports.sort();
    ports.dedup();
    assert_eq!(ports.len(), servers.len());
    for pg in &servers {
        let port = pg.psql("postgres", "SHOW port");
        assert_eq!(port, pg.port().to_string());
    }
}

#[test]
#[should_panic(expected = "psql failed")]
fn psql_panics_on_sql_errors() {
    let pg = PgServer::start(PgOptions::default());
    pg.psql("postgres", "SELECT 1; SELECT * FROM no_such_table; SELECT 2");
}
