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

/// `(column, kind, action)` of a run's recorded schema changes.
fn changes(run: &Value) -> Vec<(String, String, String)> {
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

fn change(column: &str, kind: &str, action: &str) -> (String, String, String) {
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
    let steps: [(&str, &str, &str, Vec<(String, String, String)>); 6] = [
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
            vec![
                change("old_name", "dropped", "kept"),
                change("new_name", "added", "applied"),
            ],
        ),
    ];
    for (index, (ddl, columns, values, expected)) in steps.iter().enumerate() {
        let k = index as i64 + 2;
        lab.pg.psql("shop", ddl);
        insert(&lab, k, k + 1, columns, values);
        let runs = land(&lab, &all, k, k as usize).await;
        for (flow, runs) in all.iter().zip(&runs) {
            let run = &runs[k as usize - 1];
            assert_eq!(status(run), "success", "flow {flow}, window {k} after `{ddl}`: {run:#}");
            assert_eq!(&changes(run), expected, "flow {flow}, window {k} after `{ddl}`");
        }
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
