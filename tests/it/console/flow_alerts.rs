//! A flow's alerts in the console: its thresholds edited on its settings (a refusal beside
//! the field, then kept as the API shows them) and its alert targets (this flow added to a
//! subscription's flow list, then removed), each checked against what the API answers.

use reqwest::StatusCode;
use serde_json::json;

use super::browser::Browser;
use super::flow_settings::{open, wait_field_error};
use crate::dataflows::Lab;
use crate::dataflows::cdc::T0;

/// On the page of change data capture flow `id` (named `name`).
pub(super) async fn thresholds_and_targets(browser: &mut Browser, lab: &Lab, id: &str, name: &str) {
    // Another flow, and two subscriptions: one for every flow, one for the other flow only.
    let (source, target, _) = lab.connections("public.items").await;
    let schedule = json!({"startTime": T0, "frequency": "minute", "interval": 15});
    let other = lab.flow(&source, &target, json!([]), schedule).await;
    for body in [
        json!({"name": "everything", "url": "https://hooks.example.com/all", "events": ["flow.run.failure"]}),
        json!({"name": "pager", "url": "https://hooks.example.com/pager", "events": ["flow.run.delay"], "flowIds": [other]}),
    ] {
        let reply = lab.api.post("/subscriptions", &body).await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    }
    reopen(browser, lab, id, name).await;

    // Thresholds: 0 minutes is refused beside its field; then three are kept.
    browser.type_into("Delay alert after (minutes)", "0").await;
    browser.click("Save changes").await;
    let error = wait_field_error(browser, "Delay alert after (minutes)").await;
    assert!(error.contains("from 1 to 10080"), "{error}");
    browser.shot("56-flow-threshold-refused").await;
    assert!(flow(lab, id).await.get("inletAlerts").is_none(), "nothing kept");
    browser.type_into("Delay alert after (minutes)", "30").await;
    browser.type_into("Freshness target (minutes)", "90").await;
    browser.type_into("Slot lag alert above (bytes)", "1048576").await;
    browser.click("Save changes").await;
    browser.wait_text(".notice.ok", "saved").await;
    assert_eq!(
        flow(lab, id).await["inletAlerts"],
        json!({"delayAfterMinutes": 30, "freshnessAfterMinutes": 90, "slotLagBytes": 1048576})
    );

    // Alert targets: "everything" covers every flow; this flow is added to "pager", then removed.
    let targets = browser.wait_text(".alert-targets", "pager").await;
    assert!(targets.contains("Every flow"), "{targets}");
    browser.click("Add this flow").await;
    browser
        .wait_text(".alert-targets .notice.ok", "added to \"pager\"")
        .await;
    assert_eq!(pager_flows(lab).await, json!([other, id]));
    browser
        .eval("document.querySelector('.alert-targets').scrollIntoView()", vec![])
        .await;
    browser.shot("57-flow-alert-targets").await;
    browser.click("Remove this flow").await;
    browser
        .wait_text(".alert-targets .notice.ok", "removed from \"pager\"")
        .await;
    assert_eq!(pager_flows(lab).await, json!([other]));
    // Cleared thresholds give the flow back the server's (drawn afresh: no notice left over).
    reopen(browser, lab, id, name).await;
    browser.type_into("Delay alert after (minutes)", "").await;
    browser.type_into("Freshness target (minutes)", "").await;
    browser.type_into("Slot lag alert above (bytes)", "").await;
    browser.click("Save changes").await;
    browser.wait_text(".notice.ok", "saved").await;
    assert!(flow(lab, id).await.get("inletAlerts").is_none());
    assert_eq!(
        lab.api.delete(&format!("/flows/{other}")).await.status,
        StatusCode::NO_CONTENT
    );
}

/// Draws the flow's page afresh (by way of the list, so no notice of an earlier save stays).
async fn reopen(browser: &Browser, lab: &Lab, id: &str, name: &str) {
    open(browser, lab, "#/flows").await;
    browser.heading("Dataflows").await;
    open(browser, lab, &format!("#/flows/{id}")).await;
    browser.heading(name).await;
}

async fn flow(lab: &Lab, id: &str) -> serde_json::Value {
    lab.api.get(&format!("/flows/{id}")).await.body["items"][0].clone()
}

async fn pager_flows(lab: &Lab) -> serde_json::Value {
    let list = lab.api.get("/subscriptions").await.body["items"].clone();
    let pager = list
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "pager")
        .unwrap()
        .clone();
    pager["flowIds"].clone()
}
