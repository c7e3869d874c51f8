//! Bounds on every request body and every patched document (checked by the API layer), so that what Inlet stores can
//! always be read back, listed, patched and deleted, and no request costs more than its
//! size: nesting depth, string length, and the size of lists and objects. Names and
//! descriptions have tighter bounds of their own ([`MAX_NAME`], [`MAX_DESCRIPTION`]).
//! docs/api.md ("Bounds") lists them.

use serde_json::Value;

use crate::specs::Violation;

/// Deepest nesting of lists and objects (the body itself is level 1).
pub const MAX_DEPTH: usize = 32;
/// Longest string value or object key, in bytes (a PEM bundle fits).
pub const MAX_STRING_BYTES: usize = 65_536;
/// Most elements of a list, or keys of an object.
pub const MAX_ITEMS: usize = 1_000;
/// Longest `name` (and sandbox `title`), in characters.
pub const MAX_NAME: usize = 256;
/// Longest `description`, in characters.
pub const MAX_DESCRIPTION: usize = 4_096;
/// Violations named in one answer; the rest are counted.
const MAX_REPORTED: usize = 20;

/// Every place where `value` breaks a bound, by JSON pointer (at most a few are named).
pub fn check(value: &Value) -> Result<(), Vec<Violation>> {
    let mut found = Vec::new();
    let mut total = 0usize;
    let mut stack = vec![(value, String::new(), 1usize)];
    while let Some((value, path, depth)) = stack.pop() {
        let mut report = |message: String| {
            total += 1;
            if found.len() < MAX_REPORTED {
                found.push(Violation::new(if path.is_empty() { "/" } else { &path }, message));
            }
        };
        match value {
            Value::String(text) if text.len() > MAX_STRING_BYTES => report(format!(
                "is {} bytes long; at most {MAX_STRING_BYTES} are allowed",
                text.len()
            )),
            Value::Array(_) | Value::Object(_) if depth > MAX_DEPTH => report(format!(
                "is nested {depth} levels deep; at most {MAX_DEPTH} are allowed"
            )),
            Value::Array(items) => {
                if items.len() > MAX_ITEMS {
                    report(format!("has {} elements; at most {MAX_ITEMS} are allowed", items.len()));
                }
                for (index, item) in items.iter().enumerate().take(MAX_ITEMS) {
                    stack.push((item, format!("{path}/{index}"), depth + 1));
                }
            }
            Value::Object(fields) => {
                if fields.len() > MAX_ITEMS {
                    report(format!("has {} keys; at most {MAX_ITEMS} are allowed", fields.len()));
                }
                for (key, item) in fields.iter().take(MAX_ITEMS) {
                    let child = format!("{path}/{}", escape(key));
                    if key.len() > MAX_STRING_BYTES {
                        total += 1;
                        if found.len() < MAX_REPORTED {
                            found.push(Violation::new(
                                &path,
                                format!(
                                    "has a key of {} bytes; at most {MAX_STRING_BYTES} are allowed",
                                    key.len()
                                ),
                            ));
                        }
                        continue;
                    }
                    stack.push((item, child, depth + 1));
                }
            }
            _ => {}
        }
    }
    if total > found.len() {
        found.push(Violation::new(
            "/",
            format!("{} more values break a bound", total - found.len()),
        ));
    }
    if found.is_empty() {
        Ok(())
    } else {
        found.sort_by(|a, b| a.path.cmp(&b.path));
        Err(found)
    }
}

/// A key as a JSON pointer segment.
fn escape(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

/// A violation when `text` (at `path`) has more than `max` characters.
pub fn too_long(path: &str, text: &str, max: usize) -> Option<Violation> {
    let length = text.chars().count();
    (length > max).then(|| Violation::new(path, format!("has {length} characters; at most {max} are allowed")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn nested(depth: usize) -> Value {
        (1..depth).fold(json!({}), |inner, _| json!({ "a": inner }))
    }

    #[test]
    fn depth_is_bounded_and_named_by_path() {
        assert!(check(&nested(MAX_DEPTH)).is_ok());
        let violations = check(&nested(MAX_DEPTH + 1)).unwrap_err();
        assert_eq!(violations.len(), 1);
        assert_eq!(violations[0].path, format!("/{}", vec!["a"; MAX_DEPTH].join("/")));
        assert!(
            violations[0].message.contains("at most 32"),
            "{}",
            violations[0].message
        );
        assert!(check(&nested(120)).is_err(), "the depth the issue found is refused");
    }

    #[test]
    fn strings_lists_and_objects_are_bounded() {
        assert!(check(&json!({"pem": "x".repeat(MAX_STRING_BYTES)})).is_ok());
        let long = check(&json!({"a": {"b/c": "x".repeat(MAX_STRING_BYTES + 1)}})).unwrap_err();
        assert_eq!(long[0].path, "/a/b~1c");
        let list = check(&json!({"l": vec![1; MAX_ITEMS + 1]})).unwrap_err();
        assert_eq!(list[0].path, "/l");
        let many: serde_json::Map<String, Value> = (0..=MAX_ITEMS).map(|i| (i.to_string(), json!(i))).collect();
        assert_eq!(check(&Value::Object(many)).unwrap_err()[0].path, "/");
        let noisy: Vec<Value> = (0..50).map(|_| json!("x".repeat(MAX_STRING_BYTES + 1))).collect();
        let reported = check(&json!(noisy)).unwrap_err();
        assert_eq!(reported.len(), MAX_REPORTED + 1, "a bounded answer");
        assert!(
            too_long("/name", &"é".repeat(MAX_NAME), MAX_NAME).is_none(),
            "characters, not bytes"
        );
        assert!(too_long("/name", &"x".repeat(MAX_NAME + 1), MAX_NAME).is_some());
    }
}
