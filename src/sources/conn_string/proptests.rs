//! Property tests (fuzzing target) of the connection-string parser.

use super::*;
use crate::proptest_config::config;
use proptest::prelude::*;

/// A value in braces, with `}` doubled: any text survives.
fn braced(text: &str) -> String {
    format!("{{{}}}", text.replace('}', "}}"))
}

fn host() -> impl Strategy<Value = String> {
    "[a-z][a-z0-9-]{0,20}(\\.[a-z][a-z0-9]{0,10}){0,3}"
}

/// Key spellings the grammar treats as the same.
fn spelling(names: &'static [&'static str]) -> impl Strategy<Value = String> {
    (prop::sample::select(names), any::<bool>(), "[ ]{0,2}").prop_map(|(name, upper, pad)| {
        let name = if upper {
            name.to_uppercase()
        } else {
            name.to_lowercase()
        };
        format!("{pad}{name}{pad}")
    })
}

proptest! {
    #![proptest_config(config())]

    /// Whatever the input, the parser answers (no panic), and within the length bound.
    #[test]
    fn any_text_parses_or_is_refused(text in any::<String>()) {
        let _ = ConnectionString::parse(&text);
    }

    /// Text made of the grammar's own characters reaches deeper paths.
    #[test]
    fn grammar_soup_parses_or_is_refused(text in "([A-Za-z ]{0,12}=?[{};=:\\[\\]a-z0-9. ]{0,12};?){0,8}") {
        let _ = ConnectionString::parse(&text);
    }

    /// Every field survives its own encoding, in any order and any key spelling.
    #[test]
    fn fields_round_trip(
        server in host(),
        port in 1u16..,
        database in "[^\\x00]{1,40}",
        user in "[a-zA-Z0-9_]{1,20}",
        password in "[^\\x00]{0,60}",
        order in Just((0..5).collect::<Vec<usize>>()).prop_shuffle(),
        server_key in spelling(&["Server"]),
        user_key in spelling(&["UID", "User ID", "User", "Username"]),
        password_key in spelling(&["Password", "PWD"]),
    ) {
        let parts = [
            format!("{server_key}={server}"),
            format!("Port={port}"),
            format!("Database={}", braced(&database)),
            format!("{user_key}={user}"),
            format!("{password_key}={}", braced(&password)),
        ];
        let text: Vec<&str> = order.iter().map(|&i| parts[i].as_str()).collect();
        let parsed = ConnectionString::parse(&text.join(";")).unwrap();
        prop_assert_eq!(parsed.server, server);
        prop_assert_eq!(parsed.port, port);
        prop_assert_eq!(parsed.database, database);
        prop_assert_eq!(parsed.user, user);
        prop_assert_eq!(parsed.password.expose(), password.as_str());
    }

    /// An error never shows the password, however the rest of the string is broken.
    #[test]
    fn errors_never_show_the_password(
        password in "[A-Za-z0-9!@#$%^&*()_+=;{}]{8,40}",
        noise in "[A-Za-z0-9=;{} ]{0,30}",
        braces in any::<bool>(),
    ) {
        let value = if braces { braced(&password) } else { password.clone() };
        let text = format!("Server=db;Database=d;UID=u;Password={value};{noise}");
        if let Err(error) = ConnectionString::parse(&text) {
            let message = error.to_string();
            prop_assert!(!message.contains(&password), "{}", message);
        }
    }
}
