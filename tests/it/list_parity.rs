//! Lists in SQL answer exactly what the list rules say: for random documents, filters,
//! orders and page sizes, walking the pages the store reads in SQL visits the same items
//! in the same order as the reference answer over the same items in memory
//! (`ListQuery::answer`), and counts agree. On SQLite and on PostgreSQL.

use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use serde_json::{Value, json};

use inlet::api::list_tokens::ListKey;
use inlet::api::paging::ListQuery;
use inlet::identity::Tenant;
use inlet::secret::Secret;
use inlet::store::{ResourceRow, Store};

use crate::common::pg::{PgOptions, PgServer};

fn tenant() -> Tenant {
    Tenant {
        org: "ORG@AdobeOrg".into(),
        sandbox: "prod".into(),
    }
}

fn value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        (-5i64..20).prop_map(Value::from),
        prop_oneof![Just(1.5), Just(-0.25), Just(3.0)].prop_map(|f: f64| json!(f)),
        "[a-c0-9 .]{0,3}".prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 16, 3, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..3).prop_map(Value::from),
            prop::collection::btree_map("[a-c]{1,2}", inner, 0..3).prop_map(|m| json!(m)),
        ]
    })
}

/// Documents with a name, times and one random value under `a`.
fn docs() -> impl Strategy<Value = Vec<Value>> {
    prop::collection::vec(("[a-z]{0,2}", 0i64..5, 0i64..5, value()), 0..25).prop_map(|rows| {
        rows.into_iter()
            .enumerate()
            .map(|(i, (name, created, updated, a))| {
                json!({"id": format!("id{i:03}"), "name": name, "createdAt": created, "updatedAt": updated, "a": a})
            })
            .collect()
    })
}

fn query() -> impl Strategy<Value = String> {
    let filter = "a(\\.[a-c]{1,2}){0,2}(==|!=|>|<|>=|<=|~)[a-c0-9.]{0,2}|!?a(\\.[a-c]{1,2}){0,1}|a==[0-9],[a-c]";
    (
        prop::option::of(filter),
        prop::sample::select(vec![
            "name",
            "-name",
            "createdAt",
            "-updatedAt",
            "+updatedAt",
            "-createdAt",
        ]),
        1usize..6,
    )
        .prop_map(|(filter, order, limit)| {
            let mut query = format!("limit={limit}&orderby={order}");
            if let Some(filter) = filter {
                let encoded: String = url::form_urlencoded::byte_serialize(filter.as_bytes()).collect();
                query.push_str(&format!("&property={encoded}"));
            }
            query
        })
}

/// The ids of every page, following `next` links, answered by `answer`.
async fn walk(first: &str, key: &ListKey, answer: impl AsyncFn(&ListQuery) -> Value) -> Vec<String> {
    let mut ids = Vec::new();
    let mut next = Some(first.to_string());
    while let Some(raw) = next {
        let query = ListQuery::parse(Some(&raw), key).unwrap();
        let page = answer(&query).await;
        ids.extend(
            page["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|i| i["id"].as_str().unwrap().to_string()),
        );
        next = page["_links"]["next"]["href"]
            .as_str()
            .map(|href| href.split_once('?').unwrap().1.to_string());
        assert!(ids.len() <= 100, "paging does not end");
    }
    ids
}

async fn case(store: &Store, kind: &str, docs: &[Value], raw: &str) -> Result<(), TestCaseError> {
    for doc in docs {
        let row = ResourceRow {
            kind: kind.to_string(),
            id: doc["id"].as_str().unwrap().to_string(),
            tenant: tenant(),
            etag: "\"e\"".into(),
            created_at: doc["createdAt"].as_i64().unwrap(),
            updated_at: doc["updatedAt"].as_i64().unwrap(),
            doc: doc.clone(),
            secret: None,
        };
        store.insert_resource(&row).await.unwrap();
    }
    let key = ListKey::derive(b"parity");
    let in_memory = walk(raw, &key, async |query| query.answer(docs.to_vec(), "/x", &key)).await;
    let in_sql = walk(raw, &key, async |query| {
        let rows = store.list_page(kind, &tenant(), &query.page()).await.unwrap();
        query.answer_page(rows.into_iter().map(|r| r.doc).collect(), "/x", &key)
    })
    .await;
    prop_assert_eq!(
        &in_sql,
        &in_memory,
        "{} over {}",
        raw,
        serde_json::to_string(docs).unwrap()
    );
    let counting: Vec<&str> = raw
        .split('&')
        .filter(|part| !part.starts_with("limit="))
        .chain(["count=true"])
        .collect();
    let counting = ListQuery::parse(Some(&counting.join("&")), &key).unwrap();
    let expected = counting.answer(docs.to_vec(), "/x", &key)["count"].as_i64().unwrap();
    let counted = store.count_page(kind, &tenant(), &counting.filters()).await.unwrap();
    prop_assert_eq!(counted, expected, "count of {}", raw);
    Ok(())
}

async fn parity(store: Store) {
    let cases = std::env::var("INLET_PROPTEST_CASES")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(96);
    let mut runner = TestRunner::new(Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    });
    let runtime = tokio::runtime::Handle::current();
    let number = std::sync::atomic::AtomicUsize::new(0);
    let result = runner.run(&(docs(), query()), |(docs, raw)| {
        let kind = format!("parity{}", number.fetch_add(1, std::sync::atomic::Ordering::Relaxed));
        tokio::task::block_in_place(|| runtime.block_on(case(&store, &kind, &docs, &raw)))
    });
    if let Err(failure) = result {
        panic!("{failure}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sql_lists_answer_as_the_list_rules_say_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    parity(Store::open_sqlite(dir.path()).await.unwrap()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sql_lists_answer_as_the_list_rules_say_on_postgres() {
    let pg = PgServer::start(PgOptions::default());
    pg.create_database("meta");
    parity(Store::connect(&Secret::new(pg.admin_url("meta"))).await.unwrap()).await;
}
