//! Mapping sets (§11): both entry forms, versions, validation, tenancy.

use reqwest::{Method, StatusCode};
use serde_json::json;

use super::{conversion, detail_paths};
use crate::common::server::Inlet;

#[tokio::test]
async fn mapping_sets_round_trip_both_entry_forms_and_keep_old_versions() {
    let inlet = Inlet::start();
    let api = inlet.identity("ORG1@AdobeOrg");
    let body = json!({"outputSchema": {"schemaRef": {"id": "https://ns.adobe.com/x"}}, "mappings": [
        {"sourceType": "ATTRIBUTE", "source": "id", "destination": "order.id"},
        {"sourceAttribute": "city", "destinationXdmPath": "order.city"},
        {"sourceType": "STATIC", "source": "web", "destination": "channel"}]});
    let created = conversion(&api, Method::POST, "/mappingSets", Some(&body)).await;
    assert_eq!(created.status, StatusCode::OK, "{}", created.body);
    let id = created.body["id"].as_str().unwrap().to_string();
    assert_eq!(created.body["version"], 0);
    for field in ["createdDate", "modifiedDate", "createdBy", "modifiedBy"] {
        assert!(!created.body[field].is_null(), "{field}: {}", created.body);
    }

    let set = conversion(&api, Method::GET, &format!("/mappingSets/{id}"), None)
        .await
        .body;
    assert_eq!(set["outputSchema"], body["outputSchema"]);
    assert_eq!(
        set["mappings"][1],
        json!({"sourceType": "ATTRIBUTE", "source": "city", "destination": "order.city",
               "sourceAttribute": "city", "destinationXdmPath": "order.city"})
    );
    assert_eq!(set["mappings"][2]["sourceType"], "STATIC");
    assert_eq!(set["mappings"][2]["source"], "web");

    let replaced = json!({"mappings": [{"source": "id", "destination": "id"}]});
    let updated = conversion(&api, Method::PUT, &format!("/mappingSets/{id}"), Some(&replaced)).await;
    assert_eq!(updated.status, StatusCode::OK, "{}", updated.body);
    assert_eq!(updated.body["version"], 1);
    assert_eq!(updated.body["createdDate"], created.body["createdDate"]);
    let latest = conversion(&api, Method::GET, &format!("/mappingSets/{id}"), None)
        .await
        .body;
    assert_eq!(
        (latest["version"].as_i64(), latest["mappings"].as_array().unwrap().len()),
        (Some(1), 1)
    );
    let first = conversion(&api, Method::GET, &format!("/mappingSets/{id}?version=0"), None)
        .await
        .body;
    assert_eq!(first["mappings"].as_array().unwrap().len(), 3);
    let none = conversion(&api, Method::GET, &format!("/mappingSets/{id}?version=7"), None).await;
    assert_eq!(none.code(), "1101-404");
    let listed = conversion(&api, Method::GET, "/mappingSets?limit=5", None).await.body;
    assert_eq!(listed["data"][0]["id"], id.as_str());
    assert_eq!(listed["_page"]["count"], 1);

    let dev = api.in_sandbox("prod-other");
    assert_eq!(
        conversion(&dev, Method::GET, &format!("/mappingSets/{id}"), None)
            .await
            .code(),
        "2100-404"
    );
    let stranger = inlet.identity("ORG2@AdobeOrg");
    let hidden = conversion(&stranger, Method::GET, &format!("/mappingSets/{id}"), None).await;
    assert_eq!(hidden.code(), "1101-404");
    let deleted = conversion(&api, Method::DELETE, &format!("/mappingSets/{id}"), None).await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    let gone = conversion(&api, Method::GET, &format!("/mappingSets/{id}?version=0"), None).await;
    assert_eq!(gone.code(), "1101-404");
}

#[tokio::test]
async fn broken_mapping_sets_are_refused_naming_the_entry() {
    let inlet = Inlet::start();
    let api = inlet.identity("ORG1@AdobeOrg");
    let cases = [
        (json!({"mappings": []}), vec!["/mappings"]),
        (json!({}), vec!["/mappings"]),
        (
            json!({"mappings": [{"source": "a", "destination": "x"}, {"source": "b", "destination": "x"}]}),
            vec!["/mappings/1/destination"],
        ),
        (
            json!({"mappings": [{"source": "a", "destination": "x"}, {"source": "b", "destination": "x.y"}]}),
            vec!["/mappings/1/destination"],
        ),
        (
            json!({"mappings": [{"source": "a", "destination": "x"}, {"sourceType": "EXPRESSION", "source": "b", "destination": "y"}]}),
            vec!["/mappings/1/sourceType"],
        ),
        (
            json!({"mappings": [{"sourceType": "STATIC", "destination": "y"}, {"source": "a"}]}),
            vec!["/mappings/0/source", "/mappings/1/destination"],
        ),
    ];
    for (body, paths) in cases {
        let reply = conversion(&api, Method::POST, "/mappingSets", Some(&body)).await;
        assert_eq!(reply.code(), "1001-400", "{body}");
        assert_eq!(detail_paths(&reply), paths, "{body}");
    }
    let duplicate = json!({"mappings": [{"source": "a", "destination": "x"}, {"source": "b", "destination": "x"}]});
    let reply = conversion(&api, Method::POST, "/mappingSets", Some(&duplicate)).await;
    assert!(
        reply.message().contains("mapping 0"),
        "names the other entry: {}",
        reply.message()
    );
}
