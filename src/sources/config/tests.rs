use super::*;
use serde_json::json;

const PEM: &str = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";

fn conn_string(text: &str) -> SourceConfig {
    let params = json!({ "connectionString": text });
    SourceConfig::from_auth(SourceKind::Postgres, CONNECTION_STRING_AUTH, &params).unwrap()
}

fn basic(kind: SourceKind, params: Value) -> Result<SourceConfig, Vec<Violation>> {
    SourceConfig::from_auth(kind, BASIC_AUTH, &params)
}

fn paths(found: &[Violation]) -> Vec<&str> {
    found.iter().map(|v| v.path.as_str()).collect()
}

#[test]
fn connection_string_maps_every_field() {
    let c = conn_string("Server=[::1]:6000;Database=shop;UID=u;Password={p;w}");
    assert_eq!((c.kind, c.host.as_str(), c.port), (SourceKind::Postgres, "::1", 6000));
    assert_eq!((c.database.as_str(), c.user.as_str()), ("shop", "u"));
    assert_eq!(c.password.expose(), "p;w");
    assert_eq!(
        (c.ssl_mode, c.root_cert, c.tls_server_name, c.schema),
        (SslMode::Disable, None, None, None)
    );
}

#[test]
fn connection_string_tls_modes() {
    let base = "Server=db;Database=shop;Port=5432;UID=u;Password=p";
    let mode = |extra: &str| conn_string(&format!("{base};{extra}")).ssl_mode;
    assert_eq!(mode("EncryptionMethod=0;ValidateServerCertificate=1"), SslMode::Disable);
    assert_eq!(
        mode("EncryptionMethod=1;ValidateServerCertificate=1"),
        SslMode::VerifyFull
    );
    assert_eq!(mode("EncryptionMethod=1"), SslMode::VerifyFull);
    assert_eq!(mode("EncryptionMethod=1;ValidateServerCertificate=0"), SslMode::Require);
    assert_eq!(mode("EncryptionMethod=6"), SslMode::Prefer);
}

#[test]
fn connection_string_trust_store_and_host_name() {
    let base = "Server=10.0.0.5;Database=d;UID=u;Password=p;EncryptionMethod=1";
    let c = conn_string(&format!(
        "{base};TrustStore={{{PEM}}};HostNameInCertificate=db.internal"
    ));
    assert_eq!(c.root_cert, Some(RootCert::Pem(PEM.to_string())));
    assert_eq!(c.tls_server_name.as_deref(), Some("db.internal"));
    let c = conn_string(&format!("{base};TrustStore=/etc/inlet/ca.pem"));
    assert_eq!(c.root_cert, Some(RootCert::Path("/etc/inlet/ca.pem".into())));
}

#[test]
fn connection_string_errors_are_violations() {
    let bad = json!({"connectionString": "Server=db;Prot=5432;Password=hunter2"});
    let found = SourceConfig::from_auth(SourceKind::Postgres, CONNECTION_STRING_AUTH, &bad).unwrap_err();
    assert_eq!(paths(&found), ["/auth/params/connectionString"]);
    assert!(found[0].message.contains("`Prot`") && !found[0].message.contains("hunter2"));
    let found = SourceConfig::from_auth(SourceKind::Postgres, CONNECTION_STRING_AUTH, &json!({})).unwrap_err();
    assert_eq!(found[0].message, "is required");
}

#[test]
fn basic_postgres_with_defaults() {
    let c = basic(
        SourceKind::Postgres,
        json!({"server": "db", "database": "shop", "username": "reader", "password": "s3cret"}),
    )
    .unwrap();
    assert_eq!((c.host.as_str(), c.port, c.ssl_mode), ("db", 5432, SslMode::Prefer));
    assert_eq!(
        (c.database.as_str(), c.user.as_str(), c.password.expose()),
        ("shop", "reader", "s3cret")
    );
    assert_eq!((c.root_cert, c.tls_server_name, c.schema), (None, None, None));
}

#[test]
fn basic_postgres_platform_example() {
    let params = json!({"server": "db.example.com", "port": "5432", "database": "shop",
                        "username": "reader", "password": "s3cret", "sslMode": "Verify-Full",
                        "sslRootCert": PEM});
    let c = basic(SourceKind::Postgres, params).unwrap();
    assert_eq!((c.port, c.ssl_mode), (5432, SslMode::VerifyFull));
    assert_eq!(c.root_cert, Some(RootCert::Pem(PEM.to_string())));
    let c = basic(
        SourceKind::Postgres,
        json!({"server": "db", "port": 6432, "database": "d",
                                               "username": "u", "password": "p", "sslMode": true}),
    )
    .unwrap();
    assert_eq!((c.port, c.ssl_mode), (6432, SslMode::Require));
    // A draft-07 integer has no fraction, so 6433.0 is refused, as by validate.
    let params = json!({"server": "db", "port": 6433.0, "database": "d", "username": "u", "password": "p"});
    assert!(basic(SourceKind::Postgres, params).is_err());
}

#[test]
fn basic_redshift_defaults_and_schema() {
    let params = json!({"server": "r.example", "database": "dev", "username": "u", "password": "p", "schema": "sales"});
    let c = basic(SourceKind::Redshift, params).unwrap();
    assert_eq!(
        (c.kind, c.port, c.ssl_mode),
        (SourceKind::Redshift, 5439, SslMode::VerifyFull)
    );
    assert_eq!(c.schema.as_deref(), Some("sales"));
    let params = json!({"server": "r", "database": "d", "username": "u", "password": "p", "sslMode": "verify ca", "port": "5440"});
    let c = basic(SourceKind::Redshift, params).unwrap();
    assert_eq!((c.port, c.ssl_mode, c.schema), (5440, SslMode::VerifyCa, None));
}

#[test]
fn basic_reports_every_problem() {
    let params = json!({"server": "", "port": "70000", "username": 3, "password": "hunter2",
                        "sslMode": "hunter2", "sslRootCert": "/tmp/ca.pem"});
    let found = basic(SourceKind::Postgres, params).unwrap_err();
    assert_eq!(
        paths(&found),
        [
            "/auth/params/server",
            "/auth/params/port",
            "/auth/params/database",
            "/auth/params/username",
            "/auth/params/sslMode",
            "/auth/params/sslRootCert"
        ]
    );
    assert!(found.iter().all(|v| !v.message.contains("hunter2")));
    for port in [json!(0), json!(-5), json!("x"), json!(1.5)] {
        let params = json!({"server": "s", "port": port, "database": "d", "username": "u", "password": "p"});
        assert_eq!(
            paths(&basic(SourceKind::Redshift, params).unwrap_err()),
            ["/auth/params/port"]
        );
    }
}

#[test]
fn basic_values_are_bounded_and_the_server_is_a_host() {
    let long = |n: usize| "x".repeat(n + 1);
    let params = json!({"server": long(limits::HOST), "database": long(limits::NAME),
                        "username": long(limits::NAME), "password": long(limits::PASSWORD),
                        "schema": long(limits::NAME), "sslRootCert": format!("-----BEGIN{}", long(limits::PEM))});
    let found = basic(SourceKind::Redshift, params).unwrap_err();
    assert_eq!(found.len(), 6, "{found:?}");
    assert!(
        found.iter().all(|v| v.message.starts_with("must be at most")),
        "{found:?}"
    );
    for bad in ["/var/run/postgresql", "db host", "[::1]", "db;x"] {
        let params = json!({"server": bad, "database": "d", "username": "u", "password": "p"});
        let found = basic(SourceKind::Postgres, params).unwrap_err();
        assert_eq!(found, [Violation::new("/auth/params/server", HOST_MESSAGE)], "{bad}");
    }
    for good in ["db.example.com", "10.0.0.5", "::1", "fe80::1", "db_1-a"] {
        let params = json!({"server": good, "database": "d", "username": "u", "password": "p"});
        assert_eq!(basic(SourceKind::Postgres, params).unwrap().host, good);
    }
}

#[test]
fn wrong_spec_or_shape() {
    let found = SourceConfig::from_auth(SourceKind::Redshift, CONNECTION_STRING_AUTH, &json!({})).unwrap_err();
    assert_eq!(paths(&found), ["/auth/specName"]);
    assert!(found[0].message.contains("`Basic Authentication`"));
    let found = SourceConfig::from_auth(SourceKind::Postgres, "OAuth", &json!({})).unwrap_err();
    assert!(found[0].message.contains(CONNECTION_STRING_AUTH));
    let found = SourceConfig::from_auth(SourceKind::Postgres, BASIC_AUTH, &json!([])).unwrap_err();
    assert_eq!(found, [Violation::new("/auth/params", "must be an object")]);
}

#[test]
fn debug_masks_the_password() {
    let c = conn_string("Server=db;Database=d;UID=u;Password=hunter2");
    let debug = format!("{c:?}");
    assert!(!debug.contains("hunter2") && debug.contains("<secret>"), "{debug}");
}
