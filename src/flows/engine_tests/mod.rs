//! The run lifecycle against a fake source and a fake target, on a real SQLite store:
//! window order, redo after a crash on either side of the commit, permanent failures that
//! hold later windows until re-run, attempts counted across claims, retries, on-demand
//! windows, disabled flows, and a scheduler that skips what it cannot read; change data
//! capture runs against a fake change feed (`cdc.rs`).

mod catch_up;
mod cdc;
mod fakes;
mod feed;
mod memory_target;
mod more;

use serde_json::{Value, json};

use self::fakes::{ATTEMPTS, Commit, LEASE_MS, Lab};
use super::engine::Outcome;
use super::failure::RUN_ABANDONED;
use super::runs::rerun;
use super::scheduler::Scheduler;
use super::worker::{finish, work_once};
use crate::catalog::{self, create_batch};
use crate::lake::WriteMode;
use crate::store::{Lease, RunRow, RunStatus, WallTimes};

/// The flows' start: windows are the hours after it, and the backfill before it.
const T0: i64 = 1_800_000_000;
/// Row `i` is stamped `T0 - 3600 + 36 i` seconds: 100 rows per hour, from the hour
/// before `T0` (the backfill window) to the end of window 5.
const ROWS: i64 = 500;

fn hourly() -> Value {
    json!({"startTime": T0, "frequency": "hour", "interval": 1, "backfill": true})
}

fn by_ts() -> Value {
    json!([{"name": "Copy", "params": {"deltaColumn": {"name": "ts"}}}])
}

/// A lab whose flow has five windows due (the backfill and four hours).
async fn lab() -> Lab {
    lab_landing(1).await
}

/// [`lab`], landing up to `windows` due windows in one commit.
async fn lab_landing(windows: u32) -> Lab {
    let lab = Lab::catching_up(hourly(), by_ts(), windows).await;
    let rows = (0..ROWS).map(|i| (i, (T0 - 3600 + 36 * i) * 1_000_000)).collect();
    *lab.rows.rows.lock().unwrap() = rows;
    lab.clock.now.store(T0 + 4 * 3600, std::sync::atomic::Ordering::SeqCst);
    assert_eq!(schedule(&lab).await, 5);
    lab
}

async fn schedule(lab: &Lab) -> usize {
    let scheduler = Scheduler {
        store: lab.store().clone(),
        clock: lab.clock.clone(),
        settle_lag: std::time::Duration::ZERO,
    };
    scheduler.pass().await.unwrap().scheduled
}

async fn claim(lab: &Lab, owner: &str) -> Option<RunRow> {
    let now = lab.engine.clock.wall_millis();
    let wall = WallTimes {
        now,
        lease_until: now + LEASE_MS,
    };
    lab.store()
        .claim_run(owner, lab.engine.clock.now(), wall)
        .await
        .unwrap()
}

/// Runs whatever can be claimed until nothing can; returns how many attempts were made.
async fn drain(lab: &Lab) -> usize {
    let mut attempts = 0;
    while work_once(&lab.engine, "worker").await.unwrap().is_some() {
        attempts += 1;
    }
    attempts
}

/// The flow's runs by window, then generation.
async fn runs(lab: &Lab) -> Vec<RunRow> {
    let mut runs = lab.store().list_runs(&lab.tenant).await.unwrap();
    runs.sort_by_key(|run| (run.window_number, run.generation));
    runs
}

fn statuses(runs: &[RunRow]) -> Vec<RunStatus> {
    runs.iter().map(|run| run.status).collect()
}

async fn batch_status(lab: &Lab, id: &str) -> Value {
    catalog::get_batch(lab.store(), &lab.tenant, id).await.unwrap().unwrap()["status"].clone()
}

/// Claims a run and dies in the middle of it, as a killed process would: its batch is
/// open and saved, its lease left to lapse.
async fn die_during(lab: &Lab, owner: &str) -> RunRow {
    let mut run = claim(lab, owner).await.expect("a run to claim");
    let batch = create_batch(lab.store(), &lab.tenant, &lab.dataset_id, &run.id, &lab.flow_id)
        .await
        .unwrap();
    run.details.batches.push(batch);
    assert!(lab.store().save_run(&run, owner, Lease::Keep).await.unwrap());
    lab.wait(LEASE_MS + 1);
    run
}

#[tokio::test]
async fn windows_land_in_order_and_a_later_window_waits_for_the_earlier_one() {
    let lab = lab().await;
    let mut first = claim(&lab, "a").await.unwrap();
    assert_eq!(first.window_number, 1);
    assert!(claim(&lab, "b").await.is_none(), "window 2 waits while window 1 runs");
    let outcome = lab.engine.execute("a", &mut first).await;
    assert_eq!(outcome, Outcome::Succeeded);
    assert!(
        claim(&lab, "b").await.is_none(),
        "window 1 has landed but is not recorded yet"
    );
    finish(&lab.engine, "a", &mut first, outcome).await;
    assert_eq!(claim(&lab, "b").await.unwrap().window_number, 2);

    lab.wait(LEASE_MS + 1);
    assert_eq!(drain(&lab).await, 4);
    assert_eq!(statuses(&runs(&lab).await), [RunStatus::Success; 5]);
    assert_eq!(lab.target.ids(), (0..ROWS).collect::<Vec<_>>(), "every row once");
    let order: Vec<i64> = lab
        .target
        .commits
        .lock()
        .unwrap()
        .iter()
        .map(|c| c.txn_version)
        .collect();
    assert_eq!(order, [1, 2, 3, 4, 5]);
}

#[tokio::test]
async fn a_redo_after_a_crash_that_followed_the_commit_writes_nothing_and_reports_the_commit() {
    let lab = lab().await;
    let dead = die_during(&lab, "a").await;
    let batch = dead.details.batches[0].clone();
    lab.target.commit(Commit {
        app_id: lab.flow_id.clone(),
        txn_version: 1,
        run_id: dead.id.clone(),
        batch_id: Some(batch.clone()),
        mode: WriteMode::Append,
        ids: (0..100).collect(),
        cdc_position: None,
        first_window: None,
    });

    let redone = work_once(&lab.engine, "b").await.unwrap().unwrap();
    assert_eq!(
        (redone.id.as_str(), redone.status, redone.attempts),
        (dead.id.as_str(), RunStatus::Success, 2)
    );
    assert_eq!(redone.details.metrics.record_summary.output_record_count, 100);
    assert_eq!(redone.details.delta_version, Some(0));
    let note = redone.details.metrics.status_summary.note.clone().unwrap();
    assert!(note.contains("earlier attempt of this run committed"), "{note}");
    assert_eq!(batch_status(&lab, &batch).await, "success", "the batch that committed");
    assert_eq!(lab.target.commits.lock().unwrap().len(), 1, "nothing written again");

    drain(&lab).await;
    assert_eq!(lab.target.ids(), (0..ROWS).collect::<Vec<_>>());
}

#[tokio::test]
async fn an_attempt_that_died_before_its_commit_leaves_a_failed_batch_and_the_redo_lands_once() {
    let lab = lab().await;
    let dead = die_during(&lab, "a").await;
    let redone = work_once(&lab.engine, "b").await.unwrap().unwrap();
    assert_eq!(redone.status, RunStatus::Success);
    let batches = &redone.details.batches;
    assert_eq!(batches.len(), 2);
    assert_eq!(batches[0], dead.details.batches[0]);
    let interrupted = catalog::get_batch(lab.store(), &lab.tenant, &batches[0])
        .await
        .unwrap()
        .unwrap();
    assert_eq!(interrupted["status"], "failed");
    assert_eq!(interrupted["errors"][0]["code"], "ATTEMPT_INTERRUPTED");
    assert_eq!(batch_status(&lab, &batches[1]).await, "success");
    assert_eq!(lab.target.ids(), (0..100).collect::<Vec<_>>());
}

#[tokio::test]
async fn a_window_that_fails_for_good_holds_the_later_ones_until_it_is_rerun() {
    let lab = lab().await;
    *lab.rows.poison.lock().unwrap() = Some(150);
    drain(&lab).await;
    let held = runs(&lab).await;
    use RunStatus::*;
    assert_eq!(statuses(&held), [Success, Failed, Scheduled, Scheduled, Scheduled]);
    let failed = held[1].clone();
    assert_eq!(
        failed.details.metrics.status_summary.errors[0].code,
        "SOURCE_UNSUPPORTED"
    );
    assert_eq!(failed.attempts, 1, "a permanent failure is not retried");
    let batch = failed.details.current_batch().unwrap().to_string();
    assert_eq!(batch_status(&lab, &batch).await, "failed");
    assert_eq!(
        lab.store().first_failed_run(&lab.flow_id).await.unwrap().unwrap().id,
        failed.id
    );
    assert_eq!(lab.store().count_waiting_after(&lab.flow_id, 2).await.unwrap(), 3);
    lab.wait(3_600_000);
    assert!(
        claim(&lab, "a").await.is_none(),
        "later windows wait for the failed one"
    );

    *lab.rows.poison.lock().unwrap() = None;
    let retry = rerun(&failed, lab.engine.clock.now(), lab.engine.clock.wall_millis());
    assert!(lab.store().insert_retry(&failed.id, &retry).await.unwrap());
    assert!(
        !lab.store()
            .insert_retry(&failed.id, &rerun(&failed, 0, 0))
            .await
            .unwrap(),
        "re-run once"
    );
    drain(&lab).await;
    let all = runs(&lab).await;
    assert_eq!(statuses(&all), [Success, Failed, Success, Success, Success, Success]);
    assert_eq!(all[1].replaced_by.as_deref(), Some(retry.id.as_str()));
    assert_eq!((all[2].window_number, all[2].generation), (2, 1));
    assert_eq!(
        lab.target.ids(),
        (0..ROWS).collect::<Vec<_>>(),
        "every row once after the re-run"
    );
}

#[tokio::test]
async fn attempts_count_across_claims_and_a_run_whose_workers_keep_dying_is_abandoned() {
    let lab = lab().await;
    let mut last = None;
    for _ in 0..ATTEMPTS {
        last = Some(die_during(&lab, "dying").await);
    }
    let last = last.unwrap();
    assert_eq!(last.attempts, i64::from(ATTEMPTS));
    let ended = work_once(&lab.engine, "b").await.unwrap().unwrap();
    assert_eq!(ended.status, RunStatus::Failed);
    let error = &ended.details.metrics.status_summary.errors[0];
    assert_eq!(error.code, RUN_ABANDONED, "{error:?}");
    assert!(error.message.contains("re-trigger"), "{error:?}");
    for batch in &ended.details.batches {
        assert_eq!(batch_status(&lab, batch).await, "failed", "no batch stays processing");
    }
    assert!(lab.target.commits.lock().unwrap().is_empty());
    assert!(
        claim(&lab, "c").await.is_none(),
        "the abandoned window holds the later ones"
    );
}

#[tokio::test]
async fn an_abandoned_run_whose_last_attempt_committed_succeeds() {
    let lab = lab().await;
    let mut dead = None;
    for _ in 0..ATTEMPTS {
        dead = Some(die_during(&lab, "dying").await);
    }
    let dead = dead.unwrap();
    lab.target.commit(Commit {
        app_id: lab.flow_id.clone(),
        txn_version: 1,
        run_id: dead.id.clone(),
        batch_id: dead.details.current_batch().map(str::to_string),
        mode: WriteMode::Append,
        ids: (0..100).collect(),
        cdc_position: None,
        first_window: None,
    });
    let ended = work_once(&lab.engine, "b").await.unwrap().unwrap();
    assert_eq!(ended.status, RunStatus::Success);
    assert_eq!(
        batch_status(&lab, dead.details.current_batch().unwrap()).await,
        "success"
    );
    let earlier = &ended.details.batches[0];
    assert_eq!(batch_status(&lab, earlier).await, "failed");
}

#[tokio::test]
async fn a_batch_closed_as_failed_becomes_a_success_when_its_late_commit_is_found() {
    let lab = lab().await;
    let dead = die_during(&lab, "stalled").await;
    let batch = dead.details.batches[0].clone();
    // A later attempt closed the batch as interrupted (and died too); then the stalled
    // attempt woke up and committed after all.
    let closed = crate::catalog::BatchResult {
        status: crate::catalog::BatchStatus::Failed,
        record_count: 0,
        table_version: None,
        errors: Vec::new(),
    };
    catalog::finish_batch(lab.store(), &lab.tenant, &batch, &closed, false)
        .await
        .unwrap();
    lab.target.commit(Commit {
        app_id: lab.flow_id.clone(),
        txn_version: 1,
        run_id: dead.id.clone(),
        batch_id: Some(batch.clone()),
        mode: WriteMode::Append,
        ids: (0..100).collect(),
        cdc_position: None,
        first_window: None,
    });
    let ended = work_once(&lab.engine, "b").await.unwrap().unwrap();
    assert_eq!(ended.status, RunStatus::Success);
    let shown = catalog::get_batch(lab.store(), &lab.tenant, &batch)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (shown["status"].as_str(), shown["metrics"]["recordCount"].as_u64()),
        (Some("success"), Some(100))
    );
}
