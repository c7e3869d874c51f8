//! Runs of flows: the tutorial path, incremental windows, full refresh, mapping.

use std::time::Duration;

use serde_json::json;

use super::{Lab, ids, source_rows, status};

const ORDERS: &str = "CREATE TABLE public.orders (id bigint PRIMARY KEY, city text, total numeric(12,2),
    placed_at timestamptz, updated_at timestamptz NOT NULL);
  INSERT INTO public.orders SELECT g, CASE WHEN g % 7 = 0 THEN NULL ELSE 'city-' || (g % 13) END,
    (g * 1.25)::numeric(12,2), '2024-01-01 00:00:00+00'::timestamptz + g * interval '1 minute 0.000123 second',
    '2020-01-01 00:00:00+00' FROM generate_series(1, 5000) g;";

/// The orders as `id|city|total|placed_at epoch µs` lines, read back from the lake.
fn lake_orders(table: &serde_json::Value) -> Vec<String> {
    let mut rows: Vec<String> = table["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| {
            let placed = chrono::DateTime::parse_from_rfc3339(row["placed_at"].as_str().unwrap()).unwrap();
            format!(
                "{}|{}|{}|{}",
                row["id"],
                row["city"].as_str().unwrap_or(""),
                row["total"].as_str().unwrap(),
                placed.timestamp_micros()
            )
        })
        .collect();
    rows.sort();
    rows
}

const SOURCE_ORDERS: &str = "SELECT id || '|' || coalesce(city, '') || '|' || total::text || '|' || (extract(epoch FROM placed_at) * 1000000)::bigint FROM public.orders";

#[tokio::test]
async fn the_tutorial_path_copies_the_table_exactly() {
    let now = chrono::Utc::now().timestamp();
    let lab = Lab::start(now, ORDERS, "");
    let (source, target, dataset) = lab.connections("public.orders").await;
    let flow = lab
        .flow(
            &source,
            &target,
            json!([]),
            json!({"startTime": (now + 2).to_string(), "frequency": "once"}),
        )
        .await;
    lab.set_clock(now + 2);

    let runs = lab.ended_runs(&flow, 1, Duration::from_secs(90)).await;
    let run = &runs[0];
    assert_eq!(status(run), "success", "{run:#}");
    assert_eq!(run["metrics"]["recordSummary"]["outputRecordCount"], 5000);
    assert_eq!(run["metrics"]["recordSummary"]["inputRecordCount"], 5000);
    assert!(run["metrics"]["sizeSummary"]["inputBytes"].as_u64().unwrap() > 0);
    let batch_id = run["activities"][0]["targetInfo"][0]["reference"]["ids"][0]
        .as_str()
        .expect("the run names its batch");
    let batch = lab.batch(batch_id).await;
    assert_eq!(batch["status"], "success", "{batch:#}");
    assert_eq!(batch["metrics"]["recordCount"], 5000);

    let table = lab.dataset_table(&dataset).await;
    assert_eq!(table["rows"], 5000);
    assert_eq!(lake_orders(&table), source_rows(&lab.pg, SOURCE_ORDERS));
    let flow_item = lab.api.get(&format!("/flows/{flow}")).await.body;
    assert_eq!(
        flow_item["items"][0]["lastRunDetails"]["state"], "success",
        "{flow_item:#}"
    );
    let metrics = reqwest::get(format!("{}/metrics", lab.inlet.base))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(metrics.contains("inlet_runs_total{status=\"success\"} 1"), "{metrics}");
    assert!(metrics.contains("inlet_rows_written_total 5000"), "{metrics}");
    assert!(!metrics.contains("inlet_source_bytes_read_total 0\n"), "{metrics}");
}

#[tokio::test]
async fn incremental_windows_each_append_exactly_their_rows() {
    let t0: i64 = 1_735_689_600; // 2025-01-01T00:00:00Z, well before the database's clock
    let setup = "CREATE TABLE public.events (id bigint PRIMARY KEY, note text, updated_at timestamptz NOT NULL);
        INSERT INTO public.events SELECT g, 'history', to_timestamp(1735689600 - 86400 + g) FROM generate_series(1, 300) g;";
    let lab = Lab::start(t0 - 60, setup, "");
    let (source, target, dataset) = lab.connections("public.events").await;
    let copy = json!([{"name": "Copy", "params": {"deltaColumn": {"name": "updated_at", "dateFormat": "YYYY-MM-DD", "timezone": "UTC"}}}]);
    let flow = lab
        .flow(
            &source,
            &target,
            copy,
            json!({"startTime": t0.to_string(), "frequency": "minute", "interval": "15", "backfill": "true"}),
        )
        .await;

    // Window 1 is the backfill [−∞, t0): the history.
    lab.pg.psql("shop", "INSERT INTO public.events SELECT 1000 + g, 'w2', to_timestamp(1735689600 + g) FROM generate_series(0, 99) g;
        INSERT INTO public.events SELECT 5000 + g, 'boundary', to_timestamp(1735689600 + 900) FROM generate_series(1, 500) g;
        INSERT INTO public.events VALUES (4999, 'last microsecond of w2', to_timestamp(1735689600 + 900) - interval '1 microsecond');");
    lab.set_clock(t0);
    let runs = lab.ended_runs(&flow, 1, Duration::from_secs(60)).await;
    assert_eq!(status(&runs[0]), "success", "{:#}", runs[0]);
    assert_eq!(
        ids(&lab.dataset_table(&dataset).await, "id"),
        (1..=300).collect::<Vec<_>>()
    );

    // Window 2 is [t0, t0+900): 100 rows and the one a microsecond before the boundary.
    lab.set_clock(t0 + 900);
    let runs = lab.ended_runs(&flow, 2, Duration::from_secs(60)).await;
    assert_eq!(status(&runs[1]), "success", "{:#}", runs[1]);
    assert_eq!(runs[1]["metrics"]["recordSummary"]["outputRecordCount"], 101);
    let mut expected: Vec<i64> = (1..=300).chain(1000..1100).chain([4999]).collect();
    assert_eq!(ids(&lab.dataset_table(&dataset).await, "id"), expected);

    // Window 3 [t0+900, t0+1800) holds the 500 rows stamped exactly on its start.
    lab.pg.psql(
        "shop",
        "INSERT INTO public.events VALUES (7000, 'w3', to_timestamp(1735689600 + 1799));",
    );
    lab.set_clock(t0 + 1800);
    let runs = lab.ended_runs(&flow, 3, Duration::from_secs(60)).await;
    assert_eq!(status(&runs[2]), "success", "{:#}", runs[2]);
    expected.extend((5001..=5500).chain([7000]));
    expected.sort_unstable();
    let table = lab.dataset_table(&dataset).await;
    assert_eq!(ids(&table, "id"), expected, "every row exactly once");
    let txns = &table["txns"];
    assert_eq!(txns[flow.as_str()], 3, "{table:#}");
}

#[tokio::test]
async fn a_full_refresh_makes_the_dataset_equal_the_source_each_time() {
    let t0: i64 = 1_735_689_600;
    let lab = Lab::start(t0, ORDERS, "");
    let (source, target, dataset) = lab.connections("public.orders").await;
    let flow = lab
        .flow(
            &source,
            &target,
            json!([]),
            json!({"startTime": t0.to_string(), "frequency": "minute", "interval": 15}),
        )
        .await;
    lab.set_clock(t0 + 900);
    let runs = lab.ended_runs(&flow, 1, Duration::from_secs(60)).await;
    assert_eq!(status(&runs[0]), "success", "{:#}", runs[0]);
    assert_eq!(
        lake_orders(&lab.dataset_table(&dataset).await),
        source_rows(&lab.pg, SOURCE_ORDERS)
    );

    lab.pg.psql(
        "shop",
        "DELETE FROM public.orders WHERE id % 3 = 0; UPDATE public.orders SET city = 'moved' WHERE id = 1;",
    );
    lab.set_clock(t0 + 1800);
    let runs = lab.ended_runs(&flow, 2, Duration::from_secs(60)).await;
    assert_eq!(status(&runs[1]), "success", "{:#}", runs[1]);
    let table = lab.dataset_table(&dataset).await;
    assert_eq!(table["rows"], 5000 - 5000 / 3);
    assert_eq!(lake_orders(&table), source_rows(&lab.pg, SOURCE_ORDERS));
}

#[tokio::test]
async fn a_mapping_writes_exactly_the_mapped_columns() {
    let now = chrono::Utc::now().timestamp();
    let setup = "CREATE TABLE public.orders (id bigint PRIMARY KEY, city text, secret_note text);
        INSERT INTO public.orders VALUES (1, 'Oslo', 'x'), (2, NULL, 'y');";
    let lab = Lab::start(now, setup, "");
    let (source, target, dataset) = lab.connections("public.orders").await;
    let mapping = json!({"outputSchema": {}, "mappings": [
        {"sourceType": "ATTRIBUTE", "source": "id", "destination": "order_id"},
        {"sourceAttribute": "city", "destinationXdmPath": "address.city"},
        {"sourceType": "STATIC", "source": "pg", "destination": "source"}]});
    let reply = lab
        .api
        .send(
            lab.api
                .request(reqwest::Method::POST, "/data/foundation/conversion/mappingSets")
                .json(&mapping),
        )
        .await;
    assert!(reply.status.is_success(), "{}", reply.body);
    let mapping_id = reply.body["id"].as_str().unwrap();
    let transformations = json!([{"name": "Mapping", "params": {"mappingId": mapping_id, "mappingVersion": 0}}]);
    let flow = lab
        .flow(
            &source,
            &target,
            transformations,
            json!({"startTime": now.to_string(), "frequency": "once"}),
        )
        .await;
    let runs = lab.ended_runs(&flow, 1, Duration::from_secs(60)).await;
    assert_eq!(status(&runs[0]), "success", "{:#}", runs[0]);

    let table = lab.dataset_table(&dataset).await;
    let names: Vec<&str> = table["schema"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["order_id", "address", "source"], "{table:#}");
    let mut rows = table["data"].as_array().unwrap().clone();
    rows.sort_by_key(|r| r["order_id"].as_i64());
    assert_eq!(
        rows[0],
        json!({"order_id": 1, "address": {"city": "Oslo"}, "source": "pg"})
    );
    assert_eq!(
        rows[1],
        json!({"order_id": 2, "address": {"city": null}, "source": "pg"})
    );
}
