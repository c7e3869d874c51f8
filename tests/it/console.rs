//! The web console in a real browser (headless chromium over WebDriver) against a real
//! `inlet serve` and a real PostgreSQL: the whole path a new user walks, the refusals they
//! must be shown, and no secret left in a page, the browser's storage or the server's log.
//! Screenshots are written to target/console-screenshots/ and listed on stderr.

mod browser;
mod flow_alerts;
mod flow_settings;
mod schema;

use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;

use fantoccini::Locator;
use reqwest::{Method, StatusCode};
use serde_json::Value;

use crate::common::pg::{Auth, PgOptions, PgServer, User};
use crate::common::server::{Inlet, Options};
use crate::dataflows::QUICK;
use browser::Browser;

const ORG: &str = "ACME@AdobeOrg";
const PASSWORD: &str = "Reader-pw-console-7c1e";
const WRONG_PASSWORD: &str = "not-the-reader-pw-93ab";
const WRONG_SECRET: &str = "not-the-client-secret-5d0f";
const ROWS: usize = 25;

fn shots_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/console-screenshots")
}

fn source_database() -> PgServer {
    let pg = PgServer::start(PgOptions {
        users: vec![User::new("reader", PASSWORD, Auth::Scram)],
        ..PgOptions::default()
    });
    pg.create_database("shop");
    pg.psql(
        "shop",
        &format!(
            "CREATE TABLE orders (id bigint PRIMARY KEY, customer text NOT NULL, total numeric(10,2), \
               placed_at timestamptz NOT NULL);
             INSERT INTO orders SELECT i, 'customer-' || i, i * 1.25, \
               timestamptz '2024-05-01 10:00:00+00' + i * interval '1 hour' FROM generate_series(1, {ROWS}) i;
             CREATE SCHEMA sales;
             CREATE TABLE sales.regions (code text PRIMARY KEY, name text);
             INSERT INTO sales.regions VALUES ('eu', 'Europe'), ('us', 'Americas');
             GRANT USAGE ON SCHEMA sales TO reader;
             GRANT SELECT ON ALL TABLES IN SCHEMA public, sales TO reader;"
        ),
    );
    pg
}

/// Lists the screenshots where CI's log shows them (the harness captures `println!`).
fn list_screenshots(browser: &Browser, started: Instant) {
    let mut err = std::io::stderr().lock();
    let _ = writeln!(err, "console screenshots ({:.0?} wall time):", started.elapsed());
    for path in &browser.written {
        let _ = writeln!(err, "  {}", path.display());
    }
}

#[tokio::test]
async fn a_new_user_connects_explores_builds_a_dataflow_and_reads_its_dataset() {
    let started = Instant::now();
    let pg = source_database();
    let inlet = Inlet::start_with(Options {
        config: Some(format!("{QUICK}[alerts]\nallow_http = true\n")),
        ..Options::default()
    });
    let api = inlet.identity(ORG);
    let mut browser = Browser::start(&shots_dir()).await;
    browser.secrets = vec![
        api.client_secret.clone(),
        PASSWORD.into(),
        WRONG_PASSWORD.into(),
        WRONG_SECRET.into(),
    ];

    sign_in(&mut browser, &inlet.base, &api.client_id, &api.client_secret).await;
    let token = session_token(&browser).await;
    browser.secrets.push(token.clone());
    create_and_test_connection(&mut browser, pg.port()).await;
    explore(&mut browser).await;
    wizard_refuses_then_creates(&mut browser, &api).await;
    let flow_url = browser.client.current_url().await.unwrap().to_string();
    flow_runs(&mut browser).await;
    dataset(&mut browser).await;
    phone(&mut browser, &flow_url).await;
    alerts_page(&mut browser).await;
    assert_eq!(browser.csp_violations().await, serde_json::json!([]), "CSP violations");
    sign_out(&mut browser, &token, &api.client_secret).await;
    sign_in_with_two_sandboxes(&mut browser, &api).await;

    let logs = inlet.logs();
    for secret in &browser.secrets {
        assert!(!logs.contains(secret.as_str()), "a secret is in the server's log");
    }
    list_screenshots(&browser, started);
    browser.quit().await;
}

async fn sign_in(browser: &mut Browser, base: &str, client_id: &str, secret: &str) {
    browser
        .client
        .goto(&format!("{base}/"))
        .await
        .expect("open the console");
    browser.heading("Sign in to Inlet").await;
    browser.watch_csp().await;
    browser.shot("01-sign-in").await;
    // Keyboard only: type, then Enter submits the form.
    browser.type_into("Client ID", client_id).await;
    browser.type_into("Client secret", &format!("{WRONG_SECRET}\n")).await;
    browser
        .wait_text(
            ".notice.error",
            "Sign-in failed: unknown client_id or wrong client_secret",
        )
        .await;
    browser.shot("02-sign-in-refused").await;
    browser.type_into("Client secret", secret).await;
    browser.click("Sign in").await;
    // The org has one sandbox: sign-in takes it without asking.
    browser.heading("Connections").await;
    let stored = browser
        .eval(
            "return JSON.parse(sessionStorage.getItem('inlet.session')).sandbox",
            vec![],
        )
        .await;
    assert_eq!(stored, "prod", "the only sandbox is chosen");
    browser.wait_text(".empty", "No connections in this sandbox yet").await;
}

/// With a second sandbox in the org, sign-in asks which one.
async fn sign_in_with_two_sandboxes(browser: &mut Browser, api: &crate::common::server::Identity) {
    let created = api
        .send(
            api.request(Method::POST, "/data/foundation/sandbox-management/sandboxes")
                .json(&serde_json::json!({"name": "dev", "title": "Dev", "type": "development"})),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    browser.type_into("Client ID", &api.client_id).await;
    browser.type_into("Client secret", &api.client_secret).await;
    browser.click("Sign in").await;
    browser.heading("Choose a sandbox").await;
    browser.click("Continue").await;
    browser.heading("Connections").await;
    browser.click("Sign out").await;
    browser.heading("Sign in to Inlet").await;
}

async fn session_token(browser: &Browser) -> String {
    let stored = browser
        .eval("return sessionStorage.getItem('inlet.session')", vec![])
        .await;
    let session: Value = serde_json::from_str(stored.as_str().expect("a session is stored")).unwrap();
    session["token"]
        .as_str()
        .expect("the session holds the token")
        .to_string()
}

const SHOP_CARD: &str = "//li[contains(@class, 'connection')][.//h2[normalize-space(.)='shop']]";

async fn create_and_test_connection(browser: &mut Browser, port: u16) {
    browser.click("New connection").await;
    browser.heading("New connection").await;
    let basic = browser
        .wait(
            "the Basic Authentication choice",
            Locator::XPath("//label[contains(., 'Basic Authentication')]/input"),
        )
        .await;
    basic.click().await.unwrap();
    browser.type_into("Name", "shop").await;
    browser.type_into("Server", "127.0.0.1").await;
    browser.type_into("Port", &port.to_string()).await;
    browser.type_into("Database", "shop").await;
    browser.type_into("User name", "reader").await;
    browser.type_into("Password", WRONG_PASSWORD).await;
    browser.choose("SSL mode", "Disable").await;
    browser.shot("03-new-connection").await;
    browser.click("Create connection").await;
    browser.wait_text(".notice.ok", "Connection \"shop\" created").await;

    // A failing test shows the classified answer as the API words it.
    browser.click_in(SHOP_CARD, "Test").await;
    let failed = browser
        .wait_text(".test-result .notice.error", "Connection test failed")
        .await;
    assert!(failed.contains("AUTHENTICATION_FAILED"), "{failed}");
    browser.shot("04-connection-test-failed").await;

    // Edit: the stored password is not shown; a new one replaces it.
    browser.click_in(SHOP_CARD, "Edit").await;
    browser.heading("Edit shop").await;
    let password = browser.field("Password").await;
    assert_eq!(password.prop("value").await.unwrap().as_deref(), Some(""));
    assert_eq!(
        browser.field("Server").await.prop("value").await.unwrap().as_deref(),
        Some("127.0.0.1")
    );
    browser.shot("05-edit-connection").await;
    browser.type_into("Password", PASSWORD).await;
    browser.click("Save changes").await;
    browser.wait_text(".notice.ok", "Connection \"shop\" saved").await;
    browser.click_in(SHOP_CARD, "Test").await;
    browser
        .wait_text(".test-result .notice.ok", "Connection test succeeded")
        .await;
    browser.shot("06-connections").await;
}

async fn explore(browser: &mut Browser) {
    browser.click_in(SHOP_CARD, "Explore").await;
    browser.heading("Explore shop").await;
    browser.wait_text(".tree summary", "public").await;
    browser.wait_text(".tree summary", "sales").await;
    browser.click_in("//nav[contains(@class, 'tree')]", "orders").await;
    let columns = browser.wait_text("table.columns", "placed_at").await;
    assert!(
        columns.contains("placed_at string string (date-time) timestamp with time zone"),
        "{columns}"
    );
    assert!(columns.contains("id long integer bigint"), "{columns}");
    let preview = browser.wait_text("table.preview", "customer-1").await;
    let rows = browser
        .client
        .find_all(Locator::Css("table.preview tbody tr"))
        .await
        .unwrap();
    assert_eq!(rows.len(), 10, "the preview shows the first 10 rows:\n{preview}");
    assert!(preview.contains("1 customer-1 1.25"), "{preview}");
    browser.shot("07-explore").await;
}

async fn wizard_refuses_then_creates(browser: &mut Browser, api: &crate::common::server::Identity) {
    browser.click("Create a dataflow from this table").await;
    browser.heading("New dataflow").await;
    browser.wait_text(".step-body h2", "Step 1 of 5: Source").await;
    browser.wait_text(".checks", "customer").await;
    browser.shot("08-wizard-source").await;
    browser.click("Next").await;
    browser.wait_text(".step-body h2", "Step 2 of 5: Dataset").await;
    let name = browser.field("Dataset name").await;
    assert_eq!(name.prop("value").await.unwrap().as_deref(), Some("orders"));
    browser.click("Next").await;
    browser.wait_text(".step-body h2", "Step 3 of 5: Mapping").await;
    browser.click("Next").await;
    browser.wait_text(".step-body h2", "Step 4 of 5: Schedule").await;
    browser.choose("Frequency", "minute").await;
    browser.type_into("Interval (minutes between runs)", "5").await;
    browser.click("Next").await;
    browser.wait_text(".step-body h2", "Step 5 of 5: Review").await;
    browser.click("Create dataflow").await;

    // The API refuses the interval: the wizard goes back to its step and says so beside it.
    browser.wait_text(".step-body h2", "Step 4 of 5: Schedule").await;
    browser.wait_text(".field-error", "a whole number of at least 15").await;
    let beside = browser.field_error("Interval (minutes between runs)").await;
    assert!(
        beside.contains("scheduleParams.interval is required for `minute` flows"),
        "{beside}"
    );
    browser.shot("09-wizard-refused").await;
    // Nothing of the refused attempt is left behind.
    let sources = api.get("/sourceConnections").await;
    assert_eq!(sources.body["items"], serde_json::json!([]), "{}", sources.body);
    let datasets = api
        .send(api.request(Method::GET, "/data/foundation/catalog/dataSets"))
        .await;
    assert_eq!(datasets.body, serde_json::json!({}), "{}", datasets.body);

    browser.choose("Frequency", "once").await;
    browser.click("Next").await;
    browser.wait_text(".step-body h2", "Step 5 of 5: Review").await;
    browser.wait_text("dl.summary", "once, starting now").await;
    browser.shot("10-wizard-review").await;
    browser.click("Create dataflow").await;
    browser.heading("public.orders to orders").await;
}

async fn flow_runs(browser: &mut Browser) {
    browser
        .wait_text(".notice.ok", "Dataflow \"public.orders to orders\" created")
        .await;
    let runs = browser.wait_text("table.runs-table tbody", "success").await;
    assert!(runs.contains(&format!("{ROWS} read, {ROWS} written")), "{runs}");
    browser.wait("the runs chart", Locator::Css("svg.chart rect.bar")).await;
    // Run now: an on-demand window of the `once` flow by its timestamp column, shown live
    // until it ends.
    browser.wait_text(".run-now select", "placed_at").await;
    browser.click("Start a run").await;
    browser.wait_text(".run-now .notice.ok", "Run started").await;
    browser.wait_all("table.runs-table tbody tr", "success", 2).await;
    browser.wait_all("svg.chart rect.bar", "", 2).await;
    browser.shot("11-flow").await;
    browser.scroll_to("section.runs").await;
    browser.shot("12-flow-runs").await;
    browser.click_in("//nav", "Dataflows").await;
    browser.heading("Dataflows").await;
    let flows = browser.wait_text("table.flows", "public.orders to orders").await;
    assert!(flows.contains("enabled") && flows.contains("success"), "{flows}");
    browser.shot("13-flows").await;
}

async fn dataset(browser: &mut Browser) {
    browser.click_in("//nav", "Datasets").await;
    browser.heading("Datasets").await;
    browser.click("orders").await;
    browser.heading("orders").await;
    let rows = browser.wait_text(".row-count", &ROWS.to_string()).await;
    assert_eq!(rows, ROWS.to_string());
    let location = browser
        .wait("the location", Locator::Css("code.location"))
        .await
        .text()
        .await
        .unwrap();
    let snippet = browser.wait_text("pre.snippet", "delta_scan").await;
    assert!(
        snippet.contains(&format!("SELECT * FROM delta_scan('{location}');")),
        "{snippet}"
    );
    browser.wait_text("table", "CREATE TABLE").await;
    // The table's health: one data file, not yet maintained.
    browser.wait_text(".small-files", "1 of 1").await;
    browser.wait_text(".last-maintenance", "none yet").await;
    browser.shot("14-dataset").await;
    browser.click("Polars").await;
    browser
        .wait_text("pre.snippet", &format!("pl.read_delta(\"{location}\")"))
        .await;
    browser.scroll_to("table.versions").await;
    browser.shot("14-dataset-read").await;
}

async fn phone(browser: &mut Browser, flow_url: &str) {
    browser.resize(390, 844).await;
    browser.assert_fits_width("dataset").await;
    browser.shot("15-phone-dataset").await;
    // A reload keeps the session (it lives in this tab's sessionStorage).
    browser.client.goto(flow_url).await.unwrap();
    browser.heading("public.orders to orders").await;
    browser.watch_csp().await;
    browser.wait_text("table.runs-table tbody", "success").await;
    browser.assert_fits_width("flow").await;
    browser.shot("16-phone-flow").await;
    browser.click_in("//nav", "Connections").await;
    browser.wait_text(SHOP_CARD_CSS, "shop").await;
    browser.assert_fits_width("connections").await;
    // A connection a flow reads through cannot go; the API's reason is shown.
    browser.click_in(SHOP_CARD, "Delete").await;
    browser.click_in(SHOP_CARD, "Yes, delete").await;
    let refused = browser.wait_text(".test-result .notice.error", "Not deleted:").await;
    assert!(refused.contains("delete that first"), "{refused}");
    browser.shot("17-phone-connections").await;
    browser.resize(1280, 800).await;
}

const SHOP_CARD_CSS: &str = "li.connection h2";

/// The alerts page: a refused URL and rate limit shown at their fields, a subscription
/// created with a rate limit, its secret
/// shown once (and gone after the page is left), its test delivery received (signed with
/// that secret) and listed under its deliveries.
async fn alerts_page(browser: &mut Browser) {
    use crate::alerts::receiver::{Answer, Receiver};
    let receiver = Receiver::start(Answer::Ok).await;
    browser.click_in("//nav", "Alerts").await;
    browser.heading("Alerts").await;
    browser.type_into("Webhook URL", "ftp://hooks.example.com/x").await;
    browser.click("Create subscription").await;
    browser.wait_text(".field-error", "ftp").await;
    browser.type_into("Name", "pager").await;
    browser.type_into("Webhook URL", &receiver.url()).await;
    // A rate limit of 0 is refused beside its field; 30 a minute is kept.
    browser.type_into("Deliveries per minute, at most", "0").await;
    browser.click("Create subscription").await;
    browser.wait_text(".field-error", "from 1 to 60000").await;
    browser.type_into("Deliveries per minute, at most", "30").await;
    browser.click("Create subscription").await;
    let secret = browser.wait_text("code.secret", "whsec_").await.trim().to_string();
    browser.wait_text("li.subscription h2", "pager").await;
    browser.wait_text("li.subscription", "at most 30 a minute").await;
    browser.shot("22-alerts-created").await;
    let started = Instant::now();
    while !receiver.received().iter().any(|r| r.signed_with(&secret)) {
        assert!(started.elapsed().as_secs() < 30, "no signed test delivery arrived");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let card = "//li[contains(@class, 'subscription')]";
    loop {
        browser.click_in(card, "Deliveries").await;
        let shown = browser.page_text().await;
        if shown.contains("subscription.test") && shown.contains("delivered") {
            break;
        }
        assert!(started.elapsed().as_secs() < 30, "the delivery is not shown: {shown}");
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    }
    browser
        .eval("document.querySelector('.deliveries').scrollIntoView()", vec![])
        .await;
    browser.shot("23-alerts-deliveries").await;
    // Shown once: after leaving the page, nowhere in it, nor in the log (checked at the end).
    browser.secrets.push(secret);
    browser.click_in("//nav", "Connections").await;
    browser.click_in("//nav", "Alerts").await;
    browser.wait_text("li.subscription h2", "pager").await;
    browser.assert_no_secret_in_html("alerts again").await;
}

async fn sign_out(browser: &mut Browser, token: &str, client_secret: &str) {
    browser.click("Sign out").await;
    browser.heading("Sign in to Inlet").await;
    browser.wait_text(".notice.ok", "Signed out").await;
    let storage = browser
        .eval(
            "return JSON.stringify({session: {...sessionStorage}, local: {...localStorage}, cookies: document.cookie})",
            vec![],
        )
        .await;
    let storage = storage.as_str().unwrap();
    assert_eq!(storage, r#"{"session":{},"local":{},"cookies":""}"#);
    for secret in [token, client_secret, PASSWORD] {
        assert!(!storage.contains(secret));
    }
    browser.shot("18-signed-out").await;
}

/// The wizard's other paths: some columns, a mapping with a nested destination and a
/// constant, a periodic schedule with backfill and a delta column picked from the
/// table's timestamps. The flow the API stored is what was chosen.
#[tokio::test]
async fn the_wizard_builds_a_periodic_flow_with_a_mapping() {
    let started = Instant::now();
    let pg = source_database();
    let inlet = Inlet::start_with(Options {
        config: Some(QUICK.to_string()),
        ..Options::default()
    });
    let api = inlet.identity(ORG);
    api.create_connection(&serde_json::json!({
        "name": "shop", "connectionSpec": {"id": crate::common::server::PG_SPEC, "version": "1.0"},
        "auth": {"specName": "Basic Authentication", "params": {"server": "127.0.0.1", "port": pg.port(),
            "database": "shop", "username": "reader", "password": PASSWORD, "sslMode": "Disable"}}}))
        .await;
    let mut browser = Browser::start(&shots_dir()).await;
    browser.secrets = vec![api.client_secret.clone(), PASSWORD.into()];
    browser
        .client
        .goto(&format!("{}/#/flows/new", inlet.base))
        .await
        .unwrap();
    browser.type_into("Client ID", &api.client_id).await;
    browser.type_into("Client secret", &api.client_secret).await;
    browser.click("Sign in").await;
    // The org's only sandbox is taken without asking.
    browser.heading("Connections").await;
    browser.click_in("//nav", "Dataflows").await;
    browser.click("New dataflow").await;
    browser.wait_text(".step-body h2", "Step 1 of 5: Source").await;
    browser.choose("Table or view", "public.orders").await;
    let total = browser
        .wait("the total column", Locator::Css(".checks input[value=total]"))
        .await;
    total.click().await.unwrap();
    browser.click("Next").await;
    browser.type_into("Dataset name", "orders_mapped").await;
    browser.click("Next").await;
    let map = browser
        .wait(
            "the mapping switch",
            Locator::XPath("//label[contains(., 'Map columns')]/input"),
        )
        .await;
    map.click().await.unwrap();
    browser.type_into("Destination 1", "order.id").await;
    browser.click("Add a mapping").await;
    let kind = browser
        .wait("the new row's kind", Locator::Css(".mapping-row[data-row='3'] select"))
        .await;
    kind.select_by_value("constant").await.unwrap();
    browser.type_into("Source 4", "shop").await;
    browser.type_into("Destination 4", "origin").await;
    browser.shot("20-wizard-mapping").await;
    browser.click("Next").await;
    browser.choose("Frequency", "minute").await;
    browser.type_into("Interval (minutes between runs)", "15").await;
    let delta = browser.field("Delta column").await;
    let options = delta.text().await.unwrap();
    assert!(
        options.contains("placed_at") && !options.contains("customer"),
        "{options}"
    );
    delta.select_by_value("placed_at").await.unwrap();
    let backfill = browser
        .wait(
            "the backfill switch",
            Locator::XPath("//label[contains(., 'Copy the rows from before')]/input"),
        )
        .await;
    backfill.click().await.unwrap();
    browser.shot("21-wizard-schedule").await;
    browser.click("Next").await;
    let review = browser.wait_text("dl.summary", "order.id").await;
    assert!(
        review.contains("\"shop\" → origin") && review.contains("with backfill"),
        "{review}"
    );
    browser.click("Create dataflow").await;
    browser.heading("public.orders to orders_mapped").await;
    browser.wait_text("dl.summary", "every 15 minutes").await;

    let flows = api.get("/flows").await;
    let flow = &flows.body["items"][0];
    assert_eq!(flow["scheduleParams"]["frequency"], "minute", "{flow}");
    assert_eq!(flow["scheduleParams"]["backfill"], "true", "{flow}");
    let transformations = flow["transformations"].to_string();
    assert!(
        transformations.contains(r#""deltaColumn":{"#) && transformations.contains("placed_at"),
        "{flow}"
    );
    let source = api
        .get(&format!(
            "/sourceConnections/{}",
            flow["sourceConnectionIds"][0].as_str().unwrap()
        ))
        .await;
    let columns: Vec<&str> = source.body["items"][0]["params"]["columns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(columns, ["id", "customer", "placed_at"]);
    let mapping_id = flow["transformations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "Mapping")
        .expect("a Mapping transformation")["params"]["mappingId"]
        .as_str()
        .unwrap()
        .to_string();
    let set = api
        .send(api.request(
            Method::GET,
            &format!("/data/foundation/conversion/mappingSets/{mapping_id}"),
        ))
        .await;
    let entries: Vec<(String, String, String)> = set.body["mappings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["sourceType"].to_string(),
                m["source"].to_string(),
                m["destination"].to_string(),
            )
        })
        .collect();
    let expected = [
        ("ATTRIBUTE", "id", "order.id"),
        ("ATTRIBUTE", "customer", "customer"),
        ("ATTRIBUTE", "placed_at", "placed_at"),
        ("STATIC", "shop", "origin"),
    ];
    let expected: Vec<(String, String, String)> = expected
        .iter()
        .map(|(a, b, c)| (format!("{a:?}"), format!("{b:?}"), format!("{c:?}")))
        .collect();
    assert_eq!(entries, expected);
    list_screenshots(&browser, started);
    browser.quit().await;
}

/// The session ends when the token expires: the console signs out by itself and says why.
#[tokio::test]
async fn the_session_ends_when_the_token_expires() {
    let started = Instant::now();
    let inlet = Inlet::start_with(Options {
        config: Some("token_ttl = \"5s\"\n".into()),
        ..Options::default()
    });
    let api = inlet.identity(ORG);
    let mut browser = Browser::start(&shots_dir()).await;
    browser.secrets = vec![api.client_secret.clone()];
    browser.client.goto(&format!("{}/", inlet.base)).await.unwrap();
    browser.type_into("Client ID", &api.client_id).await;
    browser.type_into("Client secret", &api.client_secret).await;
    browser.click("Sign in").await;
    // Only the expiry timer says this; a refused sign-in or a 401 words it otherwise.
    browser
        .wait_text(".notice", "Your session expired. Sign in again to go on.")
        .await;
    browser.heading("Sign in to Inlet").await;
    let storage = browser.eval("return sessionStorage.length", vec![]).await;
    assert_eq!(storage, serde_json::json!(0));
    browser.shot("19-session-expired").await;
    list_screenshots(&browser, started);
    browser.quit().await;
}

/// The console's files come with the policy and cache headers, and the page loads its
/// scripts and styles only from files.
#[tokio::test]
async fn console_files_are_served_with_a_strict_policy() {
    let inlet = Inlet::start();
    let http = reqwest::Client::new();
    let page = http.get(format!("{}/", inlet.base)).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let csp = page.headers()["content-security-policy"].to_str().unwrap().to_string();
    assert!(
        csp.contains("script-src 'self'") && csp.contains("style-src 'self'"),
        "{csp}"
    );
    assert!(
        !csp.contains("unsafe-inline") && csp.contains("frame-ancestors 'none'"),
        "{csp}"
    );
    assert_eq!(page.headers()["content-type"], "text/html; charset=utf-8");
    assert_eq!(page.headers()["x-content-type-options"], "nosniff");
    let html = page.text().await.unwrap();
    assert!(html.contains(r#"<script type="module" src="/console/js/app.js"></script>"#));

    let script = http
        .get(format!("{}/console/js/app.js", inlet.base))
        .send()
        .await
        .unwrap();
    assert_eq!(script.headers()["content-type"], "text/javascript; charset=utf-8");
    assert_eq!(script.headers()["cache-control"], "no-cache");
    let etag = script.headers()["etag"].to_str().unwrap().to_string();
    let again = http
        .get(format!("{}/console/js/app.js", inlet.base))
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
    let missing = http
        .get(format!("{}/console/nope.js", inlet.base))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
}
