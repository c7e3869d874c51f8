//! The run claims of the metadata store on both backends: windows are claimed in order
//! even by many claimers at once, leases lapse, attempts are counted, a failed run is
//! re-run once; and runs recorded by the previous schema read after the migration.

use serde_json::json;
use sqlx::Executor;

use inlet::flows::runs::{new_run, rerun};
use inlet::flows::schedule::Window;
use inlet::identity::Tenant;
use inlet::secret::Secret;
use inlet::store::{Lease, RunRow, RunStatus, Store, WallTimes};

use crate::common::pg::{PgOptions, PgServer};

fn tenant() -> Tenant {
    Tenant {
        org: "ORG@AdobeOrg".into(),
        sandbox: "prod".into(),
    }
}

fn run(flow: &str, number: i64) -> RunRow {
    let window = Window {
        number,
        start: Some(number * 3600),
        end: Some((number + 1) * 3600),
    };
    new_run(&tenant(), flow, &window, 0, number)
}

const LEASE: i64 = 1_000;

fn at(now: i64) -> WallTimes {
    WallTimes {
        now,
        lease_until: now + LEASE,
    }
}

async fn end(store: &Store, run: &mut RunRow, owner: &str, status: RunStatus) {
    run.status = status;
    assert!(store.save_run(run, owner, Lease::Release).await.unwrap());
}

async fn claims_follow_window_order(store: Store) {
    for flow in ["f1", "f2"] {
        for number in 1..=3 {
            assert!(store.insert_run(&run(flow, number)).await.unwrap());
        }
    }
    assert!(!store.insert_run(&run("f1", 2)).await.unwrap(), "one run per window");

    // Eight claimers at once get exactly the first window of each flow.
    let claims = futures::future::join_all((0..8).map(|i| {
        let store = store.clone();
        async move { store.claim_run(&format!("w{i}"), 10, at(0)).await.unwrap() }
    }))
    .await;
    let mut claimed: Vec<(String, i64)> = claims
        .iter()
        .flatten()
        .map(|r| (r.flow_id.clone(), r.window_number))
        .collect();
    claimed.sort();
    assert_eq!(claimed, [("f1".to_string(), 1), ("f2".to_string(), 1)]);

    let mut first = claims.into_iter().flatten().find(|r| r.flow_id == "f1").unwrap();
    let owner = first.lease_owner.clone().unwrap();
    end(&store, &mut first, &owner, RunStatus::Success).await;
    let second = store.claim_run("x", 10, at(1)).await.unwrap().unwrap();
    assert_eq!(
        (second.flow_id.as_str(), second.window_number, second.attempts),
        ("f1", 2, 1)
    );
    assert!(
        store.claim_run("y", 10, at(2)).await.unwrap().is_none(),
        "f2's window 1 is still held"
    );

    // A lapsed lease is claimed again, and the claim counts as another attempt.
    let again = store.claim_run("z", 10, at(LEASE + 5)).await.unwrap().unwrap();
    assert_eq!(again.attempts, 2);
    assert!(
        !store.renew_lease(&again.id, "old-owner", LEASE * 9).await.unwrap(),
        "the old lease is gone"
    );

    // A failed window holds its flow's later ones until it is re-run.
    let mut failed = second;
    let owner = failed.lease_owner.clone().unwrap();
    end(&store, &mut failed, &owner, RunStatus::Failed).await;
    let stored = store.first_failed_run("f1").await.unwrap().unwrap();
    assert_eq!(stored.window_number, 2);
    let retry = rerun(&stored, 10, 99);
    assert!(store.insert_retry(&stored.id, &retry).await.unwrap());
    assert!(!store.insert_retry(&stored.id, &rerun(&stored, 10, 100)).await.unwrap());
    assert!(store.first_failed_run("f1").await.unwrap().is_none());
    let mut claimed_retry = None;
    for i in 0..3 {
        if let Some(run) = store.claim_run(&format!("r{i}"), 10, at(LEASE * 3)).await.unwrap()
            && run.flow_id == "f1"
        {
            claimed_retry = Some(run);
        }
    }
    let claimed_retry = claimed_retry.expect("the re-run is claimable");
    assert_eq!(
        (claimed_retry.id.as_str(), claimed_retry.generation),
        (retry.id.as_str(), 1)
    );
    let last = store.last_window("f1").await.unwrap().unwrap();
    assert_eq!((last.number, last.end), (3, Some(4 * 3600)));
}

#[tokio::test]
async fn claims_follow_window_order_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    claims_follow_window_order(Store::open_sqlite(dir.path()).await.unwrap()).await;
}

#[tokio::test]
async fn claims_follow_window_order_on_postgres() {
    let pg = PgServer::start(PgOptions::default());
    pg.create_database("meta");
    claims_follow_window_order(Store::connect(&Secret::new(pg.admin_url("meta"))).await.unwrap()).await;
}

/// The runs table as the schema before re-runs made it, with one run in it (and what
/// later migrations added taken away, so that they run again).
const V2_RUNS: &[&str] = &[
    "DROP INDEX resources_by_name",
    "DROP INDEX resources_by_created",
    "DROP INDEX resources_by_updated",
    "ALTER TABLE resources DROP COLUMN name",
    "DROP TABLE resource_fields",
    "DROP TABLE runs",
    "CREATE TABLE runs (id TEXT PRIMARY KEY, org TEXT NOT NULL, sandbox TEXT NOT NULL, flow_id TEXT NOT NULL,
        window_number BIGINT NOT NULL, window_start BIGINT, window_end BIGINT, status TEXT NOT NULL,
        due_at BIGINT NOT NULL, attempts BIGINT NOT NULL, lease_owner TEXT, lease_expires_at BIGINT,
        created_at BIGINT NOT NULL, updated_at BIGINT NOT NULL, etag TEXT NOT NULL, doc TEXT NOT NULL,
        UNIQUE (flow_id, window_number))",
    // Tables of later migrations go too, so the store is as version 2 left it.
    "DROP TABLE IF EXISTS source_slots",
    "DROP TABLE IF EXISTS cdc_resnapshots",
    "DROP TABLE IF EXISTS alert_events",
    "DROP TABLE IF EXISTS alert_deliveries",
    "DROP TABLE IF EXISTS dataset_maintenance",
    "DROP TABLE IF EXISTS alert_rates",
    "DELETE FROM schema_migrations WHERE version >= 3",
];

async fn old_runs_migrate(url: &str, reopen: impl AsyncFnOnce() -> Store) {
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(url).await.unwrap();
    for statement in V2_RUNS {
        pool.execute(*statement).await.unwrap();
    }
    let legacy = json!({"metrics": {"recordSummary": {"outputRecordCount": 7}, "statusSummary": {"status": "success", "errors": []}},
        "activities": [{"targetInfo": [{"reference": {"ids": ["batch-1"]}}]}]});
    sqlx::query("INSERT INTO runs VALUES ('r1', 'ORG@AdobeOrg', 'prod', 'f1', 1, NULL, 3600, 'success', 0, 1, NULL, NULL, 1, 2, '\"e\"', $1)")
        .bind(legacy.to_string())
        .execute(&pool)
        .await
        .unwrap();
    sqlx::query(
        "INSERT INTO resources (kind, id, org, sandbox, etag, created_at, updated_at, doc, secret) \
                 VALUES ('connection', 'c1', 'ORG@AdobeOrg', 'prod', '\"e\"', 1, 1, $1, NULL)",
    )
    .bind(json!({"id": "c1", "name": "old one", "connectionSpec": {"id": "spec-1"}}).to_string())
    .execute(&pool)
    .await
    .unwrap();
    pool.close().await;

    let store = reopen().await;
    let by_spec = inlet::store::Page {
        filters: vec![inlet::store::FieldFilter {
            path: "connectionSpec.id".into(),
            test: inlet::store::FieldTest::AnyOf(vec!["spec-1".into()]),
        }],
        sort: inlet::store::SortBy::Name,
        descending: false,
        after: None,
        rows: 10,
    };
    let found = store.list_page("connection", &tenant(), &by_spec).await.unwrap();
    assert_eq!(
        found.len(),
        1,
        "a resource stored before the migration is searchable after it"
    );
    let runs = store.list_runs(&tenant()).await.unwrap();
    assert_eq!(runs.len(), 1);
    let old = &runs[0];
    assert_eq!(
        (old.status, old.generation, old.window_end),
        (RunStatus::Success, 0, Some(3600))
    );
    assert_eq!(old.details.metrics.record_summary.output_record_count, 7);
    assert_eq!(old.details.batches, ["batch-1"]);
    assert!(
        store.insert_run(&run("f1", 2)).await.unwrap(),
        "the migrated table takes new runs"
    );
}

#[tokio::test]
async fn runs_of_the_previous_schema_migrate_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    Store::open_sqlite(dir.path()).await.unwrap();
    let url = format!("sqlite://{}", dir.path().join("metadata.db").display());
    old_runs_migrate(&url, async || Store::open_sqlite(dir.path()).await.unwrap()).await;
}

#[tokio::test]
async fn runs_of_the_previous_schema_migrate_on_postgres() {
    let pg = PgServer::start(PgOptions::default());
    pg.create_database("meta");
    let url = pg.admin_url("meta");
    Store::connect(&Secret::new(url.clone())).await.unwrap();
    old_runs_migrate(&url, async || Store::connect(&Secret::new(url.clone())).await.unwrap()).await;
}

/// A run of flow `flow`, window `number`, in `status`, last changed at `updated_at`.
fn aged(flow: &str, number: i64, status: RunStatus, updated_at: i64) -> RunRow {
    let mut run = run(flow, number);
    run.status = status;
    run.updated_at = updated_at;
    run.details.batches = vec![format!("batch-{flow}-{number}")];
    run
}

async fn retention_keeps_what_matters(store: Store) {
    use RunStatus::*;
    let flow = inlet::store::ResourceRow {
        kind: "flow".into(),
        id: "f1".into(),
        tenant: tenant(),
        etag: "\"e\"".into(),
        created_at: 0,
        updated_at: 0,
        doc: json!({"id": "f1"}),
        secret: None,
    };
    store.insert_resource(&flow).await.unwrap();
    // Windows 1..=6 of f1, all old: successes, a failed one that was re-run (window 4,
    // generation 1 succeeded), a failed one that holds the rest (window 6), scheduled ones.
    let mut runs = vec![
        aged("f1", 1, Success, 10),
        aged("f1", 2, Cancelled, 10),
        aged("f1", 3, Success, 10),
        aged("f1", 4, Failed, 10),
        aged("f1", 5, Success, 10),
        aged("f1", 6, Failed, 10),
        aged("f1", 7, Scheduled, 10),
        aged("f1", 8, Scheduled, 10),
    ];
    let mut retry = rerun(&runs[3], 0, 11);
    retry.status = Success;
    retry.updated_at = 10;
    runs[3].replaced_by = Some(retry.id.clone());
    runs.push(retry.clone());
    // A deleted flow's runs: ended ones go, however they ended.
    runs.push(aged("gone", 1, Success, 10));
    runs.push(aged("gone", 2, Cancelled, 10));
    runs.push(aged("gone", 3, Failed, 10));
    for run in &runs {
        assert!(store.insert_run(run).await.unwrap());
    }
    assert!(
        store.prune_runs(2, 5).await.unwrap().is_empty(),
        "nothing is older than the cut-off"
    );
    let pruned = store.prune_runs(2, 1_000).await.unwrap();
    let mut removed: Vec<&str> = pruned.iter().map(|r| r.id.as_str()).collect();
    removed.sort();
    let mut expected = vec![
        runs[0].id.as_str(),
        runs[2].id.as_str(),
        runs[3].id.as_str(),
        retry.id.as_str(),
        runs[4].id.as_str(),
        runs[9].id.as_str(),
    ];
    expected.sort();
    assert_eq!(
        removed, expected,
        "old successes and the re-run failure; not the cancelled run of a living \
        flow, the holding failure, the last started run of each flow, or anything scheduled"
    );
    let first = pruned.iter().find(|r| r.id == runs[0].id).unwrap();
    assert_eq!(
        (first.batches.clone(), first.tenant.clone()),
        (vec!["batch-f1-1".to_string()], tenant())
    );
    let left: Vec<i64> = store
        .list_runs(&tenant())
        .await
        .unwrap()
        .iter()
        .filter(|r| r.flow_id == "f1")
        .map(|r| r.window_number)
        .collect();
    let mut left = left;
    left.sort();
    assert_eq!(left, [2, 6, 7, 8]);
    assert_eq!(
        store.last_run("f1").await.unwrap().unwrap().window_number,
        6,
        "lastRunDetails unchanged"
    );
    assert!(
        store.prune_runs(2, 1_000).await.unwrap().is_empty(),
        "a second pass finds nothing"
    );
}

#[tokio::test]
async fn retention_keeps_what_matters_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    retention_keeps_what_matters(Store::open_sqlite(dir.path()).await.unwrap()).await;
}

#[tokio::test]
async fn retention_keeps_what_matters_on_postgres() {
    let pg = PgServer::start(PgOptions::default());
    pg.create_database("meta");
    retention_keeps_what_matters(Store::connect(&Secret::new(pg.admin_url("meta"))).await.unwrap()).await;
}
