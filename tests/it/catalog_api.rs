//! Catalog over HTTP (§10): datasets and batches in Catalog's shapes, tenant scoping,
//! bad requests. Batches are made through the library, as runs make them.

use inlet::catalog::{self, BatchIssue, BatchResult, BatchStatus};
use inlet::identity::Tenant;
use inlet::lake::{CommitOutcome, Lake, LakeConfig};
use inlet::store::Store;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::common::server::{Identity, Inlet, Reply};

const CATALOG: &str = "/data/foundation/catalog";

async fn get(api: &Identity, path: &str) -> Reply {
    api.send(api.request(Method::GET, &format!("{CATALOG}{path}"))).await
}

async fn post(api: &Identity, path: &str, body: &Value) -> Reply {
    api.send(api.request(Method::POST, &format!("{CATALOG}{path}")).json(body))
        .await
}

async fn delete(api: &Identity, path: &str) -> Reply {
    api.send(api.request(Method::DELETE, &format!("{CATALOG}{path}"))).await
}

/// Creates a dataset named `name`, asserting Catalog's 201 answer; returns its id.
async fn create_dataset(api: &Identity, name: &str) -> String {
    spaced().await;
    let reply = post(api, "/dataSets", &json!({"name": name})).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    let link = reply.body[0].as_str().expect("[\"@/dataSets/<id>\"]");
    link.strip_prefix("@/dataSets/")
        .expect("@/dataSets/ prefix")
        .to_string()
}

/// `created` counts milliseconds and equal ones order by id: items made a few
/// milliseconds apart list in the order they were made.
async fn spaced() {
    tokio::time::sleep(std::time::Duration::from_millis(3)).await;
}

/// The ids a list answers, in the order of its JSON text (a parsed `Value` sorts keys).
async fn listed(api: &Identity, path: &str) -> Vec<String> {
    let response = api
        .request(Method::GET, &format!("{CATALOG}{path}"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK, "{path}");
    let text = response.text().await.unwrap();
    let mut deserializer = serde_json::Deserializer::from_str(&text);
    serde::Deserializer::deserialize_map(&mut deserializer, KeysInOrder).expect("an object keyed by id")
}

struct KeysInOrder;

impl<'de> serde::de::Visitor<'de> for KeysInOrder {
    type Value = Vec<String>;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("an object")
    }

    fn visit_map<M: serde::de::MapAccess<'de>>(self, mut map: M) -> Result<Vec<String>, M::Error> {
        let mut keys = Vec::new();
        while let Some((key, _)) = map.next_entry::<String, serde::de::IgnoredAny>()? {
            keys.push(key);
        }
        Ok(keys)
    }
}

fn keys(body: &Value) -> Vec<String> {
    body.as_object()
        .expect("an object keyed by id")
        .keys()
        .cloned()
        .collect()
}

#[tokio::test]
async fn datasets_are_created_shown_and_listed_in_catalog_shapes() {
    let inlet = Inlet::start();
    let api = inlet.identity("ORG1@AdobeOrg");
    let body = json!({
        "name": "orders", "description": "from the shop",
        "schemaRef": {"id": "https://ns.adobe.com/acme/schemas/123", "contentType": "application/vnd.adobe.xed-full+json;version=1"},
        "tags": {"team": ["data"]}, "fileDescription": {"format": "parquet"}, "somethingElse": 1
    });
    let reply = post(&api, "/dataSets", &body).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    let link = reply.body[0].as_str().unwrap();
    assert_eq!(reply.body.as_array().unwrap().len(), 1);
    let id = link.strip_prefix("@/dataSets/").unwrap();
    assert!(
        id.len() == 24 && id.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()),
        "{id}"
    );

    let shown = get(&api, &format!("/dataSets/{id}")).await;
    assert_eq!(shown.status, StatusCode::OK);
    assert_eq!(keys(&shown.body), [id]);
    let item = &shown.body[id];
    assert_eq!(item["name"], "orders");
    assert_eq!(item["description"], "from the shop");
    assert_eq!(item["imsOrg"], "ORG1@AdobeOrg");
    assert_eq!(item["sandboxName"], "prod");
    assert_eq!(item["schemaRef"], body["schemaRef"]);
    assert_eq!(item["tags"], body["tags"]);
    assert_eq!(item["fileDescription"], body["fileDescription"]);
    assert_eq!(item["observableSchema"], json!({}));
    assert_eq!(item["createdClient"], api.client_id.as_str());
    let created = item["created"].as_i64().unwrap();
    assert!(created > 1_600_000_000_000 && item["updated"] == created, "{item}");
    let lake = inlet.data_dir().join("lake").canonicalize().unwrap();
    assert_eq!(item["location"], lake.join(id).display().to_string());
    assert!(item.get("somethingElse").is_none());

    let mut ids = vec![id.to_string()];
    for name in ["returns", "orders-archive", "stock"] {
        ids.push(create_dataset(&api, name).await);
    }
    assert_eq!(listed(&api, "/dataSets").await, ids, "oldest first");
    assert_eq!(listed(&api, "/dataSets?limit=2&start=1").await, ids[1..3]);
    let newest: Vec<String> = ids.iter().rev().cloned().collect();
    assert_eq!(listed(&api, "/dataSets?orderBy=desc:created").await, newest);
    assert_eq!(
        listed(&api, "/dataSets?orderBy=name").await,
        [&ids[0], &ids[2], &ids[1], &ids[3]].map(String::clone)
    );
    assert_eq!(
        listed(&api, "/dataSets?name=stock,returns").await,
        [ids[1].as_str(), ids[3].as_str()]
    );
    assert_eq!(
        listed(&api, "/dataSets?property=name~orders").await,
        [ids[0].as_str(), ids[2].as_str()]
    );
    assert_eq!(get(&api, "/dataSets?limit=0").await.code(), "1402-400");
}

#[tokio::test]
async fn datasets_are_invisible_to_other_orgs_and_sandboxes() {
    let inlet = Inlet::start();
    let owner = inlet.identity("ORGA@AdobeOrg");
    let stranger = inlet.identity("ORGB@AdobeOrg");
    let sandbox = owner
        .send(
            owner
                .request(Method::POST, "/data/foundation/sandbox-management/sandboxes")
                .json(&json!({"name": "dev", "title": "Dev", "type": "development"})),
        )
        .await;
    assert_eq!(sandbox.status, StatusCode::CREATED, "{}", sandbox.body);
    let id = create_dataset(&owner, "orders").await;
    let path = format!("/dataSets/{id}");
    for other in [&stranger, &owner.in_sandbox("dev")] {
        assert_eq!(get(other, &path).await.code(), "1101-404");
        assert_eq!(delete(other, &path).await.code(), "1101-404");
        assert_eq!(get(other, "/dataSets").await.body, json!({}));
    }
    assert_eq!(get(&owner, &path).await.body[&id]["name"], "orders");
    assert_eq!(
        get(&owner, "/dataSets/000000000000000000000000").await.code(),
        "1101-404"
    );
}

#[tokio::test]
async fn bad_dataset_bodies_name_what_is_wrong() {
    let inlet = Inlet::start();
    let api = inlet.identity("ORG1@AdobeOrg");
    let reply = post(&api, "/dataSets", &json!({"description": "no name"})).await;
    assert_eq!(reply.code(), "1001-400");
    assert_eq!(reply.body["report"]["details"][0]["path"], "/name");
    assert!(reply.message().contains("/name"), "{}", reply.message());
    let reply = post(&api, "/dataSets", &json!({"name": "x", "schemaRef": "not an object"})).await;
    assert_eq!(reply.body["report"]["details"][0]["path"], "/schemaRef");
    let not_json = api
        .send(
            api.request(Method::POST, &format!("{CATALOG}/dataSets"))
                .header("content-type", "application/json")
                .body("{\"name\": "),
        )
        .await;
    assert_eq!(not_json.code(), "1000-400");
    let plain = api
        .send(api.request(Method::POST, &format!("{CATALOG}/dataSets")).body("name=x"))
        .await;
    assert_eq!(plain.code(), "1002-415");
    assert_eq!(get(&api, "/dataSets").await.body, json!({}), "nothing was created");
}

#[tokio::test]
async fn batches_record_each_run_of_a_dataset() {
    let inlet = Inlet::start();
    let api = inlet.identity("ORG1@AdobeOrg");
    let (orders, stock) = (
        create_dataset(&api, "orders").await,
        create_dataset(&api, "stock").await,
    );
    let store = Store::open_sqlite(&inlet.data_dir()).await.unwrap();
    let tenant = Tenant {
        org: "ORG1@AdobeOrg".into(),
        sandbox: "prod".into(),
    };

    // A run writes the table where the dataset says it lives.
    let lake = Lake::new(&LakeConfig::new(inlet.data_dir().join("lake").to_str().unwrap())).unwrap();
    let batch = catalog::create_batch(&store, &tenant, &orders, "run-1", "flow-1")
        .await
        .unwrap();
    let written = crate::lake_types::write_every_type(&lake, &orders).await;
    let CommitOutcome::Committed {
        table_version, rows, ..
    } = written
    else {
        panic!("{written:?}")
    };
    let success = BatchResult {
        status: BatchStatus::Success,
        record_count: rows,
        table_version: Some(table_version),
        errors: vec![],
    };
    catalog::finish_batch(&store, &tenant, &batch, &success, false)
        .await
        .unwrap();
    let schema = lake.table_schema(&orders).await.unwrap().unwrap();
    catalog::set_observable_schema(&store, &tenant, &orders, &schema)
        .await
        .unwrap();
    spaced().await;
    let failed = catalog::create_batch(&store, &tenant, &orders, "run-2", "flow-1")
        .await
        .unwrap();
    let issue = BatchIssue {
        code: "SOURCE-UNREACHABLE".into(),
        description: "connection refused".into(),
    };
    let failure = BatchResult {
        status: BatchStatus::Failed,
        record_count: 0,
        table_version: None,
        errors: vec![issue],
    };
    catalog::finish_batch(&store, &tenant, &failed, &failure, false)
        .await
        .unwrap();
    spaced().await;
    let running = catalog::create_batch(&store, &tenant, &stock, "run-3", "flow-2")
        .await
        .unwrap();

    assert_eq!(
        listed(&api, &format!("/batches?dataSet={orders}")).await,
        [batch.as_str(), failed.as_str()]
    );
    assert_eq!(
        listed(&api, &format!("/batches?orderBy=desc:created&dataSet={orders}")).await,
        [failed.as_str(), batch.as_str()]
    );
    let batches = get(&api, &format!("/batches?dataSet={orders}")).await;
    let done = &batches.body[&batch];
    assert_eq!(done["status"], "success");
    assert_eq!(done["relatedObjects"], json!([{"type": "dataSet", "id": orders}]));
    assert_eq!(done["metrics"]["recordCount"], 2);
    assert_eq!(done["deltaVersion"], 0);
    assert!(done["completed"].as_i64().unwrap() >= done["started"].as_i64().unwrap());
    assert_eq!(batches.body[&failed]["errors"][0]["code"], "SOURCE-UNREACHABLE");
    assert_eq!(batches.body[&failed]["deltaVersion"], Value::Null);
    let single = get(&api, &format!("/batches/{running}")).await;
    assert_eq!(keys(&single.body), [running.as_str()]);
    assert_eq!(single.body[running.as_str()]["status"], "processing");
    assert_eq!(single.body[running.as_str()]["completed"], Value::Null);
    assert_eq!(listed(&api, "/batches?status=processing").await, [running.as_str()]);
    let stranger = inlet.identity("ORG2@AdobeOrg");
    assert_eq!(get(&stranger, &format!("/batches/{batch}")).await.code(), "1101-404");
    assert_eq!(get(&stranger, "/batches").await.body, json!({}));

    let dataset = &get(&api, &format!("/dataSets/{orders}")).await.body[&orders];
    assert_eq!(
        (dataset["lastBatchId"].as_str(), dataset["lastBatchStatus"].as_str()),
        (Some(failed.as_str()), Some("failed"))
    );
    assert_eq!(dataset["lastSuccessfulBatch"], batch.as_str());
    assert_eq!(dataset["observableSchema"]["properties"]["amount"]["type"], "number");
    let table = crate::common::delta::read(dataset["location"].as_str().unwrap(), false);
    assert_eq!(table["rows"], 2, "the shown location is the table");

    assert_eq!(
        delete(&api, &format!("/dataSets/{orders}")).await.body,
        json!([format!("@/dataSets/{orders}")])
    );
    assert_eq!(get(&api, &format!("/dataSets/{orders}")).await.code(), "1101-404");
    assert_eq!(get(&api, &format!("/batches?dataSet={orders}")).await.body, json!({}));
    assert_eq!(listed(&api, "/batches").await, [running.as_str()]);
}
