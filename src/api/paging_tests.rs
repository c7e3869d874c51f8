//! List parameters, in-memory answers and continuation links.

use super::*;

fn key() -> ListKey {
    ListKey::derive(b"test key")
}

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
        let answer = ListQuery::parse(Some(&raw), &key())
            .unwrap()
            .answer(all.clone(), "/connections", &key());
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
        ListQuery::parse(Some(q), &key())
            .unwrap()
            .answer(items(45), "/x", &key())["count"]
            .as_u64()
            .unwrap()
    };
    assert_eq!(count("count=true&property=state==enabled"), 23);
    assert_eq!(count("count=True&property=state==enabled"), 23, "booleans in any case");
    assert!(
        ListQuery::parse(Some("count=False&limit=5"), &key()).is_ok(),
        "False is no count"
    );
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
        ("count=yes", "1402"),
    ] {
        match ListQuery::parse(Some(query), &key()) {
            Err(ApiError::Flow { code: got, .. }) => assert_eq!(got, code, "{query}"),
            other => panic!("{query}: {other:?}"),
        }
    }
}

#[test]
fn tokens_are_url_safe_without_padding() {
    let answer = ListQuery::parse(Some("limit=1&property=state==enabled"), &key())
        .unwrap()
        .answer(items(5), "/x", &key());
    let query = next_query(&answer).unwrap();
    let token = query.strip_prefix("continuationToken=").unwrap();
    assert!(
        token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'),
        "{token}"
    );
}
