//! The classic traps of change data capture, one run each: a key that changes while its
//! TOASTed value stays, a column added at the source, a truncate, a re-snapshot asked
//! for, and a deleted flow whose slot must go. And `mergeByKey` on a delta column flow.

use reqwest::StatusCode;
use serde_json::json;

use super::{PERIOD, T0, assert_mirrors, cdc_flow, cdc_lab, dataset_rows, run_window};
use crate::dataflows::{Lab, status};

const SMALL: &str = "CREATE TABLE public.t (id int PRIMARY KEY, doc text, n int NOT NULL);
    ALTER TABLE public.t ALTER COLUMN doc SET STORAGE EXTERNAL;
    INSERT INTO public.t SELECT g, repeat(md5(g::text), 100), g FROM generate_series(1, 50) g;
    ALTER TABLE public.t OWNER TO reader;";

/// Asks for a re-snapshot of `flow`, then re-runs its failed `run`.
async fn resnapshot_and_rerun(lab: &Lab, flow: &str, run: &serde_json::Value) {
    let reply = lab
        .api
        .post(&format!("/flows/{flow}/action?op=resnapshot"), &json!({}))
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let failed = run["id"].as_str().unwrap();
    let reply = lab
        .api
        .post(&format!("/runs/{failed}/action?op=re-trigger"), &json!({}))
        .await;
    assert!(reply.status.is_success(), "{}", reply.body);
}

fn slots(lab: &Lab) -> String {
    lab.pg
        .psql("shop", "SELECT string_agg(slot_name, ',') FROM pg_replication_slots")
}

#[tokio::test]
async fn key_changes_new_columns_truncates_resnapshots_and_deletes() {
    let lab = cdc_lab(SMALL, "");
    let (flow, dataset) = cdc_flow(&lab, "public.t").await;
    let run = run_window(&lab, &flow, 1).await;
    assert_eq!(status(&run), "success", "{run:#}");
    assert!(slots(&lab).starts_with("inlet_"), "{}", slots(&lab));

    // A key change whose TOASTed doc stays, an update of another column only, and an
    // update in the same transaction as the row's insert.
    lab.pg.psql(
        "shop",
        "UPDATE public.t SET id = 1001 WHERE id = 1; UPDATE public.t SET n = n + 100 WHERE id BETWEEN 2 AND 10;
         BEGIN; INSERT INTO public.t VALUES (2000, repeat('x', 5000), 1); UPDATE public.t SET n = 2 WHERE id = 2000;
         COMMIT; DELETE FROM public.t WHERE id = 50;",
    );
    let run = run_window(&lab, &flow, 2).await;
    assert_eq!(status(&run), "success", "{run:#}");
    assert_eq!(run["inletCdc"]["mode"], "changes");
    assert_eq!(
        (
            &run["inletCdc"]["inserts"],
            &run["inletCdc"]["updates"],
            &run["inletCdc"]["deletes"]
        ),
        (&json!(1), &json!(11), &json!(1)),
        "{run:#}"
    );
    assert_mirrors(&lab, &dataset, "public.t", "id, doc, n").await;

    // A column added at the source: the dataset gains it; rows not changed since hold null.
    lab.pg.psql(
        "shop",
        "ALTER TABLE public.t ADD COLUMN extra text; UPDATE public.t SET extra = 'e' || id WHERE id <= 5;
         INSERT INTO public.t VALUES (3000, 'new', 3, 'fresh');",
    );
    let run = run_window(&lab, &flow, 3).await;
    assert_eq!(status(&run), "success", "{run:#}");
    let table = lab.dataset_table(&dataset).await;
    let names: Vec<&str> = table["schema"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["id", "doc", "n", "extra"], "{table:#}");
    assert_mirrors(&lab, &dataset, "public.t", "id, doc, n, extra").await;

    // A truncate empties the dataset; what follows it lands.
    lab.pg.psql(
        "shop",
        "TRUNCATE public.t; INSERT INTO public.t VALUES (7, 'after', 7, NULL);",
    );
    let run = run_window(&lab, &flow, 4).await;
    assert_eq!(status(&run), "success", "{run:#}");
    assert_eq!(run["inletCdc"]["truncates"], 1, "{run:#}");
    assert_mirrors(&lab, &dataset, "public.t", "id, doc, n, extra").await;

    // A re-snapshot: a new slot, the whole table copied again.
    let before = slots(&lab);
    let reply = lab
        .api
        .post(&format!("/flows/{flow}/action?op=resnapshot"), &json!({}))
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let shown = lab.api.get(&format!("/flows/{flow}")).await;
    assert_eq!(
        shown.body["items"][0]["inletCdc"]["resnapshotRequested"], true,
        "{:#}",
        shown.body
    );
    lab.pg.psql("shop", "INSERT INTO public.t VALUES (8, 'x', 8, 'y');");
    let run = run_window(&lab, &flow, 5).await;
    assert_eq!(status(&run), "success", "{run:#}");
    assert_eq!(run["inletCdc"]["mode"], "snapshot", "{run:#}");
    assert_eq!(slots(&lab), before, "the same slot name, created anew");
    assert_mirrors(&lab, &dataset, "public.t", "id, doc, n, extra").await;
    let shown = lab.api.get(&format!("/flows/{flow}")).await;
    assert_eq!(
        shown.body["items"][0]["inletCdc"]["resnapshotRequested"], false,
        "{:#}",
        shown.body
    );
    assert!(
        shown.body["items"][0]["inletCdc"]["retainedWalBytes"].is_u64(),
        "{:#}",
        shown.body
    );
    let metrics = reqwest::get(format!("{}/metrics", lab.inlet.base))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains(&format!("inlet_cdc_slot_retained_wal_bytes{{flow=\"{flow}\"}}")),
        "{metrics}"
    );

    // A deleted flow takes its slot and publication with it.
    let reply = lab.api.delete(&format!("/flows/{flow}")).await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT, "{}", reply.body);
    assert_eq!(slots(&lab), "", "no slot is left");
    assert_eq!(lab.pg.psql("shop", "SELECT count(*) FROM pg_publication"), "0");
}

#[tokio::test]
async fn a_flow_that_lost_its_slot_fails_with_a_clear_code_until_it_is_resnapshotted() {
    let lab = cdc_lab(SMALL, "run_attempts = 1\n");
    let (flow, dataset) = cdc_flow(&lab, "public.t").await;
    assert_eq!(status(&run_window(&lab, &flow, 1).await), "success");
    lab.pg.psql(
        "shop",
        "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots",
    );
    let run = run_window(&lab, &flow, 2).await;
    assert_eq!(status(&run), "failed", "{run:#}");
    let error = &run["metrics"]["statusSummary"]["errors"][0];
    assert_eq!(error["code"], "CDC_SLOT_MISSING", "{run:#}");
    assert!(error["message"].as_str().unwrap().contains("op=resnapshot"), "{error}");
    resnapshot_and_rerun(&lab, &flow, &run).await;
    lab.pg.psql("shop", "UPDATE public.t SET n = -1 WHERE id = 3");
    let runs = lab.ended_runs(&flow, 3, std::time::Duration::from_secs(60)).await;
    let last = runs.last().unwrap();
    assert_eq!(status(last), "success", "{runs:#?}");
    assert_eq!(last["inletCdc"]["mode"], "snapshot");
    assert_mirrors(&lab, &dataset, "public.t", "id, doc, n").await;
}

#[tokio::test]
async fn merge_by_key_keeps_the_latest_version_of_a_row_updated_in_two_windows() {
    let lab = Lab::start(
        T0 - 60,
        "CREATE TABLE public.orders (id int PRIMARY KEY, amount int NOT NULL, updated_at timestamptz NOT NULL);
         INSERT INTO public.orders SELECT g, g, to_timestamp(1735689600 + g) FROM generate_series(1, 10) g;
         CREATE TABLE public.nokey (id int, updated_at timestamptz);",
        "",
    );
    let (source, target, dataset) = lab.connections("public.orders").await;
    let copy = json!([{"name": "Copy", "params": {"deltaColumn": {"name": "updated_at"}, "mergeByKey": true}}]);
    let schedule = json!({"startTime": T0, "frequency": "minute", "interval": 15});
    let flow = lab.flow(&source, &target, copy.clone(), schedule.clone()).await;
    lab.set_clock(T0 + PERIOD + 1);
    let runs = lab.ended_runs(&flow, 1, std::time::Duration::from_secs(60)).await;
    assert_eq!(status(&runs[0]), "success", "{runs:#?}");
    // Row 3 updated twice: in window 2, and again later in window 2.
    lab.pg.psql(
        "shop",
        "UPDATE public.orders SET amount = 300, updated_at = to_timestamp(1735689600 + 900 + 5) WHERE id = 3;
         UPDATE public.orders SET amount = 333, updated_at = to_timestamp(1735689600 + 900 + 9) WHERE id = 3;
         INSERT INTO public.orders VALUES (11, 11, to_timestamp(1735689600 + 900 + 1));",
    );
    lab.set_clock(T0 + 2 * PERIOD + 1);
    let runs = lab.ended_runs(&flow, 2, std::time::Duration::from_secs(60)).await;
    assert_eq!(status(&runs[1]), "success", "{runs:#?}");
    let rows = dataset_rows(&lab, &dataset).await;
    let ids: Vec<i64> = rows.iter().map(|r| r["id"].as_i64().unwrap()).collect();
    assert_eq!(ids, (1..=11).collect::<Vec<_>>(), "each row once");
    assert_eq!(rows[2]["amount"], 333, "the latest version of row 3");

    // A table without a primary key is refused for mergeByKey, saying so.
    let (source, target, _) = lab.connections("public.nokey").await;
    let schedule = json!({"startTime": T0 + 3 * PERIOD, "frequency": "minute", "interval": 15});
    let reply = lab
        .api
        .post(
            "/flows",
            &json!({"name": "f", "flowSpec": {"id": crate::dataflows::FLOW_SPEC, "version": "1.0"},
                "sourceConnectionIds": [source], "targetConnectionIds": [target],
                "transformations": copy, "scheduleParams": schedule}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{}", reply.body);
    assert!(reply.message().contains("primary key"), "{}", reply.message());
}

#[tokio::test]
async fn a_once_flow_takes_on_demand_runs_that_merge_the_changes_since_the_last() {
    let lab = cdc_lab(SMALL, "");
    let (source, target, dataset) = lab
        .connections_with(json!({"tableName": "public.t", "cdcEnabled": true}))
        .await;
    let once = json!({"startTime": T0, "frequency": "once"});
    let flow = lab.flow(&source, &target, json!([]), once).await;
    lab.set_clock(T0 + 1);
    let runs = lab.ended_runs(&flow, 1, std::time::Duration::from_secs(60)).await;
    assert_eq!(runs[0]["inletCdc"]["mode"], "snapshot", "{runs:#?}");
    lab.pg.psql(
        "shop",
        "DELETE FROM public.t WHERE id <= 10; UPDATE public.t SET n = 0 WHERE id = 20;",
    );
    // A window or a delta column means nothing to it: refused, not ignored.
    let windowed = json!({"flowId": flow, "params": {"windowStartTime": T0, "windowEndTime": T0 + 60}});
    let reply = lab.api.post("/runs", &windowed).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{}", reply.body);
    assert!(reply.message().contains("every change"), "{}", reply.message());
    let reply = lab.api.post("/runs", &json!({"flowId": flow})).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    let runs = lab.ended_runs(&flow, 2, std::time::Duration::from_secs(60)).await;
    assert_eq!(status(&runs[1]), "success", "{runs:#?}");
    assert_eq!(runs[1]["inletCdc"]["deletes"], 10, "{runs:#?}");
    assert_eq!(
        runs[1]["inletCdc"]["transactions"], 2,
        "two source transactions; the read's own mark is not counted"
    );
    assert_mirrors(&lab, &dataset, "public.t", "id, doc, n").await;
    // Turning capture off under the flow would leave its slot behind: refused.
    let path = format!("/sourceConnections/{source}");
    let etag = lab.api.get(&path).await.body["items"][0]["etag"]
        .as_str()
        .unwrap()
        .to_string();
    let off = json!([{"op": "replace", "path": "/params/cdcEnabled", "value": false}]);
    let reply = lab.api.patch(&path, Some(&etag), &off).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{}", reply.body);
    assert!(reply.message().contains(&format!("flow {flow}")), "{}", reply.message());
}

#[tokio::test]
async fn a_slot_the_source_invalidated_fails_the_flow_until_it_is_resnapshotted() {
    let mut settings = super::logical();
    settings.push(("max_slot_wal_keep_size".into(), "1MB".into()));
    let lab = Lab::start_on(
        settings,
        T0 - 60,
        &format!("{}{SMALL}", super::GRANTS),
        "run_attempts = 1\n",
        crate::common::server::Options::default(),
    );
    let (flow, dataset) = cdc_flow(&lab, "public.t").await;
    assert_eq!(status(&run_window(&lab, &flow, 1).await), "success");
    // More WAL than the slot may keep, then a checkpoint: the source gives the slot up.
    let switches =
        "INSERT INTO public.t VALUES (900, 'w', 0); DELETE FROM public.t WHERE id = 900; SELECT pg_switch_wal();";
    lab.pg.psql("shop", &format!("{}CHECKPOINT;", switches.repeat(5)));
    let wal_status = lab
        .pg
        .psql("shop", "SELECT string_agg(wal_status, ',') FROM pg_replication_slots");
    assert_eq!(wal_status, "lost", "the source invalidated the slot");
    let shown = lab.api.get(&format!("/flows/{flow}")).await;
    assert_eq!(
        shown.body["items"][0]["inletCdc"]["status"], "invalidated",
        "{:#}",
        shown.body
    );
    let run = run_window(&lab, &flow, 2).await;
    assert_eq!(status(&run), "failed", "{run:#}");
    let error = &run["metrics"]["statusSummary"]["errors"][0];
    assert_eq!(error["code"], "CDC_SLOT_INVALIDATED", "{run:#}");
    assert!(
        error["message"].as_str().unwrap().contains("max_slot_wal_keep_size"),
        "{error}"
    );
    resnapshot_and_rerun(&lab, &flow, &run).await;
    let runs = lab.ended_runs(&flow, 3, std::time::Duration::from_secs(60)).await;
    let last = runs.last().unwrap();
    assert_eq!(
        (status(last), &last["inletCdc"]["mode"]),
        ("success", &json!("snapshot")),
        "{runs:#?}"
    );
    assert_mirrors(&lab, &dataset, "public.t", "id, doc, n").await;
}

#[tokio::test]
async fn changes_merge_into_a_lake_on_s3() {
    let s3 = crate::common::s3::S3Server::start();
    let options = crate::common::server::Options {
        lake_root: Some(s3.root("lake")),
        env: s3.env(),
        ..Default::default()
    };
    let lab = Lab::start_on(
        super::logical(),
        T0 - 60,
        &format!("{}{SMALL}", super::GRANTS),
        "",
        options,
    );
    let (flow, dataset) = cdc_flow(&lab, "public.t").await;
    assert_eq!(status(&run_window(&lab, &flow, 1).await), "success");
    lab.pg.psql(
        "shop",
        "UPDATE public.t SET n = -n WHERE id % 3 = 0; DELETE FROM public.t WHERE id > 40;
         UPDATE public.t SET id = id + 500 WHERE id = 5; INSERT INTO public.t VALUES (77, 'seventy-seven', 77);",
    );
    let run = run_window(&lab, &flow, 2).await;
    assert_eq!(status(&run), "success", "{run:#}");
    assert!(lab.dataset_location(&dataset).await.starts_with("s3://"));
    assert_mirrors(&lab, &dataset, "public.t", "id, doc, n").await;
}
