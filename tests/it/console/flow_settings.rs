//! The flow settings the console gained last: a change data capture flow made through the
//! wizard (refused beside its field on a table without a key, then created on one with a
//! key), the flow edited (a refusal beside the interval, then its name and schedule changed;
//! its alert thresholds and targets, flow_alerts.rs) and deleted, and its dataset deleted;
//! each checked against what the API then answers.

use std::time::Instant;

use fantoccini::Locator;
use reqwest::{Method, StatusCode};
use serde_json::json;

use super::browser::Browser;
use super::schema::sign_in;
use super::{list_screenshots, shots_dir};
use crate::dataflows::cdc::cdc_lab;

const CATALOG: &str = "/data/foundation/catalog";

#[tokio::test]
async fn a_cdc_flow_is_made_in_the_wizard_then_edited_and_deleted_with_its_dataset() {
    let started = Instant::now();
    let lab = cdc_lab(
        "CREATE TABLE public.items (id bigint PRIMARY KEY, n int NOT NULL, note text, at timestamptz);
         INSERT INTO public.items SELECT g, g * 7, 'note ' || g, now() FROM generate_series(1, 20) g;
         ALTER TABLE public.items OWNER TO reader;
         CREATE TABLE public.nokey (a int, b text, at timestamptz); ALTER TABLE public.nokey OWNER TO reader;",
        "",
    );
    lab.base_connection().await;
    let mut browser = Browser::start(&shots_dir()).await;
    browser.secrets = vec![lab.api.client_secret.clone(), crate::dataflows::PASSWORD.into()];
    sign_in(&browser, &lab.inlet.base, &lab.api.client_id, &lab.api.client_secret).await;

    // A table without a key cannot be captured: the API's refusal is shown beside the
    // change data capture choice, and nothing the attempt made is left.
    open(&browser, &lab, "#/flows/new").await;
    browser.wait_text(".step-body h2", "Step 1 of 5: Source").await;
    browser.choose("Table or view", "public.nokey").await;
    cdc_switch(&browser).await.click().await.unwrap();
    walk_to_review(&browser, "nokey_cdc").await;
    browser.click("Create dataflow").await;
    let refusal = browser.wait_text(".field-error", "/params/cdcEnabled").await;
    assert!(refusal.contains("key"), "{refusal}");
    browser.wait_text(".step-body h2", "Step 1 of 5: Source").await;
    assert_eq!(
        datasets(&lab).await,
        0,
        "the refused attempt's dataset was deleted again"
    );

    // On a table with a key it is created: the source connection captures changes, the
    // flow has no delta column and no mapping.
    browser.choose("Table or view", "public.items").await;
    browser
        .wait("the columns", Locator::Css(".checks input[value=note]"))
        .await;
    let cdc = cdc_switch(&browser).await;
    assert!(cdc.is_selected().await.unwrap(), "the choice is kept");
    walk_to_review(&browser, "items_cdc").await;
    let review = browser.wait_text("dl.summary", "Change data capture").await;
    assert!(review.contains("pause"), "{review}");
    browser.shot("50-wizard-cdc-review").await;
    browser.click("Create dataflow").await;
    browser.heading("public.items to items_cdc").await;
    browser.wait_text("dl.summary", "change data capture").await;
    let flows = lab.api.get("/flows").await;
    let flow = flows.body["items"][0].clone();
    let id = flow["id"].as_str().unwrap().to_string();
    let transformations = flow["transformations"].to_string();
    assert!(
        !transformations.contains("deltaColumn") && !transformations.contains("Mapping"),
        "{flow}"
    );
    assert!(transformations.contains(r#""schemaChangePolicy":"pause""#), "{flow}");
    let source = lab
        .api
        .get(&format!(
            "/sourceConnections/{}",
            flow["sourceConnectionIds"][0].as_str().unwrap()
        ))
        .await;
    assert_eq!(
        source.body["items"][0]["params"]["cdcEnabled"],
        json!(true),
        "{}",
        source.body
    );
    let target = lab
        .api
        .get(&format!(
            "/targetConnections/{}",
            flow["targetConnectionIds"][0].as_str().unwrap()
        ))
        .await;
    let dataset = target.body["items"][0]["params"]["dataSetId"]
        .as_str()
        .unwrap()
        .to_string();

    // Edit: a 5-minute interval is refused beside the field; then the name and schedule change.
    browser.choose("Frequency", "minute").await;
    browser.type_into("Interval", "5").await;
    browser.click("Save changes").await;
    let error = wait_field_error(&browser, "Interval").await;
    assert!(!error.is_empty(), "the refusal is beside the interval");
    browser.shot("51-flow-edit-refused").await;
    let unchanged = lab.api.get(&format!("/flows/{id}")).await;
    assert_eq!(
        unchanged.body["items"][0]["scheduleParams"]["interval"]
            .to_string()
            .trim_matches('"'),
        "15"
    );
    browser.type_into("Name", "items mirror").await;
    browser.choose("Frequency", "hour").await;
    browser.type_into("Interval", "2").await;
    browser.click("Save changes").await;
    browser.heading("items mirror").await;
    browser.wait_text("dl.summary", "every 2 hours").await;
    browser.shot("52-flow-edited").await;
    let edited = lab.api.get(&format!("/flows/{id}")).await.body["items"][0].clone();
    assert_eq!(edited["name"], "items mirror", "{edited}");
    assert_eq!(edited["scheduleParams"]["frequency"], "hour", "{edited}");
    assert_eq!(
        edited["scheduleParams"]["interval"].to_string().trim_matches('"'),
        "2",
        "{edited}"
    );
    assert_eq!(
        edited["scheduleParams"]["startTime"], flow["scheduleParams"]["startTime"],
        "{edited}"
    );
    super::flow_alerts::thresholds_and_targets(&mut browser, &lab, &id, "items mirror").await;

    // The dataset cannot be deleted while the flow writes into it: the API says which flow.
    open(&browser, &lab, &format!("#/datasets/{dataset}")).await;
    browser.heading("items_cdc").await;
    browser.click("Delete").await;
    browser.click("Yes, delete").await;
    let refused = browser.wait_text(".notice.error", "is used by flow").await;
    assert!(refused.contains(&id), "{refused}");
    browser.shot("54-dataset-in-use").await;
    let reply = lab
        .api
        .send(
            lab.api
                .request(Method::DELETE, &format!("{CATALOG}/dataSets/{dataset}")),
        )
        .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{}", reply.body);
    let body = reply.body.to_string();
    assert!(body.contains("1418") && body.contains(&id), "{body}");
    let kept = lab
        .api
        .send(lab.api.request(Method::GET, &format!("{CATALOG}/dataSets/{dataset}")))
        .await;
    assert_eq!(kept.status, StatusCode::OK, "the refused dataset is kept");

    // Delete the flow, after the confirmation in place.
    open(&browser, &lab, &format!("#/flows/{id}")).await;
    browser.heading("items mirror").await;
    browser.click("Delete").await;
    browser.wait_text(".confirm", "Delete \"items mirror\"?").await;
    browser.shot("53-flow-delete-confirm").await;
    browser.click("Yes, delete").await;
    browser.heading("Dataflows").await;
    assert_eq!(lab.api.get(&format!("/flows/{id}")).await.status, StatusCode::NOT_FOUND);

    // Delete the dataset.
    open(&browser, &lab, &format!("#/datasets/{dataset}")).await;
    browser.heading("items_cdc").await;
    browser.click("Delete").await;
    browser.click("Yes, delete").await;
    browser.heading("Datasets").await;
    let gone = lab
        .api
        .send(lab.api.request(Method::GET, &format!("{CATALOG}/dataSets/{dataset}")))
        .await;
    assert_eq!(gone.status, StatusCode::NOT_FOUND, "{}", gone.body);
    browser.assert_no_secret_in_html("the datasets page").await;

    merge_by_key(&mut browser, &lab).await;
    list_screenshots(&browser, started);
    browser.quit().await;
}

/// Opens the console's `route` (`#/...`).
pub(super) async fn open(browser: &Browser, lab: &crate::dataflows::Lab, route: &str) {
    browser
        .client
        .goto(&format!("{}/{route}", lab.inlet.base))
        .await
        .expect("open the page");
}

/// The wizard's change data capture checkbox.
async fn cdc_switch(browser: &Browser) -> fantoccini::elements::Element {
    browser
        .wait(
            "the change data capture choice",
            Locator::XPath("//label[contains(., 'Change data capture')]/input"),
        )
        .await
}

/// From the source step to the review: the dataset named `dataset`, no mapping (the step
/// says a CDC flow takes none), every 15 minutes, schema changes pause.
async fn walk_to_review(browser: &Browser, dataset: &str) {
    browser.click("Next").await;
    browser.type_into("Dataset name", dataset).await;
    browser.click("Next").await;
    browser.wait_text(".step-body", "takes no mapping").await;
    browser.click("Next").await;
    browser.choose("Frequency", "minute").await;
    browser.type_into("Interval (minutes between runs)", "15").await;
    let text = browser.page_text().await;
    assert!(
        !text.contains("Delta column"),
        "a CDC flow is offered no delta column: {text}"
    );
    browser.choose("When the source's columns change", "pause").await;
    browser.click("Next").await;
    browser.wait_text(".step-body h2", "Step 5 of 5: Review").await;
}

/// The wizard's "Merge rows by primary key" beside a delta column: refused beside the
/// choice for a table without a key, then sent as Copy `mergeByKey: true`.
async fn merge_by_key(browser: &mut Browser, lab: &crate::dataflows::Lab) {
    for (table, dataset) in [("public.nokey", "nokey_merged"), ("public.items", "items_merged")] {
        open(browser, lab, "#/flows").await;
        browser.heading("Dataflows").await;
        open(browser, lab, "#/flows/new").await;
        browser.wait_text(".step-body h2", "Step 1 of 5: Source").await;
        browser.choose("Table or view", table).await;
        cdc_switch(browser).await;
        browser.click("Next").await;
        browser.type_into("Dataset name", dataset).await;
        browser.click("Next").await;
        browser.click("Next").await;
        browser.choose("Frequency", "minute").await;
        browser.type_into("Interval (minutes between runs)", "15").await;
        browser.choose("Delta column", "at").await;
        browser
            .wait(
                "the merge choice",
                Locator::XPath("//label[contains(., 'Merge rows by primary key')]/input"),
            )
            .await
            .click()
            .await
            .unwrap();
        browser.click("Next").await;
        browser.wait_text("dl.summary", "merged by primary key").await;
        browser.click("Create dataflow").await;
        if table == "public.nokey" {
            let refusal = browser.wait_text(".field-error", "primary key").await;
            assert!(refusal.contains("mergeByKey"), "{refusal}");
            browser.wait_text(".step-body h2", "Step 4 of 5: Schedule").await;
            browser.shot("55-wizard-merge-refused").await;
        }
    }
    browser.heading("public.items to items_merged").await;
    browser.wait_text("dl.summary", "merged by primary key").await;
    let flows = lab.api.get("/flows").await;
    let copy = flows.body["items"].as_array().unwrap()[0]["transformations"].to_string();
    assert!(
        copy.contains(r#""mergeByKey":true"#) && copy.contains(r#""name":"at""#),
        "{copy}"
    );

    // Its failed-record threshold: 150 % is refused beside the field, 5 % is kept.
    let id = flows.body["items"][0]["id"].as_str().unwrap().to_string();
    browser.type_into("Failed-record threshold (%)", "150").await;
    browser.click("Save changes").await;
    let error = wait_field_error(browser, "Failed-record threshold (%)").await;
    assert!(error.contains("at most 100"), "{error}");
    browser.type_into("Failed-record threshold (%)", "5").await;
    browser.click("Save changes").await;
    browser.wait_text(".notice.ok", "saved").await;
    let options = &lab.api.get(&format!("/flows/{id}")).await.body["items"][0]["options"];
    assert_eq!(
        options["partialIngestionPercent"].to_string().trim_matches('"'),
        "5",
        "{options}"
    );
}

/// The number of datasets in the sandbox.
async fn datasets(lab: &crate::dataflows::Lab) -> usize {
    let reply = lab
        .api
        .send(lab.api.request(Method::GET, &format!("{CATALOG}/dataSets")))
        .await;
    reply.body.as_object().map_or(0, |o| o.len())
}

/// Waits until the field labelled `label` shows an error; answers it.
pub(super) async fn wait_field_error(browser: &Browser, label: &str) -> String {
    let started = Instant::now();
    loop {
        let error = browser.field_error(label).await;
        if !error.is_empty() || started.elapsed() > super::browser::PATIENCE {
            return error;
        }
        tokio::time::sleep(std::time::Duration::from_millis(150)).await;
    }
}
