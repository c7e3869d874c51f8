//! Change data capture runs against a fake change feed: the first run takes the snapshot
//! from the slot's position; a change run's slot moves only after its commit; a run found
//! landed moves the slot to the position its commit recorded; a missing slot fails with
//! its code. (Against real PostgreSQL: tests/it/dataflows/cdc.rs.)

use std::sync::Arc;

use serde_json::json;

use super::fakes::{Commit, Lab};
use super::feed::FakeFeed;
use super::{T0, claim, die_during, drain, hourly, runs, statuses};
use crate::flows::worker::work_once;
use crate::lake::WriteMode;
use crate::sources::changes::Lsn;
use crate::store::{CdcMode, RunStatus};

/// A lab whose flow reads a source connection with `cdcEnabled`, through `feed`, with
/// five hourly windows due; the table has ids 0 to 9 for the snapshot.
async fn cdc_lab() -> (Lab, Arc<FakeFeed>) {
    let lab = Lab::new(hourly(), json!([])).await;
    let feed = Arc::new(FakeFeed::default());
    assert!(lab.rows.feed.set(feed.clone()).is_ok());
    *lab.rows.rows.lock().unwrap() = (0..10).map(|i| (i, T0 * 1_000_000)).collect();
    let mut source = lab
        .store()
        .get_resource("sourceConnection", &lab.tenant, "source")
        .await
        .unwrap()
        .unwrap();
    source.doc["params"]["cdcEnabled"] = json!(true);
    lab.store().update_resource(&source, "\"e\"").await.unwrap();
    lab.clock.now.store(T0 + 4 * 3600, std::sync::atomic::Ordering::SeqCst);
    assert_eq!(super::schedule(&lab).await, 5);
    (lab, feed)
}

#[tokio::test]
async fn the_snapshot_starts_at_the_slot_and_each_run_moves_it_only_after_its_commit() {
    let (lab, feed) = cdc_lab().await;
    let mut first = claim(&lab, "a").await.unwrap();
    assert_eq!(lab.engine.execute("a", &mut first).await, super::Outcome::Succeeded);
    crate::flows::worker::finish(&lab.engine, "a", &mut first, super::Outcome::Succeeded).await;
    let snapshot = lab.target.commits.lock().unwrap()[0].clone();
    assert_eq!(
        (snapshot.mode, snapshot.cdc_position.as_deref()),
        (WriteMode::Replace, Some("0/64"))
    );
    assert_eq!(first.details.cdc.as_ref().unwrap().mode, CdcMode::Snapshot);

    feed.commit(vec![10, 11], 200);
    lab.target.failing_merges.store(1, std::sync::atomic::Ordering::SeqCst);
    let failed = work_once(&lab.engine, "a").await.unwrap().unwrap();
    assert_eq!(
        failed.status,
        RunStatus::Scheduled,
        "a transient failure waits for its retry"
    );
    assert!(feed.advanced().is_empty(), "no commit, so the slot stays");
    assert_eq!(feed.slot(), Some(Lsn(100)));

    lab.wait(60_000);
    assert_eq!(drain(&lab).await, 4, "the retry and the three windows after it");
    assert_eq!(statuses(&runs(&lab).await), [RunStatus::Success; 5]);
    assert_eq!(
        feed.advanced()[0],
        Lsn(200),
        "moved to the end of what the commit holds"
    );
    let positions: Vec<Option<String>> = lab
        .target
        .commits
        .lock()
        .unwrap()
        .iter()
        .map(|c| c.cdc_position.clone())
        .collect();
    assert_eq!(
        positions,
        [Some("0/64"), Some("0/C8"), Some("0/C8"), Some("0/C8"), Some("0/C8")].map(|p| p.map(String::from))
    );
    assert_eq!(lab.target.ids(), (0..12).collect::<Vec<_>>());
}

#[tokio::test]
async fn a_run_found_landed_moves_the_slot_to_the_position_its_commit_recorded() {
    let (lab, feed) = cdc_lab().await;
    assert_eq!(
        work_once(&lab.engine, "a").await.unwrap().unwrap().status,
        RunStatus::Success
    );
    feed.commit(vec![10], 300);
    // Window 2's attempt commits, then dies before it moves the slot or records its end.
    let dead = die_during(&lab, "a").await;
    lab.target.commit(Commit {
        app_id: lab.flow_id.clone(),
        txn_version: dead.window_number,
        run_id: dead.id.clone(),
        batch_id: dead.details.batches.first().cloned(),
        mode: WriteMode::Append,
        ids: vec![10],
        cdc_position: Some(Lsn(300).to_string()),
        first_window: None,
    });
    let redone = work_once(&lab.engine, "b").await.unwrap().unwrap();
    assert_eq!(
        (redone.id.as_str(), redone.status),
        (dead.id.as_str(), RunStatus::Success)
    );
    assert_eq!(feed.advanced(), [Lsn(300)]);
    assert_eq!(lab.target.commits.lock().unwrap().len(), 2, "nothing merged again");
}

#[tokio::test]
async fn a_lost_slot_fails_the_run_with_its_code_and_a_resnapshot_takes_a_new_one() {
    let (lab, feed) = cdc_lab().await;
    assert_eq!(
        work_once(&lab.engine, "a").await.unwrap().unwrap().status,
        RunStatus::Success
    );
    feed.lose_slot();
    let failed = work_once(&lab.engine, "a").await.unwrap().unwrap();
    assert_eq!(failed.status, RunStatus::Failed);
    let error = &failed.details.metrics.status_summary.errors[0];
    assert_eq!(error.code, super::super::cdc::CDC_SLOT_MISSING);
    lab.store()
        .request_resnapshot(&lab.tenant, &lab.flow_id, 0)
        .await
        .unwrap();
    let retry = super::rerun(&failed, lab.engine.clock.now(), lab.engine.clock.wall_millis());
    assert!(lab.store().insert_retry(&failed.id, &retry).await.unwrap());
    let again = work_once(&lab.engine, "a").await.unwrap().unwrap();
    assert_eq!(again.status, RunStatus::Success);
    assert_eq!(again.details.cdc.as_ref().unwrap().mode, CdcMode::Snapshot);
    assert_eq!(feed.fresh_slots(), 1);
    assert_eq!(
        lab.store()
            .resnapshot_requested(&lab.tenant, &lab.flow_id)
            .await
            .unwrap(),
        None
    );
}
