use super::*;

fn parse(text: &str) -> ConnectionString {
    ConnectionString::parse(text).unwrap()
}

fn error(text: &str) -> ConnStringError {
    ConnectionString::parse(text).unwrap_err()
}

#[test]
fn platform_example() {
    let c = parse("Server=db;Database=shop;Port=5432;UID=u;Password=p");
    assert_eq!((c.server.as_str(), c.port, c.database.as_str()), ("db", 5432, "shop"));
    assert_eq!((c.user.as_str(), c.password.expose()), ("u", "p"));
    assert_eq!(c.encryption, EncryptionMethod::None);
    assert!(c.validate_server_certificate);
    assert_eq!(c.ssl_mode(), SslMode::Disable);
    assert_eq!((c.trust_store, c.host_name_in_certificate), (None, None));
}

#[test]
fn platform_example_with_tls() {
    let text = "Server=db;Database=shop;Port=5432;UID=u;Password=p;\
                EncryptionMethod=1;ValidateServerCertificate=1";
    let c = parse(text);
    assert_eq!(c.encryption, EncryptionMethod::Tls);
    assert_eq!(c.ssl_mode(), SslMode::VerifyFull);
    let c = parse(&text.replace("Certificate=1", "Certificate=0"));
    assert_eq!(c.ssl_mode(), SslMode::Require);
    let c = parse(&text.replace("Method=1", "Method=6"));
    assert_eq!(c.ssl_mode(), SslMode::Prefer);
}

#[test]
fn keys_are_case_insensitive_trimmed_aliased_and_free_in_order() {
    let c = parse(" pwd = p ; user id=u;DATABASE=shop; server = db ;");
    assert_eq!((c.server.as_str(), c.user.as_str()), ("db", "u"));
    assert_eq!((c.password.expose(), c.port), ("p", DEFAULT_PORT));
    for alias in ["UID", "User ID", "user", "USERNAME", "User   ID"] {
        let c = parse(&format!("Server=db;Database=d;{alias}=me;Password=p"));
        assert_eq!(c.user, "me", "{alias}");
    }
}

#[test]
fn braced_values_keep_semicolons_braces_and_spaces() {
    let c = parse("Server=db;Database=d;UID=u;Password={pa;ss}");
    assert_eq!(c.password.expose(), "pa;ss");
    let c = parse("Server=db;Database=d;UID=u;Password= { a}}=b; } ;Port=1");
    assert_eq!((c.password.expose(), c.port), (" a}=b; ", 1));
    let c = parse("Server=db;Database={my;db};UID=u;Password={}");
    assert_eq!((c.database.as_str(), c.password.expose()), ("my;db", ""));
}

#[test]
fn extensions() {
    let c = parse(
        "Server=db;Database=d;UID=u;Password=p;TrustStore={-----BEGIN CERTIFICATE-----\n\
         MII;\n-----END CERTIFICATE-----};HostNameInCertificate=db.internal",
    );
    assert!(c.trust_store.unwrap().starts_with("-----BEGIN"));
    assert_eq!(c.host_name_in_certificate.as_deref(), Some("db.internal"));
}

#[test]
fn servers_with_ports_and_ipv6() {
    let base = ";Database=d;UID=u;Password=p";
    let server = |s: &str| {
        let c = parse(&format!("Server={s}{base}"));
        (c.server, c.port)
    };
    assert_eq!(server("10.0.0.5"), ("10.0.0.5".into(), 5432));
    assert_eq!(server("db.example.com:5433"), ("db.example.com".into(), 5433));
    assert_eq!(server("[::1]"), ("::1".into(), 5432));
    assert_eq!(server("[fe80::1]:6000"), ("fe80::1".into(), 6000));
    assert_eq!(server("2001:db8::7"), ("2001:db8::7".into(), 5432));
    let c = parse(&format!("Server=db:5433;Port=5433{base}"));
    assert_eq!(c.port, 5433);
    assert_eq!(
        error(&format!("Server=db:5433;Port=5432{base}")),
        ConnStringError::ConflictingPort
    );
    for bad in ["[::1", "[db]", "db:", "a b", "db:1:2x", "[::1]x", "db/x"] {
        let e = error(&format!("Server={bad}{base}"));
        assert_eq!(e.key(), Some(if bad == "db:" { "Port" } else { "Server" }), "{bad}");
    }
}

#[test]
fn unknown_key_is_named_with_the_allowed_ones() {
    let e = error("Server=db;Database=d;Prot=5432;UID=u;Password=p");
    assert_eq!(e.key(), Some("Prot"));
    let text = e.to_string();
    assert!(text.contains("`Prot`") && text.contains(ALLOWED_KEYS), "{text}");
    assert!(!text.contains("5432"), "{text}");
}

#[test]
fn errors_never_contain_values() {
    let cases = [
        "Server=db;Database=d;UID=u;Password=hunter2;Port=hunter2",
        "Server=db;Database=d;UID=u;Password=hunter2;EncryptionMethod=hunter2",
        "Server=db;Database=d;UID=u;Password=hunter2;ValidateServerCertificate=hunter2",
        "Server=db;Database=d;UID=u;Password=hun;ter2=x",
        "Server=db;Database=d;UID=u;Password=hun;ter2",
        "Server=db;Database=d;UID=u;Password={hunter2",
        "Server=db;Database=d;UID=u;Password={hun}ter2",
        "Server=hunter2!;Database=d;UID=u;Password=p",
        "Server=db;Database=d;UID=u;Password=p;h$nter2=1",
    ];
    for text in cases {
        let message = error(text).to_string();
        assert!(!message.contains("hunter2") && !message.contains("ter2"), "{message}");
    }
}

#[test]
fn structural_errors() {
    let full = "Server=db;Database=d;UID=u;Password=p";
    assert_eq!(error(""), ConnStringError::Empty);
    assert_eq!(error(" ; ;"), ConnStringError::Empty);
    assert_eq!(error("Server=db;oops"), ConnStringError::MissingEquals { part: 2 });
    assert_eq!(error("=x"), ConnStringError::EmptyKey { part: 1 });
    assert_eq!(
        error(&format!("{full};User=v")),
        ConnStringError::DuplicateKey { key: "UID" }
    );
    assert_eq!(
        error("Server=db;Password={a}}b}};UID=u"),
        ConnStringError::UnclosedBrace { key: "Password" }
    );
    assert_eq!(
        error("Server=db;PWD={a}x;UID=u"),
        ConnStringError::TextAfterBrace { key: "Password" }
    );
}

#[test]
fn missing_or_bad_values() {
    let missing = |key: &str| match error(&format!("Server=db;Database=d;UID=u;Password=p;{key}=")) {
        ConnStringError::EmptyValue { key } | ConnStringError::InvalidValue { key, .. } => key,
        other => panic!("{other:?}"),
    };
    assert_eq!(error("Database=d;UID=u;Password=p").key(), Some("Server"));
    assert_eq!(error("Server=db;UID=u;Password=p").key(), Some("Database"));
    assert_eq!(error("Server=db;Database=d;Password=p").key(), Some("UID"));
    assert_eq!(error("Server=db;Database=d;UID=u").key(), Some("Password"));
    assert_eq!(error("Server=;Database=d;UID=u;Password=p").key(), Some("Server"));
    for port in ["0", "65536", "-1", "+5", "54 32"] {
        let e = error(&format!("Server=db;Database=d;UID=u;Password=p;Port={port}"));
        assert_eq!(e.key(), Some("Port"), "{port}");
    }
    assert_eq!(missing("Port"), "Port");
    assert_eq!(missing("EncryptionMethod"), "EncryptionMethod");
    assert_eq!(missing("ValidateServerCertificate"), "ValidateServerCertificate");
    let c = parse("Server=db;Database=d;UID=u;Password=p;TrustStore=;Port=65535");
    assert_eq!((c.trust_store, c.port), (None, 65535));
}

#[test]
fn every_value_and_the_whole_string_are_bounded() {
    let base = "Server=db;Database=d;UID=u;Password=p";
    let over = |n: usize| "x".repeat(n + 1);
    let cases = [
        (
            format!("Server={};Database=d;UID=u;Password=p", over(limits::HOST + 8)),
            "Server",
        ),
        (
            format!("Server=db;Database={};UID=u;Password=p", over(limits::NAME)),
            "Database",
        ),
        (
            format!("Server=db;Database=d;UID={};Password=p", over(limits::NAME)),
            "UID",
        ),
        (
            format!("Server=db;Database=d;UID=u;Password={{{}}}", over(limits::PASSWORD)),
            "Password",
        ),
        (format!("{base};TrustStore={}", over(limits::PATH)), "TrustStore"),
        (
            format!("{base};TrustStore={{-----BEGIN {}}}", over(limits::PEM)),
            "TrustStore",
        ),
        (
            format!("{base};HostNameInCertificate={}", over(limits::HOST)),
            "HostNameInCertificate",
        ),
        (format!("{base};Port={}", over(16)), "Port"),
    ];
    for (text, key) in cases {
        let e = error(&text);
        assert!(matches!(e, ConnStringError::TooLong { .. }), "{key}: {e:?}");
        assert_eq!(e.key(), Some(key));
        assert!(!e.to_string().contains("xxxx"), "{e}");
    }
    let password = "p".repeat(limits::PASSWORD);
    assert_eq!(
        parse(&format!("Server=db;Database=d;UID=u;Password={password}"))
            .password
            .expose(),
        password
    );
    let huge = format!("Server=db;Database=d;UID=u;Password={}", "p".repeat(1 << 20));
    assert_eq!(
        error(&huge),
        ConnStringError::StringTooLong {
            max: limits::CONNECTION_STRING
        }
    );
}

#[test]
fn debug_masks_the_password() {
    let c = parse("Server=db;Database=d;UID=u;Password=hunter2");
    let debug = format!("{c:?}");
    assert!(!debug.contains("hunter2") && debug.contains("<secret>"), "{debug}");
    assert_eq!(EncryptionMethod::TlsOptional as u8, 6);
}
