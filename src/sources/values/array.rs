//! PostgreSQL's array literal (`{1,NULL,"a,b","q\"x"}`, nested `{{1,2},{3,4}}`) as JSON
//! arrays, each element converted by the element type.
//!
//! Non-default lower bounds (`[0:1]={1,2}`) are dropped: JSON arrays start at index 0
//! whatever the source's first subscript was. Only `,`-delimited arrays reach this parser:
//! describe shows arrays of the few types with another delimiter (`box`) as text.

use super::ValueError;
use crate::sources::types::InletType;
use serde_json::Value;

/// One parsed piece of an array literal.
#[derive(Debug, PartialEq)]
enum Node {
    Null,
    Text(String),
    List(Vec<Node>),
}

/// Converts an array literal whose innermost elements are of type `element`.
pub(super) fn to_json(text: &str, element: &InletType) -> Result<Value, ValueError> {
    let node = parse(text).ok_or_else(|| ValueError::new("an array literal", text))?;
    convert(node, element)
}

/// The elements of a one-dimensional array literal, `None` for NULL; `Err(Some(n))` for
/// an array of `n` > 1 dimensions, `Err(None)` for text that is not an array literal.
pub(crate) fn flat_elements(text: &str) -> Result<Vec<Option<String>>, Option<usize>> {
    let Node::List(items) = parse(text).ok_or(None)? else {
        return Err(None);
    };
    let depth = |node: &Node| {
        let mut depth = 0;
        let mut at = node;
        while let Node::List(items) = at {
            depth += 1;
            match items.first() {
                Some(first) => at = first,
                None => break,
            }
        }
        depth
    };
    items
        .into_iter()
        .map(|item| match item {
            Node::Null => Ok(None),
            Node::Text(text) => Ok(Some(text)),
            list @ Node::List(_) => Err(Some(1 + depth(&list))),
        })
        .collect()
}

fn convert(node: Node, element: &InletType) -> Result<Value, ValueError> {
    match node {
        Node::Null => Ok(Value::Null),
        Node::Text(text) => super::to_json(Some(&text), element),
        Node::List(items) => items.into_iter().map(|item| convert(item, element)).collect(),
    }
}

fn parse(text: &str) -> Option<Node> {
    let body = match text.strip_prefix('[') {
        // The dimension decoration holds only digits, `:`, `[`, `]` and a final `=`.
        Some(_) => &text[text.find('=')? + 1..],
        None => text,
    };
    let mut parser = Parser {
        chars: body.chars().collect(),
        at: 0,
    };
    parser.skip_space();
    if parser.next()? != '{' {
        return None;
    }
    let node = parser.list()?;
    parser.skip_space();
    (parser.at == parser.chars.len()).then_some(node)
}

struct Parser {
    chars: Vec<char>,
    at: usize,
}

impl Parser {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.at).copied()
    }

    fn next(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.at += 1;
        Some(c)
    }

    fn skip_space(&mut self) {
        while self.peek().is_some_and(char::is_whitespace) {
            self.at += 1;
        }
    }

    /// The rest of a list whose `{` was just read.
    fn list(&mut self) -> Option<Node> {
        let mut items = Vec::new();
        self.skip_space();
        if self.peek() == Some('}') {
            self.at += 1;
            return Some(Node::List(items));
        }
        loop {
            items.push(self.item()?);
            self.skip_space();
            match self.next()? {
                ',' => continue,
                '}' => return Some(Node::List(items)),
                _ => return None,
            }
        }
    }

    fn item(&mut self) -> Option<Node> {
        self.skip_space();
        match self.peek()? {
            '{' => {
                self.at += 1;
                self.list()
            }
            '"' => {
                self.at += 1;
                self.quoted().map(Node::Text)
            }
            _ => self.unquoted(),
        }
    }

    /// The rest of a quoted element: `\` escapes the next character.
    fn quoted(&mut self) -> Option<String> {
        let mut text = String::new();
        loop {
            match self.next()? {
                '"' => return Some(text),
                '\\' => text.push(self.next()?),
                c => text.push(c),
            }
        }
    }

    /// An unquoted element up to `,` or `}`; a bare `NULL` (any case) is SQL NULL.
    fn unquoted(&mut self) -> Option<Node> {
        let (mut text, mut escaped) = (String::new(), false);
        let mut kept = 0; // length without trailing unescaped white space
        while let Some(c) = self.peek() {
            match c {
                ',' | '}' => break,
                '{' | '"' => return None,
                '\\' => {
                    self.at += 1;
                    text.push(self.next()?);
                    escaped = true;
                    kept = text.len();
                    continue;
                }
                _ => text.push(c),
            }
            self.at += 1;
            if !c.is_whitespace() {
                kept = text.len();
            }
        }
        text.truncate(kept);
        match text.as_str() {
            "" => None,
            null if !escaped && null.eq_ignore_ascii_case("NULL") => Some(Node::Null),
            _ => Some(Node::Text(text)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ok(text: &str, element: InletType) -> Value {
        to_json(text, &element).unwrap()
    }

    #[test]
    fn flat_arrays_with_nulls_and_quotes() {
        assert_eq!(ok("{1,NULL,3}", InletType::Integer), json!([1, null, 3]));
        assert_eq!(ok("{}", InletType::Integer), json!([]));
        let texts = r#"{"a,b","q\"x",NULL,"NULL","",plain,"back\\slash"," sp "}"#;
        let expected = json!(["a,b", "q\"x", null, "NULL", "", "plain", "back\\slash", " sp "]);
        assert_eq!(ok(texts, InletType::String), expected);
        assert_eq!(ok("{null,Null}", InletType::String), json!([null, null]));
        assert_eq!(ok(r"{\NULL}", InletType::String), json!(["NULL"]));
    }

    #[test]
    fn elements_convert_by_their_type() {
        assert_eq!(ok("{t,f,NULL}", InletType::Boolean), json!([true, false, null]));
        assert_eq!(
            ok("{1.5,NaN,-Infinity}", InletType::Double),
            json!([1.5, "NaN", "-Infinity"])
        );
        assert_eq!(
            ok("{2024-05-01,\"0044-03-15 BC\"}", InletType::Date),
            json!(["2024-05-01", "-0043-03-15"])
        );
        let tz = InletType::Timestamp { with_zone: true };
        assert_eq!(ok(r#"{"2024-05-01 10:00:00+00"}"#, tz), json!(["2024-05-01T10:00:00Z"]));
        assert_eq!(ok(r#"{"\\x0102"}"#, InletType::Binary), json!(["AQI="]));
        let decimal = InletType::Decimal {
            precision: None,
            scale: None,
        };
        assert_eq!(ok("{1.10,NaN}", decimal), json!(["1.10", "NaN"]));
    }

    #[test]
    fn nested_and_decorated_arrays() {
        assert_eq!(ok("{{1,2},{3,4}}", InletType::Integer), json!([[1, 2], [3, 4]]));
        assert_eq!(ok("{{{1}},{{NULL}}}", InletType::Integer), json!([[[1]], [[null]]]));
        assert_eq!(ok("[0:1]={7,8}", InletType::Integer), json!([7, 8]));
        assert_eq!(ok("[0:0][1:2]={{7,8}}", InletType::Integer), json!([[7, 8]]));
        // An array of a domain over int[]: each element is itself an array literal.
        let nested = InletType::Array(Box::new(InletType::Integer));
        assert_eq!(ok(r#"{"{1,2}",NULL,"{}"}"#, nested), json!([[1, 2], null, []]));
        assert_eq!(ok(" { 1 , 2 } ", InletType::Integer), json!([1, 2]));
    }

    #[test]
    fn flat_elements_are_texts_or_nulls() {
        let texts = |items: &[Option<&str>]| items.iter().map(|i| i.map(str::to_string)).collect::<Vec<_>>();
        assert_eq!(
            flat_elements(r#"{::1,NULL,"a,b"}"#),
            Ok(texts(&[Some("::1"), None, Some("a,b")]))
        );
        assert_eq!(flat_elements("{}"), Ok(vec![]));
        assert_eq!(flat_elements("[0:1]={7,8}"), Ok(texts(&[Some("7"), Some("8")])));
        assert_eq!(flat_elements("{{1,2},{3,4}}"), Err(Some(2)));
        assert_eq!(flat_elements("{{{1}}}"), Err(Some(3)));
        assert_eq!(flat_elements("{1"), Err(None));
    }

    #[test]
    fn malformed_literals_are_errors() {
        for bad in [
            "", "1,2", "{1,2", "{1,,2}", "{1,2}x", "{\"a}", "{a\"b}", "[0:1]{1}", "{,}", "{1}}",
        ] {
            assert!(to_json(bad, &InletType::String).is_err(), "{bad}");
        }
        assert!(to_json("{1,x}", &InletType::Integer).is_err());
    }
}
