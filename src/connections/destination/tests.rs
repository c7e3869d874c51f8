use super::*;
use crate::connections::apply_patch;
use crate::sources::egress::EgressPolicy;
use crate::specs::{BASIC_AUTH, POSTGRES_SPEC_ID, SourceKind};
use serde_json::{Value, json};
use std::sync::Arc;

fn basic(params: Value) -> SourceConfig {
    SourceConfig::from_auth(SourceKind::Postgres, BASIC_AUTH, &params).unwrap()
}

fn stored() -> ConnectionInput {
    ConnectionInput {
        name: "c".into(),
        description: String::new(),
        spec_id: POSTGRES_SPEC_ID.into(),
        spec_version: "1.0".into(),
        auth_spec: BASIC_AUTH.into(),
        params: json!({"server": "db", "port": 5432, "database": "d", "username": "u",
                       "password": "hunter2", "sslMode": "Verify-Full"}),
    }
}

fn masked() -> Value {
    let mut params = stored().params;
    params["password"] = json!("<secret>");
    params
}

/// Patches the stored connection and applies the redirect rule.
fn patch(ops: Value) -> Result<(), ConnectionError> {
    let patched = apply_patch(&stored(), &masked(), &ops)?;
    let old = basic(stored().params);
    check_redirect(Some(&old), &basic(patched.input.params), &patched.kept)
}

fn refused_fields(result: Result<(), ConnectionError>) -> Vec<String> {
    match result {
        Err(ConnectionError::SecretsRequired(violations)) => {
            assert!(violations.iter().all(|v| !v.message.contains("hunter2")));
            violations
                .into_iter()
                .map(|v| format!("{}: {}", v.path, v.message))
                .collect()
        }
        other => panic!("expected SecretsRequired, got {other:?}"),
    }
}

#[test]
fn moving_the_password_elsewhere_needs_it_again() {
    let redirect = json!([{"op": "replace", "path": "/auth/params/port", "value": 6000},
                          {"op": "replace", "path": "/auth/params/sslMode", "value": "Disable"}]);
    let found = refused_fields(patch(redirect));
    assert_eq!(found.len(), 1);
    assert!(
        found[0].starts_with("/auth/params/password: must be given again"),
        "{}",
        found[0]
    );
    assert!(found[0].contains("`port`, `sslMode`"), "{}", found[0]);
    for (field, value) in [
        ("server", json!("evil.example")),
        ("database", json!("other")),
        ("username", json!("postgres")),
        (
            "sslRootCert",
            json!("-----BEGIN CERTIFICATE-----\nx\n-----END CERTIFICATE-----\n"),
        ),
    ] {
        let ops = json!([{"op": "add", "path": format!("/auth/params/{field}"), "value": value}]);
        let found = refused_fields(patch(ops));
        assert!(found[0].contains(&format!("`{field}`")), "{field}: {found:?}");
    }
    let whole = json!([{"op": "replace", "path": "/auth/params",
                        "value": {"server": "evil", "database": "d", "username": "u", "password": "<secret>"}}]);
    refused_fields(patch(whole));
}

#[test]
fn giving_the_password_again_or_changing_nothing_that_matters_is_allowed() {
    let with_password = json!([{"op": "replace", "path": "/auth/params/port", "value": 6000},
                               {"op": "replace", "path": "/auth/params/password", "value": "hunter2"}]);
    patch(with_password).unwrap();
    patch(json!([{"op": "replace", "path": "/name", "value": "renamed"}])).unwrap();
    // The same destination spelt differently moves nothing.
    patch(json!([{"op": "replace", "path": "/auth/params/port", "value": "5432"},
                 {"op": "replace", "path": "/auth/params/server", "value": "DB"},
                 {"op": "replace", "path": "/auth/params/sslMode", "value": "verify_full"}]))
    .unwrap();
    let new = basic(stored().params);
    let found = refused_fields(check_redirect(None, &new, &["password".into()]));
    assert!(found[0].contains("`server`"), "{found:?}");
}

#[tokio::test]
async fn denied_hosts_and_trust_paths_are_refused_before_anything_is_stored() {
    let options = ConnectOptions {
        egress: Arc::new(EgressPolicy::new(&[], &["127.0.0.2/32".into()], true).unwrap()),
        ..ConnectOptions::default()
    };
    let config = basic(json!({"server": "127.0.0.2", "database": "d", "username": "u", "password": "p"}));
    let Err(ConnectionError::Invalid(found)) = check_allowed(&config, BASIC_AUTH, &options).await else {
        panic!("127.0.0.2 was allowed");
    };
    assert_eq!(found[0].path, "/auth/params/server");
    let config = basic(json!({"server": "169.254.169.254", "database": "d", "username": "u", "password": "p"}));
    assert!(
        check_allowed(&config, BASIC_AUTH, &ConnectOptions::default())
            .await
            .is_err()
    );
    let mut config = basic(json!({"server": "127.0.0.1", "database": "d", "username": "u", "password": "p"}));
    check_allowed(&config, BASIC_AUTH, &options).await.unwrap();
    config.root_cert = Some(RootCert::Path("/etc/passwd".into()));
    let Err(ConnectionError::Invalid(found)) = check_allowed(&config, CONNECTION_STRING_AUTH, &options).await else {
        panic!("a path outside the trust directory was allowed");
    };
    assert_eq!(found[0].path, "/auth/params/connectionString");
    assert_eq!(found[0].message, crate::sources::trust_file::REFUSED_MESSAGE);
}
