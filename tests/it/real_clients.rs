//! A real client of the platform's API, unmodified apart from its endpoint and token URL:
//! aepp (PyPI, installed by scripts/test) drives the tutorial path and beyond against a
//! real server and a real PostgreSQL (tests/it/aepp_client.py does the driving).

use std::process::Command;

use crate::dataflows::{Lab, PASSWORD};

#[tokio::test]
async fn aepp_drives_the_tutorial_path_and_more() {
    let now = chrono::Utc::now().timestamp();
    let setup = "CREATE TABLE public.orders (id bigint PRIMARY KEY, city text);
        INSERT INTO public.orders SELECT g, 'city-' || g FROM generate_series(1, 50) g;";
    let lab = Lab::start(now, setup, "");
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/it/aepp_client.py");
    let out = Command::new("python3")
        .arg(script)
        .env("INLET_BASE", &lab.inlet.base)
        .env("INLET_ORG", &lab.api.org)
        .env("INLET_CLIENT_ID", &lab.api.client_id)
        .env("INLET_CLIENT_SECRET", &lab.api.client_secret)
        .env("PG_PORT", lab.pg.port().to_string())
        .env("PG_PASSWORD", PASSWORD)
        .env("ROWS", "50")
        .env("FLOW_START", now.to_string())
        .output()
        .expect("python3 runs aepp (scripts/test installs it)");
    let steps = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "aepp stopped:\n{steps}\n{}\n{}",
        String::from_utf8_lossy(&out.stderr),
        lab.inlet.logs()
    );
    assert_eq!(
        steps.lines().filter(|l| l.contains("\"ok\": true")).count(),
        20,
        "{steps}"
    );
}
