//! Catalog lists (§10): `limit`, `start`, `orderBy`, `property` filters and a few of the
//! platform's simple filters (`name=x`), answered as an object keyed by id.
//!
//! Catalog pages by offset (`start`), unlike Flow Service's continuation tokens; the
//! default order is oldest first, so items created while a client pages land after the
//! pages it has already read. The store answers the page in SQL.

use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use super::error::ApiError;
use super::paging::Filter;
use crate::store::{OffsetPage, SortBy};

/// Page size when `limit` is absent, as on the platform.
pub const DEFAULT_LIMIT: usize = 20;
/// Largest page.
pub const MAX_LIMIT: usize = 100;

/// A parsed Catalog list request.
#[derive(Debug)]
pub struct CatalogQuery {
    limit: usize,
    start: usize,
    order: Vec<(SortBy, bool)>,
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
            order: vec![(SortBy::CreatedAt, false)],
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

    /// The page the store reads.
    pub fn page(&self) -> OffsetPage {
        OffsetPage {
            filters: self.filters.iter().map(Filter::to_store).collect(),
            order: self.order.clone(),
            start: self.start,
            limit: self.limit,
        }
    }
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

/// `orderBy=asc:name,desc:created` (a bare property sorts ascending); the properties
/// lists sort by are `created`, `updated`, `name` and `id`.
fn parse_order(text: &str) -> Result<Vec<(SortBy, bool)>, ApiError> {
    text.split(',')
        .map(|part| {
            let part = part.trim();
            let (descending, field) = match part.split_once(':') {
                Some(("asc", field)) => (false, field),
                Some(("desc", field)) => (true, field),
                Some(_) => return Err(bad_order(part)),
                None => (false, part),
            };
            let sort = match field {
                "created" => SortBy::CreatedAt,
                "updated" => SortBy::UpdatedAt,
                "name" => SortBy::Name,
                "id" => SortBy::Id,
                _ => return Err(bad_order(part)),
            };
            Ok((sort, descending))
        })
        .collect()
}

fn bad_order(part: &str) -> ApiError {
    ApiError::bad_request(
        "1402",
        format!(
            "`orderBy` part `{part}` is not `asc:<property>`, `desc:<property>` or `<property>`, where the \
             property is created, updated, name or id"
        ),
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
    #[test]
    fn offsets_limits_orders_and_filters_parse_into_a_page() {
        let page = |query: &str| CatalogQuery::parse(Some(query), &[("name", "name")]).unwrap().page();
        let default = page("");
        assert_eq!((default.start, default.limit), (0, DEFAULT_LIMIT));
        assert_eq!(default.order, [(SortBy::CreatedAt, false)]);
        let given = page("limit=2&start=5&orderBy=desc:name,asc:created");
        assert_eq!((given.start, given.limit), (5, 2));
        assert_eq!(given.order, [(SortBy::Name, true), (SortBy::CreatedAt, false)]);
        let filtered = page("name=!n0,n1&property=created>=1028&unknown=1");
        let paths: Vec<&str> = filtered.filters.iter().map(|f| f.path.as_str()).collect();
        assert_eq!(paths, ["name", "name", "created"]);
    }

    #[test]
    fn bad_parameters_are_named() {
        for query in [
            "limit=0",
            "limit=101",
            "start=-1",
            "orderBy=up:name",
            "orderBy=asc:",
            "orderBy=size",
        ] {
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
