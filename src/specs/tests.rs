use super::*;
use serde_json::json;

fn catalog() -> SpecCatalog {
    SpecCatalog::new()
}

fn auth(catalog: &SpecCatalog, spec_id: &str, name: &str) -> AuthSpec {
    catalog
        .connection_spec(spec_id)
        .unwrap()
        .auth_spec(name)
        .unwrap()
        .clone()
}

fn violations(spec: &AuthSpec, params: Value) -> Vec<Violation> {
    spec.validate(&params).unwrap_err()
}

fn paths(found: &[Violation]) -> Vec<&str> {
    found.iter().map(|v| v.path.as_str()).collect()
}

fn pg_basic() -> AuthSpec {
    auth(&catalog(), POSTGRES_SPEC_ID, BASIC_AUTH)
}

#[test]
fn catalog_lists_the_three_specs() {
    let catalog = catalog();
    let specs: Vec<(&str, &str, Option<SourceKind>)> = catalog
        .connection_specs()
        .iter()
        .map(|s| (s.id(), s.name(), s.source_kind()))
        .collect();
    assert_eq!(
        specs,
        [
            (POSTGRES_SPEC_ID, "postgre-sql", Some(SourceKind::Postgres)),
            (REDSHIFT_SPEC_ID, "amazon-redshift", Some(SourceKind::Redshift)),
            (DATALAKE_SPEC_ID, "datalake", None),
        ]
    );
    assert!(catalog.connection_spec("nope").is_none());
    let pg = catalog.connection_spec(POSTGRES_SPEC_ID).unwrap();
    assert_eq!(pg.auth_spec_names(), [CONNECTION_STRING_AUTH, BASIC_AUTH]);
    assert!(pg.auth_spec("basic authentication").is_none());
    let redshift = catalog.connection_spec(REDSHIFT_SPEC_ID).unwrap();
    assert_eq!(redshift.auth_spec_names(), [BASIC_AUTH]);
    assert!(redshift.auth_spec(CONNECTION_STRING_AUTH).is_none());
    let lake = catalog.connection_spec(DATALAKE_SPEC_ID).unwrap();
    assert!(lake.auth_spec_names().is_empty());
    assert_eq!(lake.document()["targetSpec"]["spec"]["required"], json!(["dataSetId"]));
}

#[test]
fn documents_have_the_platform_shape() {
    for spec in catalog().connection_specs() {
        let doc = spec.document();
        assert_eq!(
            (doc["id"].as_str(), doc["name"].as_str()),
            (Some(spec.id()), Some(spec.name()))
        );
        assert_eq!(doc["version"], "1.0");
        assert!(doc["providerId"].is_string());
        assert_eq!(doc["attributes"]["isSource"], json!(spec.source_kind().is_some()));
        if spec.source_kind().is_some() {
            assert_eq!(doc["attributes"]["category"], "database");
            assert_eq!(doc["exploreSpec"], json!({"name": "Tabular", "type": "Tabular"}));
            assert_eq!(doc["sourceSpec"]["spec"]["required"], json!(["tableName"]));
        }
        for entry in doc["authSpec"].as_array().unwrap() {
            let schema = &entry["spec"];
            assert!(entry["type"].is_string());
            assert_eq!(schema["$schema"], "http://json-schema.org/draft-07/schema#");
            assert_eq!(schema["additionalProperties"], false);
            for (name, property) in schema["properties"].as_object().unwrap() {
                assert!(property["description"].is_string(), "{name} has no description");
            }
        }
    }
}

#[test]
fn flow_spec_links_the_sources_to_the_lake() {
    let catalog = catalog();
    let [flow] = catalog.flow_specs() else {
        panic!("one flow spec")
    };
    assert_eq!(flow["id"], FLOW_SPEC_ID);
    assert_eq!(flow["name"], "CRMToAEP");
    assert_eq!(
        flow["sourceConnectionSpecIds"],
        json!([POSTGRES_SPEC_ID, REDSHIFT_SPEC_ID])
    );
    assert_eq!(flow["targetConnectionSpecIds"], json!([DATALAKE_SPEC_ID]));
    assert!(flow["attributes"].is_object());
    let names: Vec<&str> = flow["transformationSpecs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Copy", "Mapping"]);
}

#[test]
fn secret_fields_are_the_password_formats() {
    let catalog = catalog();
    assert_eq!(
        auth(&catalog, POSTGRES_SPEC_ID, BASIC_AUTH).secret_fields(),
        ["password"]
    );
    assert_eq!(
        auth(&catalog, POSTGRES_SPEC_ID, CONNECTION_STRING_AUTH).secret_fields(),
        ["connectionString"]
    );
    assert_eq!(
        auth(&catalog, REDSHIFT_SPEC_ID, BASIC_AUTH).secret_fields(),
        ["password"]
    );
}

#[test]
fn valid_params_pass() {
    let spec = pg_basic();
    let example = json!({"server": "db.example.com", "port": "5432", "database": "shop",
                         "username": "reader", "password": "s3cret", "sslMode": "Verify-Full"});
    assert_eq!(spec.validate(&example), Ok(()));
    let minimal = json!({"server": "db", "port": 6432, "database": "d", "username": "u",
                         "password": "", "sslMode": true, "sslRootCert": "-----BEGIN CERTIFICATE-----\n"});
    assert_eq!(spec.validate(&minimal), Ok(()));
    let redshift = auth(&catalog(), REDSHIFT_SPEC_ID, BASIC_AUTH);
    let params = json!({"server": "c.redshift.amazonaws.com", "database": "dev", "username": "u",
                        "password": "p", "schema": "sales", "sslMode": "verify_ca"});
    assert_eq!(redshift.validate(&params), Ok(()));
    let cs = auth(&catalog(), POSTGRES_SPEC_ID, CONNECTION_STRING_AUTH);
    let params = json!({"connectionString": "Server=db;Database=shop;Port=5432;UID=u;Password=p"});
    assert_eq!(cs.validate(&params), Ok(()));
}

#[test]
fn every_missing_property_is_reported_at_its_own_path() {
    let found = violations(&pg_basic(), json!({"port": 5432}));
    assert_eq!(
        paths(&found),
        [
            "/auth/params/database",
            "/auth/params/password",
            "/auth/params/server",
            "/auth/params/username"
        ]
    );
    assert!(found.iter().all(|v| v.message == "is required"));
}

#[test]
fn unknown_parameters_are_named_with_the_allowed_ones() {
    let params = json!({"server": "db", "database": "d", "username": "u", "password": "p",
                        "sslmode": "disable", "host": "x"});
    let found = violations(&pg_basic(), params);
    assert_eq!(paths(&found), ["/auth/params/host", "/auth/params/sslmode"]);
    assert_eq!(
        found[1].message,
        "unknown parameter `sslmode`; allowed parameters: server, database, username, password, \
         port, sslMode, sslRootCert (did you mean `sslMode`?)"
    );
    assert!(
        found[0].message.ends_with("(did you mean `server`?)"),
        "{}",
        found[0].message
    );
    let odd = violations(&pg_basic(), json!({"a/b~": 1}));
    assert!(paths(&odd).contains(&"/auth/params/a~1b~0"));
}

#[test]
fn wrong_types_say_what_is_allowed() {
    let params = json!({"server": 5, "database": "", "username": null, "password": ["hunter2"],
                        "port": true, "sslMode": 3});
    let found = violations(&pg_basic(), params);
    let messages: Vec<(&str, &str)> = found.iter().map(|v| (v.path.as_str(), v.message.as_str())).collect();
    assert_eq!(
        messages,
        [
            ("/auth/params/database", "must not be empty"),
            ("/auth/params/password", "must be a string"),
            ("/auth/params/port", "must be an integer or a string"),
            ("/auth/params/server", "must be a string"),
            ("/auth/params/sslMode", "must be a boolean or a string"),
            ("/auth/params/username", "must be a string"),
        ]
    );
    let found = violations(&pg_basic(), json!("server=db"));
    assert_eq!(found, [Violation::new("/auth/params", "must be an object")]);
}

#[test]
fn ports_must_be_in_range() {
    let base = json!({"server": "db", "database": "d", "username": "u", "password": "p"});
    for port in [
        json!(0),
        json!(65536),
        json!("0"),
        json!("70000"),
        json!("99999999999"),
        json!("54x"),
        json!("-1"),
        json!(-1),
        json!(5432.5),
        json!(6432.0),
    ] {
        let mut params = base.clone();
        params["port"] = port.clone();
        let found = violations(&pg_basic(), params);
        assert_eq!(paths(&found), ["/auth/params/port"], "{port}");
        assert!(
            found[0].message.contains("1 to 65535") || found[0].message.starts_with("must be"),
            "{port}"
        );
    }
}

#[test]
fn ssl_mode_and_root_cert_are_checked() {
    let params = json!({"server": "db", "database": "d", "username": "u", "password": "p",
                        "sslMode": "verify-everything", "sslRootCert": "/etc/ssl/ca.pem"});
    let found = violations(&pg_basic(), params);
    assert_eq!(paths(&found), ["/auth/params/sslMode", "/auth/params/sslRootCert"]);
    assert!(found[0].message.contains(crate::sources::ssl_mode::SslMode::ALLOWED));
    assert!(!found[0].message.contains("everything"));
    assert!(found[1].message.contains("PEM"));
}

#[test]
fn connection_strings_are_parsed() {
    let cs = auth(&catalog(), POSTGRES_SPEC_ID, CONNECTION_STRING_AUTH);
    let found = violations(
        &cs,
        json!({"connectionString": "Server=db;Database=shop;Prot=5432;UID=u;Password=hunter2"}),
    );
    assert_eq!(paths(&found), ["/auth/params/connectionString"]);
    assert!(found[0].message.contains("`Prot`") && !found[0].message.contains("hunter2"));
    let found = violations(&cs, json!({"connectionString": 42, "extra": 1}));
    assert_eq!(paths(&found), ["/auth/params/connectionString", "/auth/params/extra"]);
    assert_eq!(found[0].message, "must be a string");
    let found = violations(&cs, json!({}));
    assert_eq!(found, [Violation::new("/auth/params/connectionString", "is required")]);
}

#[test]
fn messages_never_contain_given_values() {
    let secret = "hunter2-S3CRET";
    let params = json!({"server": secret, "port": secret, "database": [secret], "username": {"x": secret},
                        "password": 7, "sslMode": secret, "sslRootCert": secret, "x": secret});
    for violation in violations(&pg_basic(), params) {
        assert!(!violation.message.contains("hunter2"), "{violation}");
    }
    let cs = auth(&catalog(), POSTGRES_SPEC_ID, CONNECTION_STRING_AUTH);
    for text in [secret, "Server=db;Password=hunter2;Port=hunter2", "Server={hunter2"] {
        for violation in violations(&cs, json!({"connectionString": text})) {
            assert!(!violation.message.contains("hunter2"), "{violation}");
        }
    }
}

#[test]
fn defaults_fill_only_absent_properties() {
    let catalog = catalog();
    let redshift = auth(&catalog, REDSHIFT_SPEC_ID, BASIC_AUTH);
    let filled = redshift.with_defaults(&json!({"server": "r", "sslMode": "Require"}));
    assert_eq!(filled, json!({"server": "r", "port": 5439, "sslMode": "Require"}));
    let filled = pg_basic().with_defaults(&json!({"port": "6432"}));
    assert_eq!(filled, json!({"port": "6432", "sslMode": "Prefer"}));
    let filled = redshift.with_defaults(&json!({}));
    assert_eq!(filled["sslMode"], "Verify-Full");
    assert_eq!(redshift.with_defaults(&json!(null)), json!(null));
    let cs = auth(&catalog, POSTGRES_SPEC_ID, CONNECTION_STRING_AUTH);
    assert_eq!(
        cs.with_defaults(&json!({"connectionString": "x"})),
        json!({"connectionString": "x"})
    );
}

#[test]
fn catalog_can_be_shared_across_threads() {
    fn shared<T: Send + Sync + Clone + 'static>() {}
    shared::<SpecCatalog>();
}

#[test]
fn auth_spec_debug_is_short() {
    let debug = format!("{:?}", pg_basic());
    assert!(
        debug.starts_with("AuthSpec { name: \"Basic Authentication\""),
        "{debug}"
    );
}
