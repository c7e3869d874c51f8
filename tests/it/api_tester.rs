//! A property-based tester against the served OpenAPI document: schemathesis (PyPI,
//! installed by scripts/test) generates requests for every operation from its declared
//! parameters and bodies, valid and not, and checks every answer: no 5xx, each response
//! matches its declared schema and content type. The server has real data to find: a
//! PostgreSQL connection, source and target connections, a dataset with a batch, a flow
//! whose run succeeded, a mapping set and a sandbox, whose ids the tester is given.

use std::process::Command;
use std::time::Duration;

use reqwest::Method;
use serde_json::json;

use crate::common::server::FLOW;
use crate::dataflows::{Lab, status};

/// Settings that let the tester reach only the test's own database, quickly, and never
/// be rate limited.
const CONFIG: &str = "source_connect_timeout = \"2s\"\negress_allow = [\"127.0.0.1/32\"]\n\
    source_checks_per_minute = 100000.0\nsource_checks_burst = 100000\n";

#[tokio::test]
async fn schemathesis_finds_no_server_error_and_no_answer_off_its_schema() {
    let now = chrono::Utc::now().timestamp();
    let setup = "CREATE TABLE public.orders (id bigint PRIMARY KEY, city text, updated_at timestamptz NOT NULL);
        INSERT INTO public.orders SELECT g, 'city-' || g, now() FROM generate_series(1, 50) g;";
    let lab = Lab::start(now, setup, CONFIG);
    let (source, target, dataset) = lab.connections("public.orders").await;
    let base = lab.api.get(&format!("/sourceConnections/{source}")).await.body["items"][0]["baseConnectionId"]
        .as_str()
        .unwrap()
        .to_string();
    let once = json!({"startTime": now.to_string(), "frequency": "once"});
    let flow = lab.flow(&source, &target, json!([]), once).await;
    let runs = lab.ended_runs(&flow, 1, Duration::from_secs(60)).await;
    assert_eq!(status(&runs[0]), "success", "{:#}", runs[0]);
    let run = runs[0]["id"].as_str().unwrap().to_string();
    let batch = runs[0]["activities"][0]["targetInfo"][0]["reference"]["ids"][0]
        .as_str()
        .unwrap()
        .to_string();
    let mapping = lab
        .api
        .send(
            lab.api
                .request(Method::POST, "/data/foundation/conversion/mappingSets")
                .json(&json!({"mappings": [{"source": "id", "destination": "id"}]})),
        )
        .await
        .body["id"]
        .as_str()
        .unwrap()
        .to_string();

    let ids = [
        (format!("{FLOW}/connections/{{id}}"), base.as_str()),
        (format!("{FLOW}/connections/{{id}}/test"), base.as_str()),
        (format!("{FLOW}/connections/{{id}}/explore"), base.as_str()),
        (format!("{FLOW}/sourceConnections/{{id}}"), source.as_str()),
        (format!("{FLOW}/targetConnections/{{id}}"), target.as_str()),
        (format!("{FLOW}/flows/{{id}}"), flow.as_str()),
        (format!("{FLOW}/runs/{{id}}"), run.as_str()),
        ("/data/foundation/catalog/dataSets/{id}".to_string(), dataset.as_str()),
        (
            "/data/foundation/catalog/dataSets/{id}/versions".to_string(),
            dataset.as_str(),
        ),
        ("/data/foundation/catalog/batches/{id}".to_string(), batch.as_str()),
        (
            "/data/foundation/conversion/mappingSets/{id}".to_string(),
            mapping.as_str(),
        ),
        (
            format!("{FLOW}/connectionSpecs/{{id}}"),
            "74a1c565-4e59-48d7-9d67-7c03b8a13137",
        ),
        (
            format!("{FLOW}/flowSpecs/{{id}}"),
            "14518937-270c-4525-bdec-c2ba7cce3860",
        ),
    ];
    let mut config = format!(
        "[headers]\nAuthorization = \"Bearer {}\"\nx-api-key = \"{}\"\nx-gw-ims-org-id = \"{}\"\nx-sandbox-name = \"prod\"\n",
        lab.api.token, lab.api.client_id, lab.api.org
    );
    // The real ids are given to reads only: writes and deletes get generated ones, so the
    // data stays for every operation to find.
    for (path, id) in &ids {
        config.push_str(&format!(
            "\n[[operations]]\ninclude-path = \"{path}\"\ninclude-method = \"GET\"\nparameters = {{ id = \"{id}\" }}\n"
        ));
    }
    let dir = tempfile::tempdir().unwrap();
    let config_path = dir.path().join("schemathesis.toml");
    std::fs::write(&config_path, config).unwrap();
    let examples = std::env::var("INLET_SCHEMATHESIS_EXAMPLES").unwrap_or_else(|_| "25".into());
    // Through python3, as scripts/test installs it: the `schemathesis` script may not be
    // on PATH (a pip --user install).
    let out = Command::new("python3")
        .args(["-m", "schemathesis.cli", "--no-color"])
        .arg("--config-file")
        .arg(&config_path)
        .args(["run", &format!("{}/openapi.json", lab.inlet.base)])
        .args([
            "--checks",
            "not_a_server_error,response_schema_conformance,content_type_conformance",
        ])
        .args(["--max-examples", &examples, "--seed", "20261201", "--workers", "1"])
        .args(["--request-timeout", "30", "--continue-on-failure"])
        .current_dir(dir.path())
        .output()
        .expect("schemathesis runs (scripts/test installs it)");
    let report = String::from_utf8_lossy(&out.stdout);
    let summary: Vec<&str> = report
        .lines()
        .map(str::trim)
        .filter(|l| l.starts_with("Tested:") || l.contains(" generated, "))
        .collect();
    eprintln!("schemathesis: {}", summary.join("; "));
    assert!(
        out.status.success(),
        "schemathesis found failures:\n{report}\n{}\n{}",
        String::from_utf8_lossy(&out.stderr),
        lab.inlet
            .logs()
            .lines()
            .filter(|l| l.contains("ERROR"))
            .collect::<Vec<_>>()
            .join("\n")
    );
}
