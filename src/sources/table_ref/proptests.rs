//! Property tests (fuzzing target) of `TableRef` parsing and quoting.

use super::*;
use crate::proptest_config::config;
use proptest::prelude::*;

proptest! {
    #![proptest_config(config())]

    /// Any input parses or is refused; a refusal quotes at most 200 characters of it.
    #[test]
    fn any_text_parses_or_is_refused(text in any::<String>()) {
        match TableRef::parse(&text, "public") {
            Ok(table) => prop_assert!(!table.schema.is_empty() && !table.table.is_empty()),
            Err(error) => prop_assert!(error.to_string().chars().count() < text.chars().count().min(200) + 200),
        }
    }

    /// Quoting then parsing gives back the same names, whatever they hold.
    #[test]
    fn quoted_names_round_trip(schema in "[^\\x00]{1,30}", table in "[^\\x00]{1,30}") {
        let original = TableRef { schema, table };
        prop_assert_eq!(TableRef::parse(&original.quoted(), "other").unwrap(), original);
    }

    /// What parses can be put into SQL text: its quoted form has balanced quotes, and
    /// a name never swallows the dot that separates schema and table.
    #[test]
    fn parsed_names_quote_safely(text in "[\"a-zA-Z0-9_$. ;-]{1,30}") {
        if let Ok(table) = TableRef::parse(&text, "public") {
            let quoted = table.quoted();
            prop_assert_eq!(quoted.matches('"').count() % 2, 0);
            prop_assert_eq!(TableRef::parse(&quoted, "x").unwrap(), table);
        }
    }
}
