//! Retries, on-demand windows, disabled flows and the scheduler's isolation of broken
//! flows.

use serde_json::json;

use super::fakes::{ATTEMPTS, Lab};
use super::{ROWS, T0, by_ts, claim, drain, hourly, lab, runs, schedule, statuses};
use crate::flows::runs::new_run;
use crate::flows::schedule::Window;
use crate::flows::scheduler::Scheduler;
use crate::flows::worker::work_once;
use crate::lake::WriteMode;
use crate::store::{OnDemandParams, RunStatus, StoredDeltaColumn};

#[tokio::test]
async fn transient_failures_wait_for_their_retry_and_fail_the_run_when_the_attempts_are_spent() {
    let lab = lab().await;
    lab.rows
        .transient_failures
        .store(1, std::sync::atomic::Ordering::SeqCst);
    let waiting = work_once(&lab.engine, "a").await.unwrap().unwrap();
    assert_eq!(waiting.status, RunStatus::Scheduled);
    let summary = &waiting.details.metrics.status_summary;
    assert_eq!(
        (summary.retries, summary.last_error.as_ref().unwrap().code.as_str()),
        (Some(1), "SOURCE_CONNECTION_LOST")
    );
    assert_eq!(waiting.retry_at, Some(lab.engine.clock.wall_millis() + 2_000));
    assert!(claim(&lab, "b").await.is_none(), "the retry waits for its backoff");
    lab.wait(2_000);
    let retried = work_once(&lab.engine, "b").await.unwrap().unwrap();
    assert_eq!((retried.status, retried.attempts), (RunStatus::Success, 2));
    assert!(retried.details.metrics.status_summary.last_error.is_none());

    lab.rows
        .transient_failures
        .store(10, std::sync::atomic::Ordering::SeqCst);
    for backoff in [2_000, 4_000] {
        assert_eq!(
            work_once(&lab.engine, "a").await.unwrap().unwrap().status,
            RunStatus::Scheduled
        );
        lab.wait(backoff);
    }
    let failed = work_once(&lab.engine, "a").await.unwrap().unwrap();
    assert_eq!(
        (failed.status, failed.attempts),
        (RunStatus::Failed, i64::from(ATTEMPTS))
    );
    assert_eq!(
        failed.details.metrics.status_summary.errors[0].code,
        "SOURCE_CONNECTION_LOST"
    );
}

#[tokio::test]
async fn an_on_demand_run_copies_exactly_its_window_by_its_delta_column() {
    let lab = Lab::new(json!({"startTime": T0, "frequency": "once"}), json!([])).await;
    *lab.rows.rows.lock().unwrap() = (0..ROWS).map(|i| (i, (T0 - 3600 + 36 * i) * 1_000_000)).collect();
    lab.clock.now.store(T0, std::sync::atomic::Ordering::SeqCst);
    assert_eq!(schedule(&lab).await, 1);
    drain(&lab).await;
    assert_eq!(
        lab.target.ids(),
        (0..ROWS).collect::<Vec<_>>(),
        "the once run copies the table"
    );

    let window = Window {
        number: 2,
        start: Some(T0),
        end: Some(T0 + 3600),
    };
    let mut run = new_run(&lab.tenant, &lab.flow_id, &window, T0, 0);
    run.details.params = Some(OnDemandParams {
        start_time: T0,
        window_start_time: T0,
        window_end_time: T0 + 3600,
        delta_column: StoredDeltaColumn {
            name: "ts".into(),
            timezone: "UTC".into(),
        },
    });
    assert!(lab.store().insert_run(&run).await.unwrap());
    let ended = work_once(&lab.engine, "a").await.unwrap().unwrap();
    assert_eq!(ended.status, RunStatus::Success);
    assert_eq!(ended.details.metrics.record_summary.output_record_count, 100);
    let request = lab.rows.requests.lock().unwrap().last().cloned().unwrap();
    let filter = request.window.expect("a windowed read");
    assert_eq!(
        (filter.column.as_str(), filter.start, filter.end),
        ("ts", Some(T0 * 1_000_000), Some((T0 + 3600) * 1_000_000))
    );
    let last = lab.target.commits.lock().unwrap().last().cloned().unwrap();
    assert_eq!(
        (last.mode, last.txn_version, last.ids),
        (WriteMode::Append, 2, (100..200).collect())
    );
}

#[tokio::test]
async fn a_disabled_flows_runs_are_cancelled_and_run_again_once_it_is_enabled() {
    let lab = lab().await;
    set_state(&lab, "disabled").await;
    drain(&lab).await;
    assert_eq!(runs(&lab).await[0].status, RunStatus::Cancelled);
    assert!(lab.target.commits.lock().unwrap().is_empty());
    set_state(&lab, "enabled").await;
    lab.store().resume_cancelled_runs(&lab.flow_id, 0).await.unwrap();
    drain(&lab).await;
    assert_eq!(statuses(&runs(&lab).await), [RunStatus::Success; 5]);
    assert_eq!(lab.target.ids(), (0..ROWS).collect::<Vec<_>>());
}

async fn set_state(lab: &Lab, state: &str) {
    let mut row = lab
        .store()
        .get_resource("flow", &lab.tenant, &lab.flow_id)
        .await
        .unwrap()
        .unwrap();
    let etag = row.etag.clone();
    row.doc["state"] = json!(state);
    row.etag = format!("\"{state}\"");
    lab.store().update_resource(&row, &etag).await.unwrap();
}

#[tokio::test]
async fn the_scheduler_skips_a_flow_it_cannot_read_and_schedules_the_others() {
    let lab = Lab::new(hourly(), by_ts()).await;
    let mut deep = json!("bottom");
    for _ in 0..200 {
        deep = json!([deep]);
    }
    let other = crate::identity::Tenant {
        org: "OTHER@AdobeOrg".into(),
        sandbox: "prod".into(),
    };
    for (id, doc) in [
        ("unreadable", deep),
        ("invalid", json!({"id": "invalid", "state": "enabled"})),
    ] {
        let row = crate::store::ResourceRow {
            kind: "flow".into(),
            id: id.into(),
            tenant: other.clone(),
            etag: "\"e\"".into(),
            created_at: 0,
            updated_at: 0,
            doc,
            secret: None,
        };
        lab.store().insert_resource(&row).await.unwrap();
    }
    lab.clock.now.store(T0 + 3600, std::sync::atomic::Ordering::SeqCst);
    let scheduler = Scheduler {
        store: lab.store().clone(),
        clock: lab.clock.clone(),
        settle_lag: std::time::Duration::ZERO,
    };
    let pass = scheduler.pass().await.unwrap();
    assert_eq!(pass.scheduled, 2, "the readable flow's two due windows");
    let mut skipped = pass.skipped.clone();
    skipped.sort();
    assert_eq!(skipped, ["invalid", "unreadable"]);
}

#[tokio::test]
async fn retention_removes_old_runs_with_their_batches_but_not_the_last_run() {
    let lab = lab().await;
    drain(&lab).await;
    let before = runs(&lab).await;
    assert_eq!(statuses(&before), [RunStatus::Success; 5]);
    lab.wait(10_000);
    let retention = crate::flows::retention::Retention {
        store: lab.store().clone(),
        clock: lab.clock.clone(),
        keep: 1,
        max_age: std::time::Duration::from_millis(5_000),
    };
    let pruned = retention.pass().await.unwrap();
    assert_eq!((pruned.runs, pruned.batches), (4, 4));
    let after = runs(&lab).await;
    assert_eq!(after.iter().map(|r| r.window_number).collect::<Vec<_>>(), [5]);
    let gone = before[0].details.current_batch().unwrap();
    assert!(
        crate::catalog::get_batch(lab.store(), &lab.tenant, gone)
            .await
            .unwrap()
            .is_none()
    );
    let kept = after[0].details.current_batch().unwrap();
    assert!(
        crate::catalog::get_batch(lab.store(), &lab.tenant, kept)
            .await
            .unwrap()
            .is_some()
    );
    assert_eq!(
        retention.pass().await.unwrap(),
        crate::flows::retention::Pruned::default()
    );
    assert_eq!(schedule(&lab).await, 0, "the scheduler still knows the last window");
}
