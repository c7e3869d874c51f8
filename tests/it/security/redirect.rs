//! A second client of the org, which never saw the password, cannot send it elsewhere.

use reqwest::StatusCode;
use serde_json::json;

use super::{Trap, basic, test};
use crate::common::pg::{Auth, PgOptions, PgServer, User};
use crate::common::server::{Inlet, Options};

const PASSWORD: &str = "Owner-pw-Sentinel-5d2e";

#[tokio::test]
async fn the_stored_password_goes_nowhere_else_until_it_is_given_again() {
    let pg = PgServer::start(PgOptions {
        tls: true,
        users: vec![User::new("owner", PASSWORD, Auth::Scram)],
        ..PgOptions::default()
    });
    // The trap never answers: a short connect timeout ends the test of it quickly.
    let inlet = Inlet::start_with(Options {
        config: Some("source_connect_timeout = \"2s\"\n".into()),
        ..Options::default()
    });
    let owner = inlet.identity("ORG1@AdobeOrg");
    let other = inlet.identity("ORG1@AdobeOrg");
    assert_ne!(owner.client_id, other.client_id);
    let created = owner
        .post(
            "/connections",
            &basic("db", "127.0.0.1", pg.port(), "owner", PASSWORD, "Require"),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let id = created.body["id"].as_str().unwrap().to_string();
    assert!(test(&owner, &id).await.0);

    // The attack of the issue: a listener of the attacker's, and plain text.
    let trap = Trap::bind("127.0.0.1");
    let path = format!("/connections/{id}");
    let etag = other.get(&path).await.body["items"][0]["etag"]
        .as_str()
        .unwrap()
        .to_string();
    let attack = json!([{"op": "replace", "path": "/auth/params/port", "value": trap.port()},
                        {"op": "replace", "path": "/auth/params/sslMode", "value": "Disable"}]);
    let refused = other.patch(&path, Some(&etag), &attack).await;
    assert_eq!(refused.code(), "1001-400", "{}", refused.body);
    let detail = &refused.body["report"]["details"][0];
    assert_eq!(detail["path"], "/auth/params/password");
    let message = refused.message();
    assert!(
        message.contains("must be given again") && message.contains("`port`, `sslMode`"),
        "{message}"
    );
    assert!(test(&other, &id).await.0, "the connection still goes to the database");
    assert!(trap.visits().is_empty(), "something reached the trap");

    // Every destination field alone, and the whole params block echoed with a change.
    let shown = other.get(&path).await.body["items"][0].clone();
    let mut echoed = shown["auth"]["params"].clone();
    echoed["server"] = json!("localhost");
    for ops in [
        json!([{"op": "replace", "path": "/auth/params/server", "value": "localhost"}]),
        json!([{"op": "replace", "path": "/auth/params/database", "value": "template1"}]),
        json!([{"op": "replace", "path": "/auth/params/username", "value": "postgres"}]),
        json!([{"op": "replace", "path": "/auth/params/sslMode", "value": "Prefer"}]),
        json!([{"op": "add", "path": "/auth/params/sslRootCert", "value": "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"}]),
        json!([{"op": "replace", "path": "/auth/params", "value": echoed}]),
    ] {
        let reply = other.patch(&path, Some(&etag), &ops).await;
        assert_eq!(reply.code(), "1001-400", "{ops}: {}", reply.body);
        assert_eq!(
            reply.body["report"]["details"][0]["path"], "/auth/params/password",
            "{ops}"
        );
    }
    // Renaming needs no password.
    let renamed = other
        .patch(
            &path,
            Some(&etag),
            &json!([{"op": "replace", "path": "/name", "value": "renamed"}]),
        )
        .await;
    assert_eq!(renamed.status, StatusCode::OK, "{}", renamed.body);
    let etag = renamed.body["etag"].as_str().unwrap().to_string();

    // Whoever types the password may send it where they like: to the trap...
    let with_password = json!([{"op": "replace", "path": "/auth/params/port", "value": trap.port()},
                               {"op": "replace", "path": "/auth/params/password", "value": "typed-by-them"}]);
    let moved = other.patch(&path, Some(&etag), &with_password).await;
    assert_eq!(moved.status, StatusCode::OK, "{}", moved.body);
    let (ok, code, _) = test(&other, &id).await;
    assert!(!ok && !code.is_empty());
    let visits = trap.visits();
    assert_eq!(visits.len(), 1, "Require tries TLS once");
    assert!(!String::from_utf8_lossy(&visits[0]).contains(PASSWORD));

    // ...and re-entering the right password to the database makes it work again.
    let etag = moved.body["etag"].as_str().unwrap().to_string();
    let back = json!([{"op": "replace", "path": "/auth/params/port", "value": pg.port()},
                      {"op": "replace", "path": "/auth/params/password", "value": PASSWORD}]);
    let restored = owner.patch(&path, Some(&etag), &back).await;
    assert_eq!(restored.status, StatusCode::OK, "{}", restored.body);
    assert!(test(&owner, &id).await.0);
    assert!(!inlet.logs().contains(PASSWORD));
}
