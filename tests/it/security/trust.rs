//! Trust material is data, not paths: inline CAs verify as before; `TrustStore` paths
//! reach only regular, bounded files inside the operator's trust store directory, and
//! every other path gets one and the same answer, at once.

use std::collections::BTreeSet;
use std::path::Path;

use reqwest::StatusCode;
use serde_json::json;

use super::{basic, test};
use crate::common::pg::{Auth, PgOptions, PgServer, User};
use crate::common::server::{Identity, Inlet, Options, PG_SPEC};
use inlet::sources::trust_file::REFUSED_MESSAGE;

const PASSWORD: &str = "Trust-pw-Sentinel-81c4";

fn connection_string(port: u16, trust_store: &str) -> serde_json::Value {
    let text = format!(
        "Server=localhost;Port={port};Database=postgres;UID=owner;Password={PASSWORD};\
         EncryptionMethod=1;ValidateServerCertificate=1;TrustStore={trust_store}"
    );
    json!({"name": "cs", "connectionSpec": {"id": PG_SPEC, "version": "1.0"},
           "auth": {"specName": "Connection String Based Authentication", "params": {"connectionString": text}}})
}

fn mkfifo(path: &Path) {
    let status = std::process::Command::new("mkfifo").arg(path).status().unwrap();
    assert!(status.success());
}

/// The message of a refused create, which must name the connection string.
async fn refused_at_create(api: &Identity, body: &serde_json::Value) -> String {
    let reply = api.post("/connections", body).await;
    assert_eq!(reply.code(), "1001-400", "{}", reply.body);
    let detail = &reply.body["report"]["details"][0];
    assert_eq!(detail["path"], "/auth/params/connectionString");
    detail["message"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn only_small_regular_files_in_the_trust_directory_are_read() {
    let pg = PgServer::start(PgOptions {
        tls: true,
        users: vec![User::new("owner", PASSWORD, Auth::Scram)],
        ..PgOptions::default()
    });
    let ca = pg.ca_pem().unwrap().to_string();
    let root = tempfile::tempdir().unwrap();
    let trust = root.path().join("trust");
    std::fs::create_dir(&trust).unwrap();
    std::fs::write(trust.join("ca.pem"), &ca).unwrap();
    std::fs::write(trust.join("swap.pem"), &ca).unwrap();
    std::fs::write(trust.join("notes.txt"), "no certificate in here").unwrap();
    std::fs::create_dir(trust.join("dir")).unwrap();
    mkfifo(&trust.join("fifo.pem"));
    let huge = std::fs::File::create(trust.join("huge.pem")).unwrap();
    huge.set_len(256 << 20).unwrap();
    std::fs::write(root.path().join("outside.pem"), &ca).unwrap();
    let inlet = Inlet::start_with(Options {
        config: Some(format!("trust_store_dir = {:?}\n", trust.to_str().unwrap())),
        ..Options::default()
    });
    let api = inlet.identity("ORG1@AdobeOrg");

    // Inline PEM verifies as it always did, in both auth specs.
    let mut inline = basic("inline", "localhost", pg.port(), "owner", PASSWORD, "Verify-Full");
    inline["auth"]["params"]["sslRootCert"] = json!(ca);
    let id = api.create_connection(&inline).await;
    assert_eq!(test(&api, &id).await, (true, String::new(), String::new()));
    let id = api
        .create_connection(&connection_string(pg.port(), &format!("{{{ca}}}")))
        .await;
    assert!(test(&api, &id).await.0);
    // A file in the directory, named relative to it or in full.
    for name in ["ca.pem".to_string(), trust.join("ca.pem").display().to_string()] {
        let id = api.create_connection(&connection_string(pg.port(), &name)).await;
        assert!(test(&api, &id).await.0, "{name}");
    }

    // Everything else: one message, whatever is (or is not) at the path.
    let outside = root.path().join("outside.pem");
    let mut messages = BTreeSet::new();
    for path in [
        outside.display().to_string(),
        "../outside.pem".to_string(),
        "/etc/passwd".to_string(),
        "/dev/zero".to_string(),
        "/proc/self/environ".to_string(),
        "dir".to_string(),
        "fifo.pem".to_string(),
        "huge.pem".to_string(),
        "missing.pem".to_string(),
        "notes.txt".to_string(),
        trust.display().to_string(),
    ] {
        messages.insert(refused_at_create(&api, &connection_string(pg.port(), &path)).await);
    }
    assert_eq!(messages.into_iter().collect::<Vec<_>>(), [REFUSED_MESSAGE]);

    // A file that changes into a FIFO after the create: the test answers at once, the same.
    let id = api.create_connection(&connection_string(pg.port(), "swap.pem")).await;
    assert!(test(&api, &id).await.0);
    std::fs::remove_file(trust.join("swap.pem")).unwrap();
    mkfifo(&trust.join("swap.pem"));
    let (ok, code, message) = test(&api, &id).await;
    assert_eq!(
        (ok, code.as_str(), message.as_str()),
        (false, "ROOT_CERT_INVALID", REFUSED_MESSAGE)
    );
    // The server is still well: no thread is stuck on the FIFO.
    let health = reqwest::get(format!("{}/healthz", inlet.base)).await.unwrap();
    assert_eq!(health.status(), StatusCode::OK);
    assert!(!inlet.logs().contains(PASSWORD));
}

#[tokio::test]
async fn without_a_trust_directory_no_path_is_accepted() {
    let inlet = Inlet::start();
    let api = inlet.identity("ORG1@AdobeOrg");
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("ca.pem"), "-----BEGIN CERTIFICATE-----\n").unwrap();
    for path in [dir.path().join("ca.pem").display().to_string(), "ca.pem".to_string()] {
        let message = refused_at_create(&api, &connection_string(5432, &path)).await;
        assert_eq!(message, REFUSED_MESSAGE);
    }
}
