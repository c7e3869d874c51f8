//! A real browser for the console tests: Debian's headless chromium, driven over
//! WebDriver by chromedriver (`/usr/bin/chromedriver`, installed by scripts/test).
//!
//! Every wait polls for a condition with a generous limit and, when the limit passes,
//! fails with what the page showed; nothing asserts how long anything took.

use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::elements::Element;
use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::{Value, json};

const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const CHROMIUM: &str = "/usr/bin/chromium";
/// How long a condition may take before the test gives up on it.
pub const PATIENCE: Duration = Duration::from_secs(90);

/// A chromedriver process and one browser session; both end when dropped.
pub struct Browser {
    pub client: Client,
    driver: Child,
    /// The profile and driver log, removed with the browser.
    _dir: tempfile::TempDir,
    shots: PathBuf,
    /// Screenshots written so far.
    pub written: Vec<PathBuf>,
    /// Strings that must never appear in a page's HTML.
    pub secrets: Vec<String>,
}

/// Quotes `text` for an XPath expression.
pub fn xpath_literal(text: &str) -> String {
    if !text.contains('\'') {
        return format!("'{text}'");
    }
    let parts: Vec<String> = text.split('\'').map(|p| format!("'{p}'")).collect();
    format!("concat({})", parts.join(", \"'\", "))
}

impl Browser {
    /// Starts chromedriver on a free port and a headless chromium with a fresh profile,
    /// its window 1280×800; screenshots go to `shots`.
    pub async fn start(shots: &Path) -> Browser {
        std::fs::create_dir_all(shots).expect("screenshot directory");
        let dir = tempfile::tempdir().expect("browser temp dir");
        for attempt in 0..5 {
            let port = free_port();
            let mut driver = Command::new(CHROMEDRIVER)
                .arg(format!("--port={port}"))
                .arg(format!("--log-path={}", dir.path().join("chromedriver.log").display()))
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .process_group(0)
                .spawn()
                .unwrap_or_else(|e| panic!("cannot start {CHROMEDRIVER} ({e}): scripts/test installs chromium-driver"));
            if !wait_ready(port, &mut driver).await {
                let _ = driver.kill();
                let _ = driver.wait();
                assert!(attempt < 4, "chromedriver did not start: {}", log(dir.path()));
                continue;
            }
            let client = connect(port, dir.path()).await;
            let browser = Browser {
                client,
                driver,
                _dir: dir,
                shots: shots.to_path_buf(),
                written: Vec::new(),
                secrets: Vec::new(),
            };
            browser.resize(1280, 800).await;
            return browser;
        }
        unreachable!()
    }

    /// Runs `script` (a function body; `arguments` holds `args`) and answers its value.
    pub async fn eval(&self, script: &str, args: Vec<Value>) -> Value {
        self.client
            .execute(script, args)
            .await
            .expect("script runs in the page")
    }

    /// The text the page shows.
    pub async fn page_text(&self) -> String {
        let text = self.eval("return document.body.innerText", vec![]).await;
        text.as_str().unwrap_or_default().to_string()
    }

    /// Waits until `find` answers an element.
    pub async fn wait(&self, what: &str, locator: Locator<'_>) -> Element {
        let started = Instant::now();
        loop {
            if let Ok(element) = self.client.find(locator).await
                && element.is_displayed().await.unwrap_or(false)
            {
                return element;
            }
            self.patience(started, what).await;
        }
    }

    /// Waits for a visible element matching `css` whose text contains `needle`; answers its text.
    pub async fn wait_text(&self, css: &str, needle: &str) -> String {
        let started = Instant::now();
        loop {
            for element in self.client.find_all(Locator::Css(css)).await.unwrap_or_default() {
                let text = element.text().await.unwrap_or_default();
                if text.contains(needle) && element.is_displayed().await.unwrap_or(false) {
                    return text;
                }
            }
            self.patience(started, &format!("{css:?} showing {needle:?}")).await;
        }
    }

    /// Waits until exactly `n` visible elements match `css` and each text contains `needle`.
    pub async fn wait_all(&self, css: &str, needle: &str, n: usize) {
        let started = Instant::now();
        loop {
            let found = self.client.find_all(Locator::Css(css)).await.unwrap_or_default();
            let mut matching = 0;
            for element in &found {
                if element.text().await.unwrap_or_default().contains(needle) {
                    matching += 1;
                }
            }
            if found.len() == n && matching == n {
                return;
            }
            self.patience(started, &format!("{n} of {css:?}, each showing {needle:?}"))
                .await;
        }
    }

    /// Waits for the page's `<h1>` to read `title`.
    pub async fn heading(&self, title: &str) {
        let xpath = format!("//h1[normalize-space(.)={}]", xpath_literal(title));
        self.wait(&format!("the page titled {title:?}"), Locator::XPath(&xpath))
            .await;
    }

    /// Clicks the button or link reading `label` (within `scope`, an XPath, when given).
    pub async fn click(&self, label: &str) {
        self.click_in("", label).await;
    }

    /// Clicks the button or link reading `label` inside the elements `scope` (XPath) selects.
    pub async fn click_in(&self, scope: &str, label: &str) {
        let literal = xpath_literal(label);
        let xpath = format!("{scope}//*[(self::button or self::a) and normalize-space(.)={literal}]");
        let element = self
            .wait(&format!("a control labelled {label:?}"), Locator::XPath(&xpath))
            .await;
        element.click().await.expect("click");
    }

    /// The form control labelled `label` (a required field's `*` ignored).
    pub async fn field(&self, label: &str) -> Element {
        let literal = xpath_literal(label);
        let with_mark = xpath_literal(&format!("{label} *"));
        let xpath = format!("//label[normalize-space(.)={literal} or normalize-space(.)={with_mark}]");
        let found = self.wait(&format!("the field {label:?}"), Locator::XPath(&xpath)).await;
        let id = found
            .attr("for")
            .await
            .expect("label attribute")
            .expect("label names its control");
        self.wait(&format!("the control of {label:?}"), Locator::Id(&id)).await
    }

    /// Replaces the value of the field labelled `label` with `text`, as typed.
    pub async fn type_into(&self, label: &str, text: &str) {
        let field = self.field(label).await;
        field.clear().await.expect("clear field");
        field.send_keys(text).await.expect("type");
    }

    /// Chooses the option of value `value` in the select labelled `label`.
    pub async fn choose(&self, label: &str, value: &str) {
        self.field(label)
            .await
            .select_by_value(value)
            .await
            .expect("select option");
    }

    /// The message shown beside the field labelled `label` (empty when none).
    pub async fn field_error(&self, label: &str) -> String {
        let field = self.field(label).await;
        let id = field.attr("id").await.unwrap().unwrap();
        let error = self
            .client
            .find(Locator::Id(&format!("{id}-error")))
            .await
            .expect("error slot");
        error.text().await.unwrap_or_default()
    }

    /// Writes a screenshot `<name>.png` and checks that the page's HTML holds no secret.
    pub async fn shot(&mut self, name: &str) {
        self.assert_no_secret_in_html(name).await;
        let png = self.client.screenshot().await.expect("screenshot");
        let path = self.shots.join(format!("{name}.png"));
        std::fs::write(&path, png).expect("write screenshot");
        self.written.push(path);
    }

    /// Fails when any of `secrets` is in the document's HTML.
    pub async fn assert_no_secret_in_html(&self, page: &str) {
        let html = self.eval("return document.documentElement.outerHTML", vec![]).await;
        let html = html.as_str().unwrap_or_default();
        for secret in &self.secrets {
            assert!(
                !html.contains(secret.as_str()),
                "a secret is in the HTML of the {page} page"
            );
        }
    }

    /// Scrolls the first element matching `css` to the top of the viewport.
    pub async fn scroll_to(&self, css: &str) {
        let script = "document.querySelector(arguments[0]).scrollIntoView({block: 'start'})";
        self.eval(script, vec![Value::String(css.to_string())]).await;
    }

    /// Makes the viewport (what a page sees and a screenshot shows) `width`×`height`.
    pub async fn resize(&self, width: u32, height: u32) {
        self.client.set_window_size(width, height).await.expect("resize");
        // The window's frame takes its share even headless: grow the window by it.
        let inner = self
            .eval("return [window.innerWidth, window.innerHeight]", vec![])
            .await;
        let (w, h) = (inner[0].as_u64().unwrap() as u32, inner[1].as_u64().unwrap() as u32);
        if (w, h) != (width, height) {
            let (frame_w, frame_h) = (width.saturating_sub(w), height.saturating_sub(h));
            self.client
                .set_window_size(width + frame_w, height + frame_h)
                .await
                .expect("resize");
        }
    }

    /// Fails when the page is wider than the viewport (it would scroll sideways).
    pub async fn assert_fits_width(&self, page: &str) {
        let sizes = self
            .eval(
                "return [document.documentElement.scrollWidth, window.innerWidth]",
                vec![],
            )
            .await;
        let (scroll, inner) = (sizes[0].as_i64().unwrap(), sizes[1].as_i64().unwrap());
        assert!(
            scroll <= inner,
            "the {page} page is {scroll}px wide in a {inner}px viewport"
        );
    }

    /// Records Content-Security-Policy violations from now on, until the page reloads.
    pub async fn watch_csp(&self) {
        let script = "window.__cspViolations = []; document.addEventListener('securitypolicyviolation', \
                      (e) => window.__cspViolations.push(e.violatedDirective + ' ' + e.blockedURI));";
        self.eval(script, vec![]).await;
    }

    /// The CSP violations recorded since [`Browser::watch_csp`].
    pub async fn csp_violations(&self) -> Value {
        self.eval("return window.__cspViolations", vec![]).await
    }

    async fn patience(&self, started: Instant, what: &str) {
        if started.elapsed() > PATIENCE {
            let text = self.page_text().await;
            panic!("waited {PATIENCE:?} for {what}; the page shows:\n{text}");
        }
        tokio::time::sleep(Duration::from_millis(150)).await;
    }

    /// Ends the session and the driver.
    pub async fn quit(self) {
        let _ = self.client.clone().close().await;
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // The driver leads its own process group, so a failed test (no `quit`) takes
        // chromium down with it instead of leaving it running.
        unsafe { libc::kill(-(self.driver.id() as i32), libc::SIGKILL) };
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn log(dir: &Path) -> String {
    std::fs::read_to_string(dir.join("chromedriver.log")).unwrap_or_default()
}

async fn wait_ready(port: u16, driver: &mut Child) -> bool {
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(30) {
        if driver.try_wait().ok().flatten().is_some() {
            return false;
        }
        let status = reqwest::get(format!("http://127.0.0.1:{port}/status")).await;
        if let Ok(reply) = status
            && let Ok(body) = reply.json::<Value>().await
            && body["value"]["ready"] == json!(true)
        {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}

async fn connect(port: u16, dir: &Path) -> Client {
    let profile = dir.join("profile");
    let args = [
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-default-apps",
        "--disable-extensions",
        "--password-store=basic",
        "--lang=en-US",
    ];
    let mut args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    args.push(format!("--user-data-dir={}", profile.display()));
    let capabilities = json!({
        "browserName": "chrome",
        "goog:chromeOptions": {"binary": CHROMIUM, "args": args},
    });
    let Value::Object(capabilities) = capabilities else {
        unreachable!()
    };
    ClientBuilder::new(HttpConnector::new())
        .capabilities(capabilities)
        .connect(&format!("http://127.0.0.1:{port}"))
        .await
        .unwrap_or_else(|e| panic!("chromium did not start under chromedriver: {e}\n{}", log(dir)))
}
