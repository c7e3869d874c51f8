//! `TableRef`: a table named by the API's `object` or `tableName`, as `schema.table`
//! with optional double-quoted identifiers (`"My Schema"."Order Lines"`).

use std::fmt;

/// A schema-qualified table name, parsed; quoted for SQL only by [`TableRef::quoted`].
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct TableRef {
    pub schema: String,
    pub table: String,
}

/// Why a table name could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "`{input}` is not a table name: {reason}; write schema.table, with \"double quotes\" around names that need them"
)]
pub struct TableRefError {
    input: String,
    reason: &'static str,
}

impl TableRef {
    /// Parses `schema.table` (or `table`, meaning `default_schema`). Unquoted names are
    /// folded to lower case, as PostgreSQL does; quoted names are kept exactly, with `""`
    /// standing for one `"`.
    pub fn parse(input: &str, default_schema: &str) -> Result<TableRef, TableRefError> {
        let error = |reason| TableRefError {
            input: input.chars().take(200).collect(),
            reason,
        };
        let mut parts = Vec::new();
        let mut rest = input.trim();
        loop {
            let (part, after) = identifier(rest).map_err(error)?;
            parts.push(part);
            match after.strip_prefix('.') {
                Some(next) => rest = next,
                None if after.is_empty() => break,
                None => return Err(error("unexpected text after a name")),
            }
        }
        match parts.len() {
            1 => Ok(TableRef {
                schema: default_schema.to_string(),
                table: parts.remove(0),
            }),
            2 => {
                let table = parts.remove(1);
                Ok(TableRef {
                    schema: parts.remove(0),
                    table,
                })
            }
            _ => Err(error("too many dots")),
        }
    }

    /// True when both names are at most `max_bytes` long (PostgreSQL's identifiers hold
    /// 63 bytes, Redshift's 127): a longer name cannot name a table there.
    pub fn fits(&self, max_bytes: usize) -> bool {
        self.schema.len() <= max_bytes && self.table.len() <= max_bytes
    }

    /// `"schema"."table"`, safe to put into SQL text.
    pub fn quoted(&self) -> String {
        format!("{}.{}", quote_ident(&self.schema), quote_ident(&self.table))
    }
}

impl fmt::Display for TableRef {
    /// The name as users write it: `schema.table`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.schema, self.table)
    }
}

/// One identifier at the start of `text`, and what follows it.
fn identifier(text: &str) -> Result<(String, &str), &'static str> {
    if let Some(quoted) = text.strip_prefix('"') {
        let mut name = String::new();
        let mut chars = quoted.char_indices();
        while let Some((at, c)) = chars.next() {
            if c != '"' {
                name.push(c);
            } else if quoted[at + 1..].starts_with('"') {
                name.push('"');
                chars.next();
            } else if name.is_empty() {
                return Err("a quoted name is empty");
            } else {
                return Ok((name, &quoted[at + 1..]));
            }
        }
        return Err("a quoted name is not closed");
    }
    let end = text.find('.').unwrap_or(text.len());
    let name = &text[..end];
    let valid_start = name.starts_with(|c: char| c.is_alphabetic() || c == '_');
    if !valid_start || !name.chars().all(|c| c.is_alphanumeric() || c == '_' || c == '$') {
        return Err("an unquoted name may hold only letters, digits, _ and $, and must not start with a digit");
    }
    Ok((name.to_lowercase(), &text[end..]))
}

/// Quotes an identifier for SQL: `"` doubled, the whole wrapped in `"`.
pub fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// Quotes a string literal for SQL: `'` doubled, the whole wrapped in `'`. Used only
/// where a statement cannot take parameters (the simple query protocol).
pub fn quote_literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

#[cfg(test)]
mod proptests;

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<TableRef, TableRefError> {
        TableRef::parse(text, "public")
    }

    #[test]
    fn plain_and_quoted_names() {
        assert_eq!(
            parse("public.orders").unwrap(),
            TableRef {
                schema: "public".into(),
                table: "orders".into()
            }
        );
        assert_eq!(
            parse("Orders").unwrap(),
            TableRef {
                schema: "public".into(),
                table: "orders".into()
            }
        );
        let quoted = parse(r#""My Schema"."Order Lines""#).unwrap();
        assert_eq!(
            (quoted.schema.as_str(), quoted.table.as_str()),
            ("My Schema", "Order Lines")
        );
        assert_eq!(quoted.quoted(), r#""My Schema"."Order Lines""#);
        let dotted = parse(r#"s."a.b""c""#).unwrap();
        assert_eq!(dotted.table, r#"a.b"c"#);
        assert_eq!(dotted.quoted(), r#""s"."a.b""c""#);
    }

    #[test]
    fn names_carrying_sql_are_refused() {
        for bad in [
            "public.t; DROP TABLE x",
            "a.b.c",
            "",
            "\"unclosed",
            "1abc",
            "s.",
            "\"\".t",
            "t--",
        ] {
            assert!(parse(bad).is_err(), "{bad} was accepted");
        }
        let error = parse("public.t; DROP TABLE x").unwrap_err().to_string();
        assert!(error.contains("schema.table"), "{error}");
    }

    #[test]
    fn names_fit_a_byte_bound() {
        let long = "é".repeat(32);
        assert!(parse(&format!("s.{}", "t".repeat(63))).unwrap().fits(63));
        assert!(!parse(&format!("s.{}", "t".repeat(64))).unwrap().fits(63));
        assert!(!parse(&format!("\"{long}\".t")).unwrap().fits(63));
    }

    #[test]
    fn literals_and_identifiers_are_escaped() {
        assert_eq!(quote_literal("it's"), "'it''s'");
        assert_eq!(quote_ident("a\"b"), "\"a\"\"b\"");
    }
}
