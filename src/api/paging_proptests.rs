//! Property tests (fuzzing target) of the list parameters: `property` filters,
//! `orderby`, `limit` and continuation tokens.

use super::*;

fn key() -> ListKey {
    ListKey::derive(b"test key")
}
use crate::proptest_config::config;
use proptest::prelude::*;

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(|f| json!(f)),
        "[a-z0-9 .]{0,8}".prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
            prop::collection::btree_map("[a-c]{1,2}", inner, 0..4).prop_map(|m| json!(m)),
        ]
    })
}

fn items() -> impl Strategy<Value = Vec<Value>> {
    prop::collection::vec(("[a-z]{0,3}", 0i64..6, 0i64..6, json_value()), 0..30).prop_map(|rows| {
        rows.into_iter()
            .enumerate()
            .map(|(i, (name, created, updated, extra))| {
                json!({"id": format!("id{i:03}"), "name": name, "createdAt": created, "updatedAt": updated, "a": extra})
            })
            .collect()
    })
}

proptest! {
    #![proptest_config(config())]

    /// Any query string parses or is refused with a 4xx.
    #[test]
    fn any_query_parses_or_is_a_bad_request(raw in any::<String>()) {
        if let Err(ApiError::Flow { status, .. }) = ListQuery::parse(Some(&raw), &key()) {
            prop_assert!(status.is_client_error());
        }
    }

    /// Filters made of the grammar's symbols parse or are refused, and a parsed one
    /// judges any JSON without failing.
    #[test]
    fn filters_judge_any_item(text in "[a-c.!=<>~,0-9 ]{0,16}", item in json_value()) {
        if let Ok(filter) = Filter::parse(&text) {
            let _ = filter.matches(&item);
        }
    }

    /// Following `next` links visits every matching item exactly once, in order, for
    /// any filter, order and page size.
    #[test]
    fn pages_visit_every_match_once(
        all in items(),
        filter in prop::option::of("a(\\.[a-c]){0,2}(==|!=|>|<|>=|<=|~)[a-z0-9]{0,2}"),
        order in prop::sample::select(vec!["name", "-name", "createdAt", "-updatedAt", "+updatedAt"]),
        limit in 1usize..7,
    ) {
        let mut query = format!("limit={limit}&orderby={order}");
        if let Some(filter) = &filter {
            query.push_str(&format!("&property={}", url::form_urlencoded::byte_serialize(filter.as_bytes()).collect::<String>()));
        }
        let first = ListQuery::parse(Some(&query), &key()).unwrap();
        let expected: Vec<Value> = first.answer(all.clone(), "/x", &key())["items"].as_array().unwrap().clone();
        let wanted = all.iter().filter(|item| first.filters.iter().all(|f| f.matches(item))).count();
        let mut seen = Vec::new();
        let mut next = Some(query);
        while let Some(raw) = next {
            let answer = ListQuery::parse(Some(&raw), &key()).unwrap().answer(all.clone(), "/x", &key());
            let page = answer["items"].as_array().unwrap();
            prop_assert!(page.len() <= limit);
            seen.extend(page.iter().map(|item| item["id"].clone()));
            next = answer["_links"]["next"]["href"].as_str().map(|href| href.split_once('?').unwrap().1.to_string());
            prop_assert!(seen.len() <= all.len(), "paging does not end");
        }
        prop_assert_eq!(seen.len(), wanted);
        let mut unique = seen.clone();
        unique.sort_by(|a, b| a.as_str().cmp(&b.as_str()));
        unique.dedup();
        prop_assert_eq!(unique.len(), seen.len());
        prop_assert_eq!(&seen[..expected.len()], &expected.iter().map(|i| i["id"].clone()).collect::<Vec<_>>()[..]);
    }
}
