//! The source's columns change between windows: every kind of flow keeps landing under
//! the default policy (`propagate`), `pause` stops until the user chooses, `ignore` leaves
//! new columns out, and a narrowing pauses whatever the policy. Datasets are read back by
//! the independent reader.

use std::time::Duration;

use serde_json::{Value, json};

use super::cdc::{T0, dataset_rows, source_table};
use super::{Lab, status};

const PERIOD: i64 = 900;

const TABLE: &str = "CREATE TABLE public.orders (id int PRIMARY KEY, n int NOT NULL, price numeric(10,2),
        label varchar(20), note text, old_name text, updated_at timestamptz NOT NULL);";

/// Inserts row `id` stamped inside window `k`, with `columns` = `values` besides.
fn insert(lab: &Lab, k: i64, id: i64, columns: &str, values: &str) {
    let stamp = T0 + (k - 1) * PERIOD + id;
    lab.pg.psql(
        "shop",
        &format!(
            "INSERT INTO public.orders (id, updated_at, {columns}) VALUES ({id}, to_timestamp({stamp}), {values})"
        ),
    );
}

/// Makes window `k` due and waits until `count` runs of each flow have ended.
async fn land(lab: &Lab, flows: &[&str], k: i64, count: usize) -> Vec<Vec<Value>> {
    lab.set_clock(T0 + k * PERIOD + 1);
    let mut all = Vec::new();
    for flow in flows {
        all.push(lab.ended_runs(flow, count, Duration::from_secs(90)).await);
    }
    all
}

/// A schema change, then a row that needs it: `(DDL, columns, values, the changes the
/// runs must record)`.
type Step = (&'static str, &'static str, &'static str, Vec<Change>);

/// Makes `step`'s change, inserts row `id` in window `k`, and checks that every flow's run
/// of window `k` lands recording exactly the step's changes.
async fn change_then_land(lab: &Lab, flows: &[&str], (k, id): (i64, i64), step: &Step) {
    let (ddl, columns, values, expected) = step;
    lab.pg.psql("shop", ddl);
    insert(lab, k, id, columns, values);
    let runs = land(lab, flows, k, k as usize).await;
    for (flow, runs) in flows.iter().zip(&runs) {
        let run = window(runs, k);
        assert_eq!(status(run), "success", "flow {flow}, window {k} after `{ddl}`: {run:#}");
        assert_eq!(&changes(run), expected, "flow {flow}, window {k} after `{ddl}`");
    }
}

/// The first run of window `k` among `runs` (runs created in one millisecond, as windows
/// that came due together are, list in no set order).
fn window(runs: &[Value], k: i64) -> &Value {
    runs.iter()
        .filter(|r| r["windowNumber"] == k)
        .min_by_key(|r| r["createdAt"].as_i64())
        .unwrap_or_else(|| panic!("no run of window {k}: {runs:#?}"))
}

/// `(column, kind, action)` of a run's recorded schema changes.
fn changes(run: &Value) -> Vec<Change> {
    run["inletSchemaChanges"]
        .as_array()
        .map(|list| {
            list.iter()
                .map(|c| {
                    let text = |k: &str| c[k].as_str().unwrap_or_default().to_string();
                    (text("column"), text("kind"), text("action"))
                })
                .collect()
        })
        .unwrap_or_default()
}

/// A recorded change: `(column, kind, action)`.
type Change = (String, String, String);

fn change(column: &str, kind: &str, action: &str) -> Change {
    (column.into(), kind.into(), action.into())
}

#[tokio::test]
async fn every_kind_of_flow_lands_through_added_widened_dropped_and_renamed_columns() {
    let lab = Lab::start(T0 - 60, TABLE, "");
    insert(
        &lab,
        1,
        1,
        "n, price, label, note, old_name",
        "10, 1.50, 'a', 'note 1', 'old 1'",
    );
    insert(
        &lab,
        1,
        2,
        "n, price, label, note, old_name",
        "20, 2.25, 'b', 'note 2', 'old 2'",
    );
    let window = json!({"deltaColumn": {"name": "updated_at"}});
    let schedule = json!({"startTime": T0, "frequency": "minute", "interval": 15});
    let mut flows = Vec::new();
    let mut datasets = Vec::new();
    for copy in [
        window.clone(),
        json!({"deltaColumn": {"name": "updated_at"}, "mergeByKey": true}),
        json!({}),
    ] {
        let (source, target, dataset) = lab.connections("public.orders").await;
        let transformations = json!([{"name": "Copy", "params": copy}]);
        flows.push(lab.flow(&source, &target, transformations, schedule.clone()).await);
        datasets.push(dataset);
    }
    let [append, merge, refresh] = [&flows[0], &flows[1], &flows[2]].map(String::as_str);
    let all = [append, merge, refresh];
    land(&lab, &all, 1, 1).await;

    // One change before each window, then a row that needs it.
    let steps: [Step; 6] = [
        (
            "ALTER TABLE public.orders ADD COLUMN extra text",
            "n, extra",
            "30, 'x3'",
            vec![change("extra", "added", "applied")],
        ),
        (
            "ALTER TABLE public.orders ALTER COLUMN n TYPE bigint",
            "n",
            "3000000000",
            vec![change("n", "widened", "applied")],
        ),
        (
            "ALTER TABLE public.orders ALTER COLUMN price TYPE numeric(14,2)",
            "n, price",
            "50, 123456789012.34",
            vec![change("price", "widened", "applied")],
        ),
        (
            "ALTER TABLE public.orders ALTER COLUMN label TYPE text",
            "n, label",
            "60, repeat('z', 50)",
            Vec::new(),
        ),
        (
            "ALTER TABLE public.orders DROP COLUMN note",
            "n",
            "70",
            vec![change("note", "dropped", "kept")],
        ),
        (
            "ALTER TABLE public.orders RENAME COLUMN old_name TO new_name",
            "n, new_name",
            "80, 'new 8'",
            vec![change("new_name", "renamed", "applied")],
        ),
    ];
    for (index, step) in steps.iter().enumerate() {
        let k = index as i64 + 2;
        change_then_land(&lab, &all, (k, k + 1), step).await;
    }

    let source = source_table(&lab, "public.orders", "id, n, price, label, extra, new_name");
    for (flow, dataset) in all.iter().zip(&datasets) {
        let table = lab.dataset_table(dataset).await;
        let types: Vec<(&str, &str)> = table["schema"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| (f["name"].as_str().unwrap(), f["type"].as_str().unwrap()))
            .collect();
        for wanted in [
            ("n", "int64"),
            ("price", "decimal128(14, 2)"),
            ("note", "string"),
            ("old_name", "string"),
        ] {
            assert!(types.contains(&wanted), "flow {flow}: {wanted:?} in {types:?}");
        }
        let rows = dataset_rows(&lab, dataset).await;
        assert_eq!(rows.len(), source.len(), "flow {flow}: every row once: {rows:#?}");
        for (got, want) in rows.iter().zip(&source) {
            for column in ["id", "n", "label", "extra"] {
                assert_eq!(
                    got[column], want[column],
                    "flow {flow}, column {column}: {got} vs {want}"
                );
            }
            let price = want["price"].as_f64().map(|p| format!("{p:.2}"));
            assert_eq!(got["price"].as_str().map(str::to_string), price, "flow {flow}: {got}");
            // Rows that landed before the rename hold NULL under the new name, except in a
            // refreshed dataset, which is read whole again.
            let landed_after_rename = *flow == refresh || got["id"] == 8;
            let new_name = if landed_after_rename {
                want["new_name"].clone()
            } else {
                Value::Null
            };
            assert_eq!(got["new_name"], new_name, "flow {flow}: {got}");
        }
        let id = |i: usize| &rows[i - 1];
        if *flow == refresh {
            // Replaced at every run: the kept columns hold NULL for every row now.
            assert!(
                rows.iter().all(|r| r["note"].is_null() && r["old_name"].is_null()),
                "{rows:#?}"
            );
        } else {
            // Appended and merged rows keep what they held when they landed.
            assert_eq!(
                (&id(1)["note"], &id(1)["old_name"]),
                (&json!("note 1"), &json!("old 1"))
            );
            assert_eq!(
                (&id(2)["note"], &id(2)["old_name"]),
                (&json!("note 2"), &json!("old 2"))
            );
            assert!(
                rows[2..].iter().all(|r| r["note"].is_null() && r["old_name"].is_null()),
                "{rows:#?}"
            );
        }
    }
}

/// POSTs the re-run of a paused run with the user's `choice`.
async fn choose(lab: &Lab, run: &Value, choice: &str) -> crate::common::server::Reply {
    let id = run["id"].as_str().unwrap();
    lab.api
        .post(
            &format!("/runs/{id}/action?op=re-trigger&schemaChanges={choice}"),
            &json!({}),
        )
        .await
}

async fn flow_item(lab: &Lab, flow: &str) -> Value {
    let reply = lab.api.get(&format!("/flows/{flow}")).await;
    assert_eq!(reply.status, reqwest::StatusCode::OK, "{}", reply.body);
    reply.body["items"][0].clone()
}

fn error_of(run: &Value) -> (String, String) {
    let error = &run["metrics"]["statusSummary"]["errors"][0];
    (
        error["code"].as_str().unwrap_or_default().to_string(),
        error["message"].as_str().unwrap_or_default().to_string(),
    )
}

#[tokio::test]
async fn pause_waits_for_the_users_choice_ignore_leaves_new_columns_out_and_a_narrowing_pauses_every_policy() {
    let lab = Lab::start(
        T0 - 60,
        "CREATE TABLE public.orders (id int PRIMARY KEY, n bigint NOT NULL, updated_at timestamptz NOT NULL);",
        "",
    );
    insert(&lab, 1, 1, "n", "10");
    let schedule = json!({"startTime": T0, "frequency": "minute", "interval": 15});
    let mut flows = Vec::new();
    let mut datasets = Vec::new();
    for policy in ["pause", "ignore", "propagate"] {
        let (source, target, dataset) = lab.connections("public.orders").await;
        let copy =
            json!([{"name": "Copy", "params": {"deltaColumn": {"name": "updated_at"}, "schemaChangePolicy": policy}}]);
        flows.push(lab.flow(&source, &target, copy, schedule.clone()).await);
        datasets.push(dataset);
    }
    let [pause, ignore, propagate] = [&flows[0], &flows[1], &flows[2]].map(String::as_str);
    land(&lab, &[pause, ignore, propagate], 1, 1).await;

    // An added column: `pause` stops at window 2 and holds window 3; the others land.
    lab.pg.psql("shop", "ALTER TABLE public.orders ADD COLUMN extra text");
    insert(&lab, 2, 2, "n, extra", "20, 'x2'");
    insert(&lab, 3, 3, "n, extra", "30, 'x3'");
    land(&lab, &[ignore, propagate], 3, 3).await;
    let runs = lab.ended_runs(pause, 2, Duration::from_secs(60)).await;
    assert_eq!(status(window(&runs, 2)), "failed", "{runs:#?}");
    let (code, message) = error_of(window(&runs, 2));
    assert_eq!(code, "SCHEMA_CHANGE_PAUSED");
    for text in [
        "`extra`",
        "schemaChanges=accept",
        "schemaChanges=resnapshot",
        window(&runs, 2)["id"].as_str().unwrap(),
    ] {
        assert!(message.contains(text), "{text} in {message}");
    }
    assert_eq!(changes(window(&runs, 2)), vec![change("extra", "added", "paused")]);
    assert_eq!(status(window(&runs, 3)), "scheduled", "window 3 waits: {runs:#?}");
    let item = flow_item(&lab, pause).await;
    let paused = &item["inletPaused"];
    assert_eq!(paused["runId"], window(&runs, 2)["id"], "{item:#}");
    let choices: Vec<&str> = paused["choices"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["choice"].as_str().unwrap())
        .collect();
    assert_eq!(choices, ["accept", "resnapshot"]);
    // A choice the API does not know, or one for a run no schema change paused, is refused.
    let reply = choose(&lab, window(&runs, 2), "drop").await;
    assert_eq!(reply.status, reqwest::StatusCode::BAD_REQUEST, "{}", reply.body);
    assert!(reply.message().contains("accept or resnapshot"), "{}", reply.message());
    let reply = choose(&lab, window(&runs, 1), "accept").await;
    assert_eq!(reply.status, reqwest::StatusCode::BAD_REQUEST, "{}", reply.body);

    // Accepted: the paused window and the held one land, each once, with the new column.
    let reply = choose(&lab, window(&runs, 2), "accept").await;
    assert_eq!(reply.status, reqwest::StatusCode::CREATED, "{}", reply.body);
    let runs = lab.ended_runs(pause, 4, Duration::from_secs(60)).await;
    let landed: Vec<&Value> = runs.iter().filter(|r| status(r) == "success").collect();
    assert_eq!(landed.len(), 3, "{runs:#?}");
    assert!(flow_item(&lab, pause).await.get("inletPaused").is_none());
    let rows = dataset_rows(&lab, &datasets[0]).await;
    let extras: Vec<(i64, Value)> = rows
        .iter()
        .map(|r| (r["id"].as_i64().unwrap(), r["extra"].clone()))
        .collect();
    assert_eq!(extras, vec![(1, Value::Null), (2, json!("x2")), (3, json!("x3"))]);
    // `ignore`: the new column never appears; its rows land all the same.
    let table = lab.dataset_table(&datasets[1]).await;
    let names: Vec<&str> = table["schema"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["id", "n", "updated_at"]);
    assert_eq!(super::ids(&table, "id"), [1, 2, 3]);
    let runs = lab.runs(ignore).await;
    assert_eq!(changes(window(&runs, 2)), vec![change("extra", "added", "ignored")]);

    // A narrowing (bigint → int) pauses every policy; it cannot be accepted, only resnapshot.
    lab.pg.psql("shop", "ALTER TABLE public.orders ALTER COLUMN n TYPE int");
    insert(&lab, 4, 4, "n, extra", "40, 'x4'");
    insert(&lab, 5, 5, "n, extra", "50, 'x5'");
    lab.set_clock(T0 + 5 * PERIOD + 1);
    for (flow, dataset) in [(pause, &datasets[0]), (ignore, &datasets[1]), (propagate, &datasets[2])] {
        let runs = lab
            .ended_runs(flow, runs_ending_at(flow, pause) - 2, Duration::from_secs(60))
            .await;
        let failed = runs
            .iter()
            .find(|r| status(r) == "failed" && r["windowNumber"] == 4)
            .expect("window 4 paused");
        let (code, message) = error_of(failed);
        assert_eq!(code, "SCHEMA_CHANGE_PAUSED", "{message}");
        assert!(message.contains("`n`: long → integer"), "{message}");
        assert!(!message.contains("schemaChanges=accept"), "{message}");
        let reply = choose(&lab, failed, "accept").await;
        assert_eq!(reply.status, reqwest::StatusCode::BAD_REQUEST, "{}", reply.body);
        assert!(reply.message().contains("resnapshot"), "{}", reply.message());
        let before = lab.dataset_table(dataset).await;
        assert_eq!(before["rows"], 3, "nothing of window 4 landed, nothing was cast");
        let reply = choose(&lab, failed, "resnapshot").await;
        assert_eq!(reply.status, reqwest::StatusCode::CREATED, "{}", reply.body);
    }
    for (flow, dataset) in [(pause, &datasets[0]), (ignore, &datasets[1]), (propagate, &datasets[2])] {
        let runs = lab
            .ended_runs(flow, runs_ending_at(flow, pause), Duration::from_secs(60))
            .await;
        let last = runs.iter().filter(|r| status(r) == "success").count();
        assert!(last >= 5, "{runs:#?}");
        let resnapshot = runs
            .iter()
            .find(|r| r["inletSchemaChoice"] == "resnapshot")
            .expect("the resnapshot run");
        assert_eq!(status(resnapshot), "success", "{resnapshot:#}");
        let table = lab.dataset_table(dataset).await;
        assert_eq!(super::ids(&table, "id"), [1, 2, 3, 4, 5], "each row once");
        let types: Vec<(&str, &str)> = table["schema"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| (f["name"].as_str().unwrap(), f["type"].as_str().unwrap()))
            .collect();
        assert!(
            types.contains(&("n", "int32")),
            "the dataset took the new schema: {types:?}"
        );
        let rows = dataset_rows(&lab, dataset).await;
        let n: Vec<i64> = rows.iter().map(|r| r["n"].as_i64().unwrap()).collect();
        assert_eq!(n, [10, 20, 30, 40, 50]);
    }
}

/// Runs each flow has once window 5 landed after the resnapshot of window 4: the pause
/// flow had one more run (its accepted re-run of window 2).
fn runs_ending_at(flow: &str, pause: &str) -> usize {
    if flow == pause { 7 } else { 6 }
}

#[tokio::test]
async fn a_redshift_flow_lands_through_the_changes_redshift_allows() {
    // Redshift alters a column's type only to a longer varchar; it adds, drops and renames.
    let lab = Lab::start(
        T0 - 60,
        "CREATE TABLE public.orders (id bigint NOT NULL, label varchar(20), note varchar(10), old_name varchar(10),
             updated_at timestamptz NOT NULL);",
        "",
    );
    insert(&lab, 1, 1, "label, note, old_name", "'a', 'n1', 'o1'");
    let (source, target, dataset) = lab
        .connections_on(
            crate::common::server::REDSHIFT_SPEC,
            json!({"tableName": "public.orders"}),
        )
        .await;
    let copy = json!([{"name": "Copy", "params": {"deltaColumn": {"name": "updated_at"}}}]);
    let schedule = json!({"startTime": T0, "frequency": "minute", "interval": 15});
    let flow = lab.flow(&source, &target, copy, schedule).await;
    land(&lab, &[&flow], 1, 1).await;
    let steps: [Step; 4] = [
        (
            "ALTER TABLE public.orders ADD COLUMN extra varchar(10)",
            "extra",
            "'x2'",
            vec![change("extra", "added", "applied")],
        ),
        (
            "ALTER TABLE public.orders ALTER COLUMN label TYPE varchar(40)",
            "label",
            "repeat('z', 40)",
            Vec::new(),
        ),
        (
            "ALTER TABLE public.orders DROP COLUMN note",
            "label",
            "'c'",
            vec![change("note", "dropped", "kept")],
        ),
        (
            "ALTER TABLE public.orders RENAME COLUMN old_name TO new_name",
            "new_name",
            "'n5'",
            vec![
                change("old_name", "dropped", "kept"),
                change("new_name", "added", "applied"),
            ],
        ),
    ];
    for (index, step) in steps.iter().enumerate() {
        let k = index as i64 + 2;
        change_then_land(&lab, &[&flow], (k, k), step).await;
    }
    let rows = dataset_rows(&lab, &dataset).await;
    let ids: Vec<i64> = rows.iter().map(|r| r["id"].as_i64().unwrap()).collect();
    assert_eq!(ids, [1, 2, 3, 4, 5]);
    assert_eq!((&rows[0]["note"], &rows[0]["old_name"]), (&json!("n1"), &json!("o1")));
    assert_eq!(
        (&rows[1]["extra"], &rows[2]["label"]),
        (&json!("x2"), &json!("z".repeat(40)))
    );
    assert_eq!(
        (&rows[4]["new_name"], &rows[4]["old_name"]),
        (&json!("n5"), &Value::Null)
    );
}

#[tokio::test]
async fn a_merge_flow_whose_key_changed_pauses_until_a_resnapshot() {
    let lab = Lab::start(
        T0 - 60,
        "CREATE TABLE public.orders (id int NOT NULL, region text NOT NULL, n int NOT NULL, updated_at timestamptz NOT NULL,
             PRIMARY KEY (id));",
        "",
    );
    insert(&lab, 1, 1, "region, n", "'eu', 10");
    let (source, target, dataset) = lab.connections("public.orders").await;
    let copy = json!([{"name": "Copy", "params": {"deltaColumn": {"name": "updated_at"}, "mergeByKey": true}}]);
    let schedule = json!({"startTime": T0, "frequency": "minute", "interval": 15});
    let flow = lab.flow(&source, &target, copy, schedule).await;
    land(&lab, &[&flow], 1, 1).await;
    // The key grows by a column: row 1 of another region is another row now.
    lab.pg.psql(
        "shop",
        "ALTER TABLE public.orders DROP CONSTRAINT orders_pkey; ALTER TABLE public.orders ADD PRIMARY KEY (id, region);",
    );
    insert(&lab, 2, 2, "region, n", "'eu', 20");
    lab.pg.psql(
        "shop",
        &format!(
            "INSERT INTO public.orders VALUES (1, 'us', 11, to_timestamp({}))",
            T0 + PERIOD + 3
        ),
    );
    let runs = land(&lab, &[&flow], 2, 2).await.remove(0);
    assert_eq!(status(window(&runs, 2)), "failed", "{runs:#?}");
    let (code, message) = error_of(window(&runs, 2));
    assert_eq!(code, "SCHEMA_CHANGE_PAUSED");
    assert!(message.contains("(id) → (id, region)"), "{message}");
    assert_eq!(
        changes(window(&runs, 2)),
        vec![change("id, region", "keyChanged", "paused")]
    );
    let reply = choose(&lab, window(&runs, 2), "accept").await;
    assert_eq!(reply.status, reqwest::StatusCode::BAD_REQUEST, "{}", reply.body);
    let reply = choose(&lab, window(&runs, 2), "resnapshot").await;
    assert_eq!(reply.status, reqwest::StatusCode::CREATED, "{}", reply.body);
    lab.ended_runs(&flow, 3, Duration::from_secs(60)).await;
    insert(&lab, 3, 3, "region, n", "'eu', 30");
    let runs = land(&lab, &[&flow], 3, 4).await.remove(0);
    assert!(runs.iter().filter(|r| status(r) == "success").count() == 3, "{runs:#?}");
    let rows = dataset_rows(&lab, &dataset).await;
    let keys: Vec<(i64, &str)> = rows
        .iter()
        .map(|r| (r["id"].as_i64().unwrap(), r["region"].as_str().unwrap()))
        .collect();
    let mut keys = keys;
    keys.sort();
    assert_eq!(
        keys,
        [(1, "eu"), (1, "us"), (2, "eu"), (3, "eu")],
        "each row once, by the new key"
    );
}
