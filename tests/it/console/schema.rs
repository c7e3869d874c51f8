//! A dataflow paused by a schema change, in the console: the flow's page says what changed
//! and offers the choices; accepting re-runs the paused window, the waiting one lands, and
//! the runs show the changes they applied.

use std::time::{Duration, Instant};

use serde_json::json;

use super::browser::Browser;
use super::{list_screenshots, shots_dir};
use crate::dataflows::{Lab, status};

const T0: i64 = 1_735_689_600;
const PERIOD: i64 = 900;

#[tokio::test]
async fn a_paused_flow_shows_its_schema_change_and_takes_the_users_choice() {
    let started = Instant::now();
    let lab = Lab::start(
        T0 - 60,
        "CREATE TABLE public.orders (id int PRIMARY KEY, n int NOT NULL, at timestamptz NOT NULL);
         INSERT INTO public.orders VALUES (1, 10, to_timestamp(1735689601));",
        "",
    );
    let (source, target, _) = lab.connections("public.orders").await;
    let copy = json!([{"name": "Copy", "params": {"deltaColumn": {"name": "at"}, "schemaChangePolicy": "pause"}}]);
    let schedule = json!({"startTime": T0, "frequency": "minute", "interval": 15});
    let flow = lab.flow(&source, &target, copy, schedule).await;
    lab.set_clock(T0 + PERIOD + 1);
    lab.ended_runs(&flow, 1, Duration::from_secs(60)).await;
    lab.pg.psql(
        "shop",
        "ALTER TABLE public.orders ADD COLUMN extra text;
         INSERT INTO public.orders VALUES (2, 20, to_timestamp(1735690501), 'x2'), (3, 30, to_timestamp(1735691401), 'x3');",
    );
    lab.set_clock(T0 + 3 * PERIOD + 1);
    let runs = lab.ended_runs(&flow, 2, Duration::from_secs(60)).await;
    let paused = runs.iter().find(|r| r["windowNumber"] == 2).expect("window 2's run");
    assert_eq!(status(paused), "failed", "{runs:#?}");

    let mut browser = Browser::start(&shots_dir()).await;
    browser.secrets = vec![lab.api.client_secret.clone()];
    sign_in(&browser, &lab.inlet.base, &lab.api.client_id, &lab.api.client_secret).await;
    browser
        .client
        .goto(&format!("{}/#/flows/{flow}", lab.inlet.base))
        .await
        .unwrap();
    let panel = browser.wait_text("section.paused", "Paused by a schema change").await;
    assert!(panel.contains("extra: added (string), paused"), "{panel}");
    assert!(panel.contains("Re-snapshot the dataset"), "{panel}");
    browser.watch_csp().await;
    browser.shot("40-flow-paused").await;
    browser.click("Accept the changes").await;
    browser
        .wait_text("table.runs-table tbody", "extra: added (string), applied")
        .await;
    let landed = lab.ended_runs(&flow, 4, Duration::from_secs(60)).await;
    assert_eq!(
        landed.iter().filter(|r| status(r) == "success").count(),
        3,
        "{landed:#?}"
    );
    browser.wait_all("table.runs-table tbody tr", "", 4).await;
    let text = browser.page_text().await;
    assert!(
        !text.contains("Paused by a schema change"),
        "the panel is gone once the run landed: {text}"
    );
    browser.shot("41-flow-resumed").await;
    browser.assert_no_secret_in_html("the flow page").await;
    assert_eq!(browser.csp_violations().await, json!([]), "CSP violations");
    list_screenshots(&browser, started);
    browser.quit().await;
}

/// Signs in with the client's id and secret; the org's only sandbox is taken without asking.
pub(super) async fn sign_in(browser: &Browser, base: &str, client_id: &str, secret: &str) {
    browser
        .client
        .goto(&format!("{base}/"))
        .await
        .expect("open the console");
    browser.heading("Sign in to Inlet").await;
    browser.type_into("Client ID", client_id).await;
    browser.type_into("Client secret", secret).await;
    browser.click("Sign in").await;
    browser.heading("Connections").await;
}
