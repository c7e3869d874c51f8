//! Windows land exactly once and in order, whatever order runs would finish in: a slow
//! earlier window, a window that fails for good and is re-run, a run whose process keeps
//! dying, on-demand windows, and a broken flow beside a healthy one.

use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use super::{Lab, ids, status};

/// 2025-01-01T00:00:00Z: windows are the hours after it, well before the database's clock.
const T0: i64 = 1_735_689_600;

fn copy_by(column: &str) -> Value {
    json!([{"name": "Copy", "params": {"deltaColumn": {"name": column, "timezone": "UTC"}}}])
}

fn hourly_backfill() -> Value {
    json!({"startTime": T0.to_string(), "frequency": "hour", "interval": "1", "backfill": "true"})
}

/// Waits until `done` holds for the flow's runs; returns them.
async fn runs_until(lab: &Lab, flow: &str, what: &str, done: impl Fn(&[Value]) -> bool) -> Vec<Value> {
    let started = Instant::now();
    loop {
        let runs = lab.runs(flow).await;
        if done(&runs) {
            return runs;
        }
        assert!(
            started.elapsed() < Duration::from_secs(180),
            "{what} did not happen: {runs:#?}\n{}",
            lab.inlet.logs()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn window_of(run: &Value) -> i64 {
    run["windowNumber"].as_i64().unwrap()
}

/// The run of each window that succeeded, by window number; asserts there is one each.
fn one_success_per_window(runs: &[Value], windows: i64) -> Vec<Value> {
    (1..=windows)
        .map(|window| {
            let ok: Vec<&Value> = runs
                .iter()
                .filter(|r| window_of(r) == window && status(r) == "success")
                .collect();
            assert_eq!(
                ok.len(),
                1,
                "window {window} has {} successful runs: {runs:#?}",
                ok.len()
            );
            ok[0].clone()
        })
        .collect()
}

/// A flow of `public.events` (from `setup`) by `updated_at`, hourly with its backfill,
/// once its three due windows have landed; returns (lab, flow, dataset, the successful
/// run of each window).
async fn three_windows_landed(setup: &str, config: &str) -> (Lab, String, String, Vec<Value>) {
    let lab = Lab::start(T0 - 60, setup, config);
    let (source, target, dataset) = lab.connections("public.events").await;
    let flow = lab
        .flow(&source, &target, copy_by("updated_at"), hourly_backfill())
        .await;
    lab.set_clock(T0 + 2 * 3600);
    let runs = runs_until(&lab, &flow, "three windows landing", |runs| {
        runs.len() == 3 && runs.iter().all(|r| status(r) == "success")
    })
    .await;
    let landed = one_success_per_window(&runs, 3);
    (lab, flow, dataset, landed)
}

#[tokio::test]
async fn a_slow_earlier_window_is_not_overtaken_and_both_land_once() {
    // The backfill window's rows come through a view that sleeps; the next windows' rows
    // are quick. With two workers, window 2 would commit first if it could start.
    let setup = "CREATE TABLE public.events_raw (id bigint PRIMARY KEY, updated_at timestamptz NOT NULL);
        INSERT INTO public.events_raw SELECT g, to_timestamp(1735689600 - 3600 + g * 3) FROM generate_series(0, 3599) g;
        CREATE FUNCTION slow_before(t timestamptz, i bigint) RETURNS bigint LANGUAGE plpgsql AS $$
          BEGIN IF t < to_timestamp(1735689600) AND i % 100 = 0 THEN PERFORM pg_sleep(0.2); END IF; RETURN i; END $$;
        CREATE VIEW public.events AS SELECT slow_before(updated_at, id) AS id, updated_at FROM public.events_raw;";
    // One commit per window: landed together (catch-up), windows share their commit.
    let (lab, _, dataset, landed) = three_windows_landed(setup, "workers = 2\ncatch_up_windows = 1\n").await;
    for pair in landed.windows(2) {
        let earlier_done = pair[0]["metrics"]["durationSummary"]["completedAtUTC"]
            .as_i64()
            .unwrap();
        let later_started = pair[1]["metrics"]["durationSummary"]["startedAtUTC"].as_i64().unwrap();
        assert!(
            later_started >= earlier_done,
            "window {} started before window {} ended: {pair:#?}",
            window_of(&pair[1]),
            window_of(&pair[0])
        );
    }
    let table = lab.dataset_table(&dataset).await;
    assert_eq!(
        ids(&table, "id"),
        (0..3600).collect::<Vec<_>>(),
        "every row exactly once"
    );
    let windows: Vec<Value> = table["commits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["runId"].clone())
        .collect();
    let in_order: Vec<Value> = landed.iter().map(|r| r["id"].clone()).collect();
    assert_eq!(windows, in_order, "the commits are in window order");
}

#[tokio::test]
async fn a_window_that_fails_for_good_holds_the_later_ones_until_it_is_fixed_and_re_run() {
    let setup =
        "CREATE TABLE public.events (id bigint PRIMARY KEY, amount numeric(10,2), updated_at timestamptz NOT NULL);
        INSERT INTO public.events SELECT g, g, to_timestamp(1735689600 - 3600 + g * 9) FROM generate_series(0, 1599) g;
        UPDATE public.events SET amount = 'NaN' WHERE id = 500;";
    let lab = Lab::start(T0 - 60, setup, "");
    let (source, target, dataset) = lab.connections("public.events").await;
    let flow = lab
        .flow(&source, &target, copy_by("updated_at"), hourly_backfill())
        .await;
    lab.set_clock(T0 + 3 * 3600);

    // Window 2 ([T0, T0+1h): ids 400..799) holds the NaN: it fails, 3 and 4 wait.
    let runs = runs_until(&lab, &flow, "window 2 failing", |runs| {
        runs.len() == 4 && runs.iter().any(|r| status(r) == "failed")
    })
    .await;
    let failed = runs.iter().find(|r| status(r) == "failed").unwrap().clone();
    assert_eq!(window_of(&failed), 2);
    let error = &failed["metrics"]["statusSummary"]["errors"][0];
    assert_eq!(error["code"], "SOURCE_UNSUPPORTED", "{failed:#}");
    assert!(error["message"].as_str().unwrap().contains("NaN"), "{error}");
    let failed_id = failed["id"].as_str().unwrap();
    for held in runs.iter().filter(|r| window_of(r) > 2) {
        assert_eq!(status(held), "scheduled", "{held:#}");
        assert_eq!(held["metrics"]["statusSummary"]["heldBy"], failed_id, "{held:#}");
        assert!(
            held["metrics"]["statusSummary"]["note"]
                .as_str()
                .unwrap()
                .contains("re-trigger")
        );
    }
    let shown = lab.api.get(&format!("/flows/{flow}")).await.body["items"][0].clone();
    assert_eq!(shown["lastRunDetails"]["id"], failed_id, "{shown:#}");
    assert_eq!(shown["lastRunDetails"]["state"], "failed");
    assert_eq!(shown["heldBy"]["runId"], failed_id);
    assert_eq!(shown["heldBy"]["waitingRuns"], 2);
    let batch = failed["activities"][0]["targetInfo"][0]["reference"]["ids"][0]
        .as_str()
        .unwrap();
    assert_eq!(lab.batch(batch).await["status"], "failed");
    assert_eq!(
        ids(&lab.dataset_table(&dataset).await, "id"),
        (0..400).collect::<Vec<_>>()
    );

    let first = runs.iter().find(|r| window_of(r) == 1).unwrap();
    let early = lab
        .api
        .post(
            &format!("/runs/{}/action?op=re-trigger", first["id"].as_str().unwrap()),
            &json!({}),
        )
        .await;
    assert_eq!(early.code(), "1389-400", "only failed runs are re-run: {}", early.body);
    lab.pg
        .psql("shop", "UPDATE public.events SET amount = 500 WHERE id = 500;");
    let retried = lab
        .api
        .post(&format!("/runs/{failed_id}/action?op=re-trigger"), &json!({}))
        .await;
    assert_eq!(retried.status, StatusCode::CREATED, "{}", retried.body);
    let retry_id = retried.body["id"].as_str().unwrap().to_string();
    let twice = lab
        .api
        .post(&format!("/runs/{failed_id}/action?op=Re-Trigger"), &json!({}))
        .await;
    assert_eq!(twice.code(), "1390-409", "{}", twice.body);

    let runs = runs_until(&lab, &flow, "every window landing", |runs| {
        runs.iter().filter(|r| status(r) == "success").count() == 4
    })
    .await;
    let landed = one_success_per_window(&runs, 4);
    assert_eq!(landed[1]["id"], retry_id.as_str());
    assert_eq!(landed[1]["retryOf"], failed_id);
    let old = runs.iter().find(|r| r["id"] == failed_id).unwrap();
    assert_eq!(
        (status(old), old["retriedBy"].as_str()),
        ("failed", Some(retry_id.as_str()))
    );
    let table = lab.dataset_table(&dataset).await;
    assert_eq!(
        ids(&table, "id"),
        (0..1600).collect::<Vec<_>>(),
        "exact after the re-run"
    );
    assert_eq!(table["txns"][flow.as_str()], 4);
}

/// A 300k-row table read through a view that pauses, so a read can be interrupted.
const SLOW: &str = "CREATE TABLE public.big (id bigint PRIMARY KEY, payload text NOT NULL);
    INSERT INTO public.big SELECT g, md5(g::text) FROM generate_series(1, 300000) g;
    CREATE FUNCTION slowly(i bigint) RETURNS bigint LANGUAGE plpgsql AS $$
      BEGIN IF i % 1000 = 0 THEN PERFORM pg_sleep(0.05); END IF; RETURN i; END $$;
    CREATE VIEW public.slow_big AS SELECT slowly(id) AS id, payload FROM public.big;";

#[tokio::test]
async fn a_run_whose_process_is_killed_every_attempt_ends_abandoned() {
    let now = chrono::Utc::now().timestamp();
    let mut lab = Lab::start(now, SLOW, "run_attempts = 2\n");
    let (source, target, dataset) = lab.connections("public.slow_big").await;
    let once = json!({"startTime": now.to_string(), "frequency": "once"});
    let flow = lab.flow(&source, &target, json!([]), once).await;
    for attempt in 1..=2 {
        // This attempt has opened its batch and read rows.
        runs_until(&lab, &flow, "the run reading", |runs| {
            runs.first().is_some_and(|r| {
                let batches = r["activities"][0]["targetInfo"][0]["reference"]["ids"]
                    .as_array()
                    .map_or(0, Vec::len);
                status(r) == "inProgress"
                    && batches == attempt
                    && r["metrics"]["recordSummary"]["inputRecordCount"].as_u64() > Some(0)
            })
        })
        .await;
        lab.inlet.kill();
        lab.inlet.start_again();
        lab.api.base = lab.inlet.base.clone();
        let run = lab.runs(&flow).await.remove(0);
        assert_ne!(status(&run), "success", "attempt {attempt} ended: {run:#}");
    }
    let runs = lab.ended_runs(&flow, 1, Duration::from_secs(120)).await;
    let run = &runs[0];
    assert_eq!(status(run), "failed", "{run:#}");
    assert_eq!(
        run["metrics"]["statusSummary"]["errors"][0]["code"], "RUN_ABANDONED",
        "{run:#}"
    );
    let batches = run["activities"][0]["targetInfo"][0]["reference"]["ids"]
        .as_array()
        .unwrap();
    assert_eq!(batches.len(), 2, "one batch per attempt that started: {run:#}");
    for batch in batches {
        let shown = lab.batch(batch.as_str().unwrap()).await;
        assert_eq!(shown["status"], "failed", "{shown:#}");
        assert_eq!(shown["errors"][0]["code"], "ATTEMPT_INTERRUPTED");
    }
    let reply = lab
        .api
        .send(lab.api.request(
            Method::GET,
            &format!("/data/foundation/catalog/batches?dataSet={dataset}&status=processing"),
        ))
        .await;
    assert_eq!(reply.body, json!({}), "no batch stays processing");
}

#[tokio::test]
async fn an_on_demand_run_copies_exactly_its_window() {
    let setup = "CREATE TABLE public.events (id bigint PRIMARY KEY, updated_at timestamptz NOT NULL);
        INSERT INTO public.events SELECT g, to_timestamp(1735689600 - 86400 + g) FROM generate_series(1, 1000) g;";
    let now = chrono::Utc::now().timestamp();
    let lab = Lab::start(now, setup, "");
    let (source, target, dataset) = lab.connections("public.events").await;
    let once = json!({"startTime": now.to_string(), "frequency": "once"});
    let flow = lab.flow(&source, &target, json!([]), once).await;
    lab.ended_runs(&flow, 1, Duration::from_secs(60)).await;
    assert_eq!(
        ids(&lab.dataset_table(&dataset).await, "id"),
        (1..=1000).collect::<Vec<_>>()
    );

    // New rows: 200 inside [T0, T0+1h) (two exactly on its start), 100 after it, 100 before.
    lab.pg.psql(
        "shop",
        "INSERT INTO public.events SELECT 2000 + g, to_timestamp(1735689600 + g * 17) FROM generate_series(0, 199) g;
         INSERT INTO public.events VALUES (2300, to_timestamp(1735689600)), (2301, to_timestamp(1735689600));
         INSERT INTO public.events SELECT 3000 + g, to_timestamp(1735689600 + 3600 + g) FROM generate_series(0, 99) g;
         INSERT INTO public.events SELECT 4000 + g, to_timestamp(1735689600 - 1 - g) FROM generate_series(0, 99) g;",
    );
    let params = json!({"windowStartTime": T0.to_string(), "windowEndTime": T0 + 3600,
        "deltaColumn": {"name": "updated_at"}});
    let created = lab.api.post("/runs", &json!({"flowId": flow, "params": params})).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let runs = lab.ended_runs(&flow, 2, Duration::from_secs(60)).await;
    let on_demand = runs.iter().find(|r| window_of(r) == 2).unwrap();
    assert_eq!(status(on_demand), "success", "{on_demand:#}");
    assert_eq!(on_demand["metrics"]["recordSummary"]["outputRecordCount"], 202);
    let mut expected: Vec<i64> = (1..=1000).chain(2000..2200).chain([2300, 2301]).collect();
    expected.sort_unstable();
    assert_eq!(ids(&lab.dataset_table(&dataset).await, "id"), expected);
}

#[tokio::test]
async fn a_flow_whose_stored_document_is_unreadable_does_not_delay_another_orgs_flow() {
    let setup =
        "CREATE TABLE public.orders (id bigint PRIMARY KEY); INSERT INTO public.orders SELECT generate_series(1, 50);";
    let now = chrono::Utc::now().timestamp();
    let mut lab = Lab::start(now, setup, "");
    let (source, target, _) = lab.connections("public.orders").await;
    let once = json!({"startTime": now.to_string(), "frequency": "once"});
    let broken = lab.flow(&source, &target, json!([]), once.clone()).await;
    let db = lab.inlet.data_dir().join("metadata.db");
    let corrupt = "import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); \
        c.execute('UPDATE resources SET doc = ? WHERE id = ?', (sys.argv[2], sys.argv[3])); c.commit()";
    let out = std::process::Command::new("python3")
        .args(["-c", corrupt, &db.display().to_string(), "{\"id\": [[[", &broken])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");

    // Another org on the same server, with a flow due now beside the unreadable one.
    lab.api = lab.inlet.identity("ORG2@AdobeOrg");
    let (source, target, dataset) = lab.connections("public.orders").await;
    let flow = lab.flow(&source, &target, json!([]), once).await;
    let runs = lab.ended_runs(&flow, 1, Duration::from_secs(60)).await;
    assert_eq!(status(&runs[0]), "success", "{:#}", runs[0]);
    assert_eq!(
        ids(&lab.dataset_table(&dataset).await, "id"),
        (1..=50).collect::<Vec<_>>()
    );
    let logs = lab.inlet.logs();
    assert!(
        logs.lines()
            .any(|line| line.contains(&broken) && line.contains("skipped by the scheduler")),
        "the broken flow is logged: {logs}"
    );
}

#[tokio::test]
async fn due_windows_land_together_and_each_run_counts_its_own_rows() {
    // 1,200 rows an hour over the backfill hour and two more: three windows due at once,
    // landed two to a commit at most.
    let setup = "CREATE TABLE public.events (id bigint PRIMARY KEY, updated_at timestamptz NOT NULL);
        INSERT INTO public.events SELECT g, to_timestamp(1735689600 - 3600 + g * 3) FROM generate_series(0, 3599) g;";
    let (lab, flow, dataset, landed) = three_windows_landed(setup, "catch_up_windows = 2\n").await;
    for run in &landed {
        let records = &run["metrics"]["recordSummary"];
        assert_eq!(records["outputRecordCount"], 1200, "{run:#}");
    }
    let follower = landed[1]["metrics"]["statusSummary"]["note"]
        .as_str()
        .unwrap_or_default();
    assert!(
        follower.contains("landed with windows 1 to 2 in one commit"),
        "{follower}"
    );

    let table = lab.dataset_table(&dataset).await;
    assert_eq!(
        ids(&table, "id"),
        (0..3600).collect::<Vec<_>>(),
        "every row exactly once"
    );
    assert_eq!(table["txns"][flow.as_str()], 3);
    let writes: Vec<&Value> = table["commits"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["runId"].is_string())
        .collect();
    assert_eq!(writes.len(), 2, "{writes:#?}");
    assert_eq!(writes[0]["windows"], json!({"first": 1, "last": 2}));
    assert_eq!(writes[0]["runId"], landed[0]["id"]);
    assert!(writes[1]["windows"].is_null(), "window 3 landed alone");
}
