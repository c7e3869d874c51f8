//! Catalog lists (§10): `limit`, `start`, `orderBy`, `property` filters and a few of the
//! platform's simple filters (`name=x`), answered as an object keyed by id.
//!
//! Catalog pages by offset (`start`), unlike Flow Service's continuation tokens; the
//! default order is oldest first, so items created while a client pages land after the
//! pages it has already read.

use std::cmp::Ordering;

use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use super::error::ApiError;
use super::paging::{Filter, compare_values};

/// Page size when `limit` is absent, as on the platform.
pub const DEFAULT_LIMIT: usize = 20;
/// Largest page.
pub const MAX_LIMIT: usize = 100;

/// A parsed Catalog list request.
#[derive(Debug)]
pub struct CatalogQuery {
    limit: usize,
    start: usize,
    order: Vec<(Vec<String>, bool)>,
    filters: Vec<Filter>,
}

impl CatalogQuery {
    /// Parses the query string. `simple` maps the simple-filter parameters this list
    /// takes (e.g. `dataSet`) to the dotted path each filters on; `v1,v2` matches either
    /// value and `!v1,v2` neither. Unknown parameters are ignored.
    pub fn parse(raw: Option<&str>, simple: &[(&str, &str)]) -> Result<CatalogQuery, ApiError> {
        let mut query = CatalogQuery {
            limit: DEFAULT_LIMIT,
            start: 0,
            order: vec![(vec!["created".to_string()], false)],
            filters: Vec::new(),
        };
        for (name, value) in url::form_urlencoded::parse(raw.unwrap_or_default().as_bytes()) {
            match name.as_ref() {
                "limit" => query.limit = number(&name, &value, 1, MAX_LIMIT)?,
                "start" => query.start = number(&name, &value, 0, usize::MAX)?,
                "orderBy" | "orderby" | "sort" => query.order = parse_order(&value)?,
                "property" => query.filters.push(Filter::parse(&value)?),
                other => {
                    if let Some((_, path)) = simple.iter().find(|(param, _)| *param == other) {
                        query.filters.extend(simple_filters(path, &value)?);
                    }
                }
            }
        }
        Ok(query)
    }

    /// The filtered, ordered page of `items` (each with an `id`).
    pub fn page(&self, items: Vec<Value>) -> Vec<Value> {
        let mut items: Vec<Value> = items
            .into_iter()
            .filter(|item| self.filters.iter().all(|f| f.matches(item)))
            .collect();
        items.sort_by(|a, b| self.compare(a, b));
        items.into_iter().skip(self.start).take(self.limit).collect()
    }

    fn compare(&self, a: &Value, b: &Value) -> Ordering {
        self.order
            .iter()
            .map(|(path, descending)| {
                let ordering = compare_values(at(a, path), at(b, path));
                if *descending { ordering.reverse() } else { ordering }
            })
            .find(|ordering| ordering.is_ne())
            .unwrap_or_else(|| {
                at(a, &["id".into()])
                    .to_string()
                    .cmp(&at(b, &["id".into()]).to_string())
            })
    }
}

fn at<'a>(item: &'a Value, path: &[String]) -> &'a Value {
    path.iter()
        .try_fold(item, |value, key| value.get(key))
        .unwrap_or(&Value::Null)
}

fn number(name: &str, value: &str, low: usize, high: usize) -> Result<usize, ApiError> {
    match value.trim().parse::<usize>() {
        Ok(n) if (low..=high).contains(&n) => Ok(n),
        _ if high == usize::MAX => Err(ApiError::bad_request(
            "1402",
            format!("`{name}` must be a whole number of at least {low}"),
        )),
        _ => Err(ApiError::bad_request(
            "1402",
            format!("`{name}` must be a whole number from {low} to {high}"),
        )),
    }
}

/// `orderBy=asc:name,desc:created` (a bare property sorts ascending).
fn parse_order(text: &str) -> Result<Vec<(Vec<String>, bool)>, ApiError> {
    text.split(',')
        .map(|part| {
            let part = part.trim();
            let (descending, field) = match part.split_once(':') {
                Some(("asc", field)) => (false, field),
                Some(("desc", field)) => (true, field),
                Some(_) => return Err(bad_order(part)),
                None => (false, part),
            };
            let path: Vec<String> = field.split('.').map(str::to_string).collect();
            if path.iter().any(String::is_empty) {
                return Err(bad_order(part));
            }
            Ok((path, descending))
        })
        .collect()
}

fn bad_order(part: &str) -> ApiError {
    ApiError::bad_request(
        "1402",
        format!("`orderBy` part `{part}` is not `asc:<property>`, `desc:<property>` or `<property>`"),
    )
}

fn simple_filters(path: &str, value: &str) -> Result<Vec<Filter>, ApiError> {
    match value.strip_prefix('!') {
        Some(excluded) => excluded
            .split(',')
            .map(|v| Filter::parse(&format!("{path}!={v}")))
            .collect(),
        None => Ok(vec![Filter::parse(&format!("{path}=={value}"))?]),
    }
}

/// `{"<id>": item, ...}` in the items' order (serde_json's maps would sort the keys).
pub fn keyed(items: &[Value]) -> Response {
    let entries: Vec<String> = items
        .iter()
        .map(|item| {
            let id = item["id"].as_str().unwrap_or_default();
            format!("{}:{item}", Value::from(id))
        })
        .collect();
    let body = format!("{{{}}}", entries.join(","));
    (StatusCode::OK, [(header::CONTENT_TYPE, "application/json")], body).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn items() -> Vec<Value> {
        (0..30)
            .map(|i| json!({"id": format!("i{i:02}"), "name": format!("n{}", i % 3), "created": 1000 + i}))
            .collect()
    }

    fn ids(query: &str) -> Vec<String> {
        CatalogQuery::parse(Some(query), &[("name", "name")])
            .unwrap()
            .page(items())
            .iter()
            .map(|i| i["id"].as_str().unwrap().to_string())
            .collect()
    }

    #[test]
    fn offsets_limits_orders_and_filters() {
        assert_eq!(ids("").len(), DEFAULT_LIMIT);
        assert_eq!(ids("")[0], "i00");
        assert_eq!(ids("limit=2&start=5"), ["i05", "i06"]);
        assert_eq!(ids("orderBy=desc:created&limit=1"), ["i29"]);
        assert_eq!(ids("orderBy=desc:name,asc:created&limit=2"), ["i02", "i05"]);
        assert_eq!(ids("name=n1&limit=3"), ["i01", "i04", "i07"]);
        assert_eq!(ids("name=!n0,n1&limit=2"), ["i02", "i05"]);
        assert_eq!(ids("property=created>=1028"), ["i28", "i29"]);
        assert_eq!(ids("unknown=1&limit=1"), ["i00"]);
    }

    #[test]
    fn bad_parameters_are_named() {
        for query in ["limit=0", "limit=101", "start=-1", "orderBy=up:name", "orderBy=asc:"] {
            let error = CatalogQuery::parse(Some(query), &[]).unwrap_err();
            let ApiError::Flow { code, message, .. } = error else {
                panic!("{query}")
            };
            assert_eq!(code, "1402", "{query}");
            let name = query.split('=').next().unwrap();
            assert!(message.contains(name), "{query}: {message}");
        }
    }
}
