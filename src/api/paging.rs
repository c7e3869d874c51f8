//! Lists: `limit`, `property` filters, `orderby`, `count`, and continuation tokens (§4).
//!
//! A list request is parsed here and answered by the store in SQL ([`ListQuery::page`],
//! [`ListQuery::answer_page`]); [`ListQuery::answer`] answers the same request over items
//! in memory, the reference the SQL is tested against. Paging is keyset paging on (sort
//! value, id): a page never repeats or skips an item, even while items are added.

use std::cmp::Ordering;

use serde_json::{Value, json};

use super::error::ApiError;
use super::list_tokens::{ListKey, TokenState};
use crate::store::{FieldFilter, FieldTest, Page, SortBy, SortValue};

/// Largest page of a Flow Service list.
pub const MAX_LIMIT: usize = 100;
/// Values one `property=path==v1,v2,...` filter may list.
pub const MAX_FILTER_VALUES: usize = 100;
/// `property` filters one list may take.
pub const MAX_FILTERS: usize = 20;
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

impl ListQuery {
    /// Parses the query string. Parameters sent with a continuation token override the
    /// ones it carries; unknown parameters are ignored.
    pub fn parse(raw: Option<&str>, key: &ListKey) -> Result<ListQuery, ApiError> {
        let pairs: Vec<(String, String)> = url::form_urlencoded::parse(raw.unwrap_or_default().as_bytes())
            .into_owned()
            .collect();
        let get = |name: &str| pairs.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
        let mut state = match get("continuationToken") {
            Some(token) => key.open(&token)?,
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
        if state.properties.len() > MAX_FILTERS {
            return Err(ApiError::bad_request(
                "1402",
                format!(
                    "{} `property` filters were given; at most {MAX_FILTERS} are allowed",
                    state.properties.len()
                ),
            ));
        }
        if let Some(orderby) = get("orderby") {
            state.orderby = Some(orderby);
        }
        // Any case, as the platform takes it: Python clients send `count=False`.
        let count = match get("count").map(|c| c.to_ascii_lowercase()).as_deref() {
            None | Some("false") => false,
            Some("true") => true,
            Some(_) => {
                return Err(ApiError::bad_request(
                    "1402",
                    "`count` must be true or false (in any case)",
                ));
            }
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
        if let Some(limit) = state.limit
            && !(1..=MAX_LIMIT).contains(&limit)
        {
            return Err(ApiError::bad_request(
                "1402",
                format!("`limit` must be from 1 to {MAX_LIMIT}"),
            ));
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

    /// Whether only the count is asked for (`count=true`).
    pub fn counts(&self) -> bool {
        self.count
    }

    /// The filters, in the store's terms.
    pub fn filters(&self) -> Vec<FieldFilter> {
        self.filters.iter().map(Filter::to_store).collect()
    }

    /// The page the store reads: the filters, the order, the cursor, and one row more
    /// than the page shows.
    pub fn page(&self) -> Page {
        let sort = match self.order.field.as_str() {
            "createdAt" => SortBy::CreatedAt,
            "updatedAt" => SortBy::UpdatedAt,
            _ => SortBy::Name,
        };
        let after = match (&self.state.last_key, &self.state.last_id) {
            (Some(key), Some(id)) => Some((sort_value(key), id.clone())),
            _ => None,
        };
        Page {
            filters: self.filters(),
            sort,
            descending: self.order.descending,
            after,
            rows: self.limit + 1,
        }
    }

    /// The answer for the `items` the store read for [`ListQuery::page`] (in order, up to
    /// one more than the page): the page, and `_links.next.href` under `base_path` when
    /// more items follow.
    pub fn answer_page(&self, mut items: Vec<Value>, base_path: &str, key: &ListKey) -> Value {
        let more = items.len() > self.limit;
        items.truncate(self.limit);
        let links = match items.last() {
            Some(last) if more => self.next_link(last, base_path, key),
            _ => json!({}),
        };
        json!({ "items": items, "_links": links })
    }

    fn next_link(&self, last: &Value, base_path: &str, key: &ListKey) -> Value {
        let mut next = self.state.clone();
        next.last_key = Some(sort_key(last, &self.order.field).clone());
        next.last_id = Some(id_of(last).to_string());
        json!({"next": {"href": format!("{base_path}?continuationToken={}", key.seal(&next))}})
    }

    /// The answer for `items` (each with an `id`) filtered, ordered and paged in memory:
    /// `{"count": n}`, or one page with a `_links.next.href` under `base_path` when more
    /// items follow.
    pub fn answer(&self, items: Vec<Value>, base_path: &str, key: &ListKey) -> Value {
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
            Some(last) if rest > self.limit => self.next_link(last, base_path, key),
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

    /// The filter in the store's terms.
    pub fn to_store(&self) -> FieldFilter {
        let first = || self.values.first().cloned().unwrap_or_default();
        let test = match self.op {
            Op::Exists => FieldTest::Exists,
            Op::Missing => FieldTest::Missing,
            Op::AnyOf => FieldTest::AnyOf(self.values.clone()),
            Op::NotEqual => FieldTest::NotEqual(first()),
            Op::Greater => FieldTest::Greater(first()),
            Op::Less => FieldTest::Less(first()),
            Op::GreaterOrEqual => FieldTest::GreaterOrEqual(first()),
            Op::LessOrEqual => FieldTest::LessOrEqual(first()),
            Op::Contains => FieldTest::Contains(first()),
        };
        FieldFilter {
            path: self.path.join("."),
            test,
        }
    }

    /// Whether `item` passes the filter.
    pub fn matches(&self, item: &Value) -> bool {
        let mut candidates = Vec::new();
        for value in found_at(item, &self.path) {
            leaves(value, &mut candidates);
        }
        if candidates.is_empty() {
            return matches!(self.op, Op::NotEqual | Op::Missing);
        }
        // An object makes its path exist, but holds no value a test compares.
        let values: Vec<&Value> = candidates.into_iter().filter(|c| !c.is_object()).collect();
        match self.op {
            Op::Exists => true,
            Op::Missing => false,
            Op::NotEqual => values.iter().all(|c| !self.values.iter().any(|v| equals(c, v))),
            Op::AnyOf => values.iter().any(|c| self.values.iter().any(|v| equals(c, v))),
            Op::Contains => values.iter().any(|c| text_of(c).contains(&self.values[0])),
            op => values.iter().any(|c| {
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

/// The values of `value` a filter looks at: itself, or every element of a list (of lists),
/// nulls left out.
fn leaves<'a>(value: &'a Value, out: &mut Vec<&'a Value>) {
    match value {
        Value::Null => {}
        Value::Array(items) => items.iter().for_each(|item| leaves(item, out)),
        value => out.push(value),
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
            let values: Vec<String> = if op == Op::AnyOf {
                value.split(',').map(str::to_string).collect()
            } else {
                vec![value.to_string()]
            };
            if values.len() > MAX_FILTER_VALUES {
                return Err(ApiError::bad_request(
                    "1402",
                    format!(
                        "`property={}==...` lists {} values; at most {MAX_FILTER_VALUES} values are allowed",
                        &text[..at],
                        values.len()
                    ),
                ));
            }
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

/// A cursor's sort value: a number (`createdAt`, `updatedAt`) or a text (`name`; a
/// missing name sorts as the empty text).
fn sort_value(key: &Value) -> SortValue {
    match key {
        Value::Number(n) => SortValue::Number(n.as_i64().unwrap_or_default()),
        Value::String(s) => SortValue::Text(s.clone()),
        _ => SortValue::Text(String::new()),
    }
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
#[path = "paging_tests.rs"]
mod tests;
