//! Property tests (fuzzing target) of JSON Patch application to connections, and of the
//! rule that a stored password never moves to another destination unless given again.

use super::destination::check_redirect;
use super::*;
use crate::proptest_config::config;
use crate::specs::{BASIC_AUTH, POSTGRES_SPEC_ID, SourceKind};
use proptest::prelude::*;

fn stored() -> ConnectionInput {
    ConnectionInput {
        name: "c".into(),
        description: String::new(),
        spec_id: POSTGRES_SPEC_ID.into(),
        spec_version: "1.0".into(),
        auth_spec: BASIC_AUTH.into(),
        params: json!({"server": "db", "port": 5432, "database": "d", "username": "u",
                       "password": "hunter2", "sslMode": "Prefer"}),
    }
}

fn masked() -> Value {
    let mut params = stored().params;
    params["password"] = json!(MASK);
    params
}

fn value() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(json!(MASK)),
        Just(Value::Null),
        any::<i64>().prop_map(Value::from),
        "[a-zA-Z0-9 -]{0,12}".prop_map(Value::from),
        prop::sample::select(vec!["Disable", "Require", "verify-full", "5432", "6000", "DB", "evil"])
            .prop_map(Value::from),
        prop::collection::btree_map(
            prop::sample::select(vec!["server", "port", "database", "username", "password", "sslMode"]),
            prop_oneof![Just(json!(MASK)), "[a-z0-9]{1,6}".prop_map(Value::from)],
            0..6
        )
        .prop_map(|m| json!(m)),
    ]
}

fn path() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "/name",
            "/description",
            "/auth/params",
            "/auth/params/server",
            "/auth/params/port",
            "/auth/params/database",
            "/auth/params/username",
            "/auth/params/password",
            "/auth/params/sslMode",
            "/auth/specName",
            "/connectionSpec/id",
            "/auth/params/a/b",
            "",
            "/",
        ])
        .prop_map(str::to_string),
        "(/[a-zA-Z~0-9]{0,6}){0,4}",
    ]
}

fn op() -> impl Strategy<Value = Value> {
    let name = prop::sample::select(vec!["add", "replace", "remove", "REPLACE", "move", "copy", "test", "x"]);
    (name, path(), prop::option::of(value()), prop::option::of(path())).prop_map(|(op, path, value, from)| {
        let mut op = json!({"op": op, "path": path});
        if let Some(value) = value {
            op["value"] = value;
        }
        if let Some(from) = from {
            op["from"] = json!(from);
        }
        op
    })
}

fn ops() -> impl Strategy<Value = Value> {
    prop_oneof![prop::collection::vec(op(), 0..6).prop_map(Value::from), value(),]
}

proptest! {
    #![proptest_config(config())]

    /// Any body is applied or refused; what is applied never changes the spec.
    #[test]
    fn any_patch_applies_or_is_refused(ops in ops()) {
        if let Ok(patched) = apply_patch(&stored(), &masked(), &ops) {
            prop_assert_eq!(&patched.input.spec_id, POSTGRES_SPEC_ID);
            prop_assert_eq!(&patched.input.auth_spec, BASIC_AUTH);
            for field in &patched.kept {
                prop_assert_eq!(&patched.input.params[field.as_str()], &stored().params[field.as_str()]);
            }
        }
    }

    /// A patch that keeps the stored password is accepted only when it sends it to the
    /// same server, port, database and user, with the same TLS settings.
    #[test]
    fn a_kept_password_never_moves(ops in ops()) {
        let Ok(patched) = apply_patch(&stored(), &masked(), &ops) else { return Ok(()) };
        let Ok(new) = SourceConfig::from_auth(SourceKind::Postgres, BASIC_AUTH, &patched.input.params) else {
            return Ok(());
        };
        let old = SourceConfig::from_auth(SourceKind::Postgres, BASIC_AUTH, &stored().params).unwrap();
        let kept_password = patched.kept.iter().any(|f| f == "password");
        if kept_password && check_redirect(Some(&old), &new, &patched.kept).is_ok() {
            prop_assert!(new.host.eq_ignore_ascii_case(&old.host));
            prop_assert_eq!((new.port, &new.database, &new.user), (old.port, &old.database, &old.user));
            prop_assert_eq!((new.ssl_mode, &new.root_cert), (old.ssl_mode, &old.root_cert));
        }
        if new.password.expose() == "hunter2" && !kept_password {
            // Only a caller who typed the password in can have it here.
            prop_assert!(ops.to_string().contains("hunter2"));
        }
    }
}
