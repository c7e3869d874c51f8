//! Lists: `limit`, `property` filters, `orderby`, `count`, and continuation tokens (§4).
//!
//! Filters address arbitrary dotted paths in the item JSON, so they run over the items
//! here rather than in SQL. Paging is keyset paging on (sort value, id): a page never
//! repeats or skips an item, even while items are added.

use std::cmp::Ordering;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::error::ApiError;

/// Largest page of a Flow Service list.
pub const MAX_LIMIT: usize = 100;
const DEFAULT_LIMIT: usize = 20;
const ORDER_FIELDS: [&str; 3] = ["name", "createdAt", "updatedAt"];

/// A parsed list request.
#[derive(Debug, Clone, PartialEq)]
pub struct ListQuery {
    limit: usize,
    filters: Vec<Filter>,
    order: Order,
    count: bool,
    /// The raw `property` and `orderby` values, carried in continuation tokens.
    state: TokenState,
}

#[derive(Debug, Clone, PartialEq)]
struct Order {
    field: String,
    descending: bool,
}

/// One `property` filter: `path==v1,v2`, `path!=v`, `path>n`, `path<n`, `path>=n`,
/// `path<=n`, `path~text`, `path` (exists) or `!path` (missing). The path is dotted and
/// walks through arrays: `relatedObjects.id==x` matches when any element's `id` is `x`.
#[derive(Debug, Clone, PartialEq)]
pub struct Filter {
    path: Vec<String>,
    op: Op,
    values: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Op {
    Exists,
    Missing,
    AnyOf,
    NotEqual,
    Greater,
    Less,
    GreaterOrEqual,
    LessOrEqual,
    Contains,
}

/// What a continuation token remembers: the query, and the last item of the page.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
struct TokenState {
    #[serde(rename = "l", default)]
    limit: Option<usize>,
    #[serde(rename = "p", default)]
    properties: Vec<String>,
    #[serde(rename = "o", default)]
    orderby: Option<String>,
    #[serde(rename = "k", default)]
    last_key: Option<Value>,
    #[serde(rename = "i", default)]
    last_id: Option<String>,
}

impl ListQuery {
    /// Parses the query string. Parameters sent with a continuation token override the
    /// ones it carries; unknown parameters are ignored.
    pub fn parse(raw: Option<&str>) -> Result<ListQuery, ApiError> {
        let pairs: Vec<(String, String)> = url::form_urlencoded::parse(raw.unwrap_or_default().as_bytes())
            .into_owned()
            .collect();
        let get = |name: &str| pairs.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
        let mut state = match get("continuationToken") {
            Some(token) => decode_token(&token)?,
            None => TokenState::default(),
        };
        let properties: Vec<String> = pairs
            .iter()
            .filter(|(k, _)| k == "property")
            .map(|(_, v)| v.clone())
            .collect();
        if !properties.is_empty() {
            state.properties = properties;
        }
        if let Some(orderby) = get("orderby") {
            state.orderby = Some(orderby);
        }
        let count = match get("count").as_deref() {
            None | Some("false") => false,
            Some("true") => true,
            Some(_) => return Err(ApiError::bad_request("1402", "`count` must be true or false")),
        };
        if let Some(limit) = get("limit") {
            if count {
                return Err(ApiError::bad_request(
                    "1401",
                    "`count=true` cannot be combined with `limit`",
                ));
            }
            state.limit = Some(parse_limit(&limit)?);
        }
        Ok(ListQuery {
            limit: state.limit.unwrap_or(DEFAULT_LIMIT),
            filters: state
                .properties
                .iter()
                .map(|p| parse_filter(p))
                .collect::<Result<_, _>>()?,
            order: parse_order(state.orderby.as_deref())?,
            count,
            state,
        })
    }

    /// The answer for `items` (each with an `id`): `{"count": n}`, or one page with a
    /// `_links.next.href` under `base_path` when more items follow.
    pub fn answer(&self, items: Vec<Value>, base_path: &str) -> Value {
        let mut items: Vec<Value> = items
            .into_iter()
            .filter(|item| self.filters.iter().all(|f| f.matches(item)))
            .collect();
        if self.count {
            return json!({ "count": items.len() });
        }
        items.sort_by(|a, b| self.compare(a, b));
        let start = match (&self.state.last_key, &self.state.last_id) {
            (Some(key), Some(id)) => {
                items.partition_point(|item| self.compare_to_cursor(item, key, id) != Ordering::Greater)
            }
            _ => 0,
        };
        let rest = items.len() - start;
        let page: Vec<Value> = items.into_iter().skip(start).take(self.limit).collect();
        let links = match page.last() {
            Some(last) if rest > self.limit => {
                let mut next = self.state.clone();
                next.last_key = Some(sort_key(last, &self.order.field).clone());
                next.last_id = Some(id_of(last).to_string());
                json!({"next": {"href": format!("{base_path}?continuationToken={}", encode_token(&next))}})
            }
            _ => json!({}),
        };
        json!({ "items": page, "_links": links })
    }

    fn compare(&self, a: &Value, b: &Value) -> Ordering {
        let by_key = compare_values(sort_key(a, &self.order.field), sort_key(b, &self.order.field));
        let ordered = by_key.then_with(|| id_of(a).cmp(id_of(b)));
        if self.order.descending {
            ordered.reverse()
        } else {
            ordered
        }
    }

    fn compare_to_cursor(&self, item: &Value, key: &Value, id: &str) -> Ordering {
        let ordered = compare_values(sort_key(item, &self.order.field), key).then_with(|| id_of(item).cmp(id));
        if self.order.descending {
            ordered.reverse()
        } else {
            ordered
        }
    }
}

impl Filter {
    /// Parses one `property` value.
    pub fn parse(text: &str) -> Result<Filter, ApiError> {
        parse_filter(text)
    }

    /// Whether `item` passes the filter.
    pub fn matches(&self, item: &Value) -> bool {
        let candidates: Vec<&Value> = found_at(item, &self.path)
            .into_iter()
            .flat_map(|value| match value {
                Value::Array(values) => values.iter().collect(),
                Value::Null => Vec::new(),
                value => vec![value],
            })
            .collect();
        if candidates.is_empty() {
            return matches!(self.op, Op::NotEqual | Op::Missing);
        }
        match self.op {
            Op::Exists => true,
            Op::Missing => false,
            Op::NotEqual => candidates.iter().all(|c| !self.values.iter().any(|v| equals(c, v))),
            Op::AnyOf => candidates.iter().any(|c| self.values.iter().any(|v| equals(c, v))),
            Op::Contains => candidates.iter().any(|c| text_of(c).contains(&self.values[0])),
            op => candidates.iter().any(|c| {
                let ordering = compare_values(c, &literal(&self.values[0]));
                match op {
                    Op::Greater => ordering == Ordering::Greater,
                    Op::Less => ordering == Ordering::Less,
                    Op::GreaterOrEqual => ordering != Ordering::Less,
                    _ => ordering != Ordering::Greater,
                }
            }),
        }
    }
}

/// Every value at `path` under `value`, walking into each element of an array on the way.
fn found_at<'a>(value: &'a Value, path: &[String]) -> Vec<&'a Value> {
    let Some((key, rest)) = path.split_first() else {
        return vec![value];
    };
    match value {
        Value::Array(values) => values.iter().flat_map(|v| found_at(v, path)).collect(),
        value => value.get(key).map(|v| found_at(v, rest)).unwrap_or_default(),
    }
}

fn parse_filter(text: &str) -> Result<Filter, ApiError> {
    const OPS: [(&str, Op); 7] = [
        ("==", Op::AnyOf),
        ("!=", Op::NotEqual),
        (">=", Op::GreaterOrEqual),
        ("<=", Op::LessOrEqual),
        (">", Op::Greater),
        ("<", Op::Less),
        ("~", Op::Contains),
    ];
    let found = OPS
        .iter()
        .filter_map(|(symbol, op)| text.find(symbol).map(|at| (at, *symbol, *op)))
        .min_by_key(|(at, ..)| *at);
    let (path, op, values) = match found {
        Some((at, symbol, op)) => {
            let value = &text[at + symbol.len()..];
            let values = if op == Op::AnyOf {
                value.split(',').map(str::to_string).collect()
            } else {
                vec![value.to_string()]
            };
            (&text[..at], op, values)
        }
        None => match text.trim().strip_prefix('!') {
            Some(path) => (path, Op::Missing, Vec::new()),
            None => (text, Op::Exists, Vec::new()),
        },
    };
    let path: Vec<String> = path.trim().split('.').map(str::to_string).collect();
    if path.iter().any(String::is_empty) {
        return Err(ApiError::bad_request(
            "1402",
            format!(
                "`property={text}` is not a filter: use path==v1,v2, path!=v, path>n, path<n, path>=n, path<=n or path~text"
            ),
        ));
    }
    Ok(Filter { path, op, values })
}

fn parse_order(text: Option<&str>) -> Result<Order, ApiError> {
    let text = text.unwrap_or("-createdAt").trim();
    let (descending, field) = match text.strip_prefix('-') {
        Some(field) => (true, field),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    if !ORDER_FIELDS.contains(&field) {
        return Err(ApiError::bad_request(
            "1402",
            format!(
                "`orderby={text}` is not supported: order by name, createdAt or updatedAt, with an optional + or - prefix"
            ),
        ));
    }
    Ok(Order {
        field: field.to_string(),
        descending,
    })
}

fn parse_limit(text: &str) -> Result<usize, ApiError> {
    match text.trim().parse::<usize>() {
        Ok(limit) if (1..=MAX_LIMIT).contains(&limit) => Ok(limit),
        _ => Err(ApiError::bad_request(
            "1402",
            format!("`limit` must be a whole number from 1 to {MAX_LIMIT}"),
        )),
    }
}

fn decode_token(token: &str) -> Result<TokenState, ApiError> {
    URL_SAFE_NO_PAD
        .decode(token)
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .ok_or_else(|| ApiError::bad_request("1402", "`continuationToken` is not one this server issued"))
}

fn encode_token(state: &TokenState) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(state).expect("token state serialises"))
}

fn sort_key<'a>(item: &'a Value, field: &str) -> &'a Value {
    item.get(field).unwrap_or(&Value::Null)
}

fn id_of(item: &Value) -> &str {
    item.get("id").and_then(Value::as_str).unwrap_or_default()
}

/// A filter operand as JSON: a number when it reads as one, otherwise text.
fn literal(text: &str) -> Value {
    text.parse::<f64>()
        .ok()
        .and_then(serde_json::Number::from_f64)
        .map(Value::Number)
        .unwrap_or_else(|| Value::String(text.to_string()))
}

fn equals(value: &Value, text: &str) -> bool {
    match value {
        Value::String(s) => s == text,
        Value::Number(n) => text.parse::<f64>().is_ok_and(|t| n.as_f64() == Some(t)),
        Value::Bool(b) => text.eq_ignore_ascii_case(if *b { "true" } else { "false" }),
        _ => false,
    }
}

fn text_of(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Orders JSON values as lists sort them: numbers numerically, nulls first, the rest as text.
pub fn compare_values(a: &Value, b: &Value) -> Ordering {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64().partial_cmp(&y.as_f64()).unwrap_or(Ordering::Equal),
        (Value::Null, Value::Null) => Ordering::Equal,
        (Value::Null, _) => Ordering::Less,
        (_, Value::Null) => Ordering::Greater,
        _ => text_of(a).cmp(&text_of(b)),
    }
}

#[cfg(test)]
#[path = "paging_proptests.rs"]
mod proptests;

#[cfg(test)]
mod tests {
    use super::*;

    fn items(n: usize) -> Vec<Value> {
        (0..n).map(|i| json!({"id": format!("id{i:03}"), "name": format!("n{}", i % 7), "createdAt": 1000 + i / 2, "state": if i % 2 == 0 {"enabled"} else {"disabled"}})).collect()
    }

    fn next_query(answer: &Value) -> Option<String> {
        answer["_links"]["next"]["href"]
            .as_str()
            .map(|href| href.split_once('?').unwrap().1.to_string())
    }

    #[test]
    fn pages_cover_every_item_once_in_order() {
        let all = items(45);
        let mut seen = Vec::new();
        let mut query = Some("limit=20".to_string());
        while let Some(raw) = query {
            let answer = ListQuery::parse(Some(&raw))
                .unwrap()
                .answer(all.clone(), "/connections");
            seen.extend(
                answer["items"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|i| i["id"].as_str().unwrap().to_string()),
            );
            query = next_query(&answer);
        }
        let mut expected: Vec<String> = all.iter().map(|i| i["id"].as_str().unwrap().to_string()).collect();
        expected.reverse();
        assert_eq!(seen, expected);
    }

    #[test]
    fn filters_and_counts() {
        let count = |q: &str| {
            ListQuery::parse(Some(q)).unwrap().answer(items(45), "/x")["count"]
                .as_u64()
                .unwrap()
        };
        assert_eq!(count("count=true&property=state==enabled"), 23);
        assert_eq!(count("count=true&property=state!=enabled"), 22);
        assert_eq!(count("count=true&property=createdAt>=1020"), 5);
        assert_eq!(count("count=true&property=name==n1,n2"), 14);
        assert_eq!(count("count=true&property=name~1&property=state==disabled"), 4);
        assert_eq!(count("count=true&property=missing"), 0);
        assert_eq!(count("count=true&property=!missing"), 45);
        assert_eq!(count("count=true&property=!name"), 0);
    }

    #[test]
    fn paths_walk_through_arrays() {
        let item = json!({"relatedObjects": [{"type": "dataSet", "id": "d1"}, {"type": "flow", "id": "f1"}]});
        let matches = |text: &str| Filter::parse(text).unwrap().matches(&item);
        assert!(matches("relatedObjects.id==d1"));
        assert!(matches("relatedObjects.type==flow"));
        assert!(!matches("relatedObjects.id==d2"));
        assert!(matches("!relatedObjects.name"));
    }

    #[test]
    fn bad_parameters_are_named() {
        for (query, code) in [
            ("count=true&limit=5", "1401"),
            ("limit=0", "1402"),
            ("limit=101", "1402"),
            ("orderby=size", "1402"),
            ("continuationToken=zz", "1402"),
        ] {
            match ListQuery::parse(Some(query)) {
                Err(ApiError::Flow { code: got, .. }) => assert_eq!(got, code, "{query}"),
                other => panic!("{query}: {other:?}"),
            }
        }
    }

    #[test]
    fn tokens_are_url_safe_without_padding() {
        let answer = ListQuery::parse(Some("limit=1&property=state==enabled"))
            .unwrap()
            .answer(items(5), "/x");
        let query = next_query(&answer).unwrap();
        let token = query.strip_prefix("continuationToken=").unwrap();
        assert!(
            token
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'),
            "{token}"
        );
    }
}
