//! Security hardening (issue 11), tried as an attacker inside a tenant would: stored
//! credentials go only where their owner sent them (redirect), the server's files stay
//! its own (trust), its network reach is the operator's (egress), costs are bounded
//! (limits), and a hostile corpus of requests finds no 5xx, leak or cross-tenant success
//! (hostile).

mod egress;
mod hostile;
mod limits;
mod redirect;
mod trust;

use std::net::TcpListener;
use std::time::Duration;

use serde_json::{Value, json};

use crate::common::server::{Identity, Inlet, PG_SPEC};
use inlet::identity::{Tenant, keys};

/// A Basic Authentication connection to `host:port` of a test PostgreSQL.
pub fn basic(name: &str, host: &str, port: u16, user: &str, password: &str, mode: &str) -> Value {
    json!({
        "name": name, "connectionSpec": {"id": PG_SPEC, "version": "1.0"},
        "auth": {"specName": "Basic Authentication", "params": {"server": host, "port": port,
            "database": "postgres", "username": user, "password": password, "sslMode": mode}}
    })
}

/// `GET /connections/{id}/test`'s `(result, error code, message)`.
pub async fn test(api: &Identity, id: &str) -> (bool, String, String) {
    let reply = api.get(&format!("/connections/{id}/test")).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let code = reply.body["error"]["code"].as_str().unwrap_or_default().to_string();
    let message = reply.body["error"]["message"].as_str().unwrap_or_default().to_string();
    (reply.body["result"] == true, code, message)
}

/// A listener standing in for an attacker's: it records whether anything connected.
pub struct Trap {
    listener: TcpListener,
}

impl Trap {
    pub fn bind(ip: &str) -> Trap {
        let listener = TcpListener::bind((ip, 0)).expect("bind the trap");
        listener.set_nonblocking(true).unwrap();
        Trap { listener }
    }

    pub fn port(&self) -> u16 {
        self.listener.local_addr().unwrap().port()
    }

    /// The first bytes of each connection that reached the trap so far.
    pub fn visits(&self) -> Vec<Vec<u8>> {
        let mut visits = Vec::new();
        while let Ok((mut stream, _)) = self.listener.accept() {
            use std::io::Read;
            stream.set_nonblocking(false).unwrap();
            stream.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
            let mut bytes = vec![0; 4096];
            let n = stream.read(&mut bytes).unwrap_or(0);
            bytes.truncate(n);
            visits.push(bytes);
        }
        visits
    }
}

/// Rewrites a stored connection's `server` and `port` with the instance's own key and
/// store, as a connection made before the operator's current policy would be.
pub async fn retarget(inlet: &Inlet, org: &str, id: &str, host: &str, port: u16) {
    let store = inlet::store::Store::open_sqlite(&inlet.data_dir()).await.unwrap();
    let tenant = Tenant {
        org: org.to_string(),
        sandbox: "prod".to_string(),
    };
    let row = store.get_resource("connection", &tenant, id).await.unwrap().unwrap();
    let key = keys::load_or_create(None, &inlet.data_dir(), keys::MASTER_KEY_FILE).unwrap();
    let cipher = inlet::connections::secrets::SecretCipher::new(&key);
    let binding = inlet::connections::record_binding(&tenant, id);
    let masked = row.doc["auth"]["params"].clone();
    let mut params = inlet::connections::open_params(&cipher, &masked, row.secret.as_deref(), &binding).unwrap();
    params["server"] = json!(host);
    params["port"] = json!(port);
    let specs = inlet::specs::SpecCatalog::new();
    let auth = specs
        .connection_spec(PG_SPEC)
        .unwrap()
        .auth_spec("Basic Authentication")
        .unwrap();
    let (masked, sealed) = inlet::connections::seal_params(&cipher, auth, &params, &binding);
    let mut doc = row.doc.clone();
    doc["auth"]["params"] = masked;
    let updated = inlet::store::ResourceRow {
        doc,
        secret: sealed,
        etag: inlet::store::new_etag(),
        ..row.clone()
    };
    let done = store.update_resource(&updated, &row.etag).await.unwrap();
    assert_eq!(done, inlet::store::Update::Done);
}
