//! Catch-up: consecutive due windows landed in one commit by the run of the first
//! (`followers.rs`), exactly once through crashes and failures.

use super::fakes::{LEASE_MS, Lab};
use super::{batch_status, die_during, drain, lab_landing, runs, statuses};
use crate::store::{RunRow, RunStatus, WallTimes};

const ROWS: i64 = super::ROWS;

fn commits(lab: &Lab) -> Vec<(Option<i64>, i64)> {
    let commits = lab.target.commits.lock().unwrap();
    commits.iter().map(|c| (c.first_window, c.txn_version)).collect()
}

fn note(run: &RunRow) -> String {
    run.details.metrics.status_summary.note.clone().unwrap_or_default()
}

#[tokio::test]
async fn due_windows_land_together_and_each_run_counts_its_own_window() {
    let lab = lab_landing(3).await;
    assert_eq!(drain(&lab).await, 2, "two leading runs land the five windows");
    let runs = runs(&lab).await;
    assert_eq!(statuses(&runs), [RunStatus::Success; 5]);
    assert_eq!(commits(&lab), [(Some(1), 3), (Some(4), 5)]);
    assert_eq!(lab.target.ids(), (0..ROWS).collect::<Vec<_>>(), "every row once");
    for run in &runs {
        let records = &run.details.metrics.record_summary;
        assert_eq!(
            (records.input_record_count, records.output_record_count),
            (100, 100),
            "{}",
            run.id
        );
        assert_eq!(run.attempts, 1);
        assert!(run.details.metrics.duration_summary.completed_at_utc.is_some());
    }
    let versions: Vec<Option<i64>> = runs.iter().map(|r| r.details.delta_version).collect();
    assert_eq!(versions, [Some(0), Some(0), Some(0), Some(1), Some(1)]);
    assert!(
        note(&runs[0]).contains("landed windows 1 to 3 in one commit"),
        "{}",
        note(&runs[0])
    );
    let follower = note(&runs[2]);
    assert!(
        follower.contains("landed with windows 1 to 3") && follower.contains(&runs[0].id),
        "{follower}"
    );
    // One batch, the leader's, holds the commit.
    assert_eq!(batch_status(&lab, &runs[0].details.batches[0]).await, "success");
    assert!(runs[1].details.batches.is_empty());
}

#[tokio::test]
async fn landing_one_window_per_commit_is_a_setting() {
    let lab = lab_landing(1).await;
    assert_eq!(drain(&lab).await, 5);
    assert_eq!(commits(&lab), [(None, 1), (None, 2), (None, 3), (None, 4), (None, 5)]);
}

#[tokio::test]
async fn a_redo_after_a_crash_that_followed_a_commit_of_several_windows_writes_nothing_again() {
    let lab = lab_landing(3).await;
    // The leader claimed its followers, committed all three windows, and died.
    let dead = die_during(&lab, "a").await;
    let all = runs(&lab).await;
    let now = lab.engine.clock.wall_millis();
    let wall = WallTimes {
        now,
        lease_until: now + LEASE_MS,
    };
    let followers = lab.store().claim_followers(&all[1..3], "a", wall).await.unwrap();
    assert_eq!(followers.len(), 2);
    lab.target.commit(super::fakes::Commit {
        app_id: lab.flow_id.clone(),
        txn_version: 3,
        run_id: dead.id.clone(),
        batch_id: Some(dead.details.batches[0].clone()),
        mode: crate::lake::WriteMode::Append,
        ids: (0..300).collect(),
        cdc_position: None,
        first_window: Some(1),
    });
    lab.wait(LEASE_MS + 1);

    drain(&lab).await;
    let runs = runs(&lab).await;
    assert_eq!(statuses(&runs), [RunStatus::Success; 5]);
    assert_eq!(lab.target.ids(), (0..ROWS).collect::<Vec<_>>(), "nothing written twice");
    assert_eq!(commits(&lab), [(Some(1), 3), (Some(4), 5)]);
    assert!(
        note(&runs[0]).contains("earlier attempt of this run committed"),
        "{}",
        note(&runs[0])
    );
    for follower in &runs[1..3] {
        assert_eq!(follower.attempts, 2);
        let note = note(follower);
        assert!(note.contains("already landed") && note.contains(&dead.id), "{note}");
        assert_eq!(
            follower.details.delta_version, None,
            "the commit's counts are not its own"
        );
    }
    assert_eq!(batch_status(&lab, &dead.details.batches[0]).await, "success");
}

#[tokio::test]
async fn a_follower_that_fails_sends_its_windows_back_to_land_one_by_one() {
    let lab = lab_landing(3).await;
    // Row 150 is in window 2, a follower of window 1.
    *lab.rows.poison.lock().unwrap() = Some(150);
    drain(&lab).await;
    let first = runs(&lab).await;
    use RunStatus::*;
    assert_eq!(
        statuses(&first),
        [Scheduled, Scheduled, Scheduled, Scheduled, Scheduled]
    );
    let error = first[0].details.metrics.status_summary.last_error.clone().unwrap();
    assert!(
        error.message.contains("window 2, read to land with this one, failed"),
        "{}",
        error.message
    );
    assert_eq!(first[1].attempts, 0, "the followers were given back unattempted");
    assert!(lab.target.commits.lock().unwrap().is_empty(), "nothing was committed");

    // The retry lands window 1 alone; window 2 fails on its own run and holds the rest.
    lab.wait(60_000);
    drain(&lab).await;
    let held = runs(&lab).await;
    assert_eq!(statuses(&held), [Success, Failed, Scheduled, Scheduled, Scheduled]);
    assert_eq!(
        held[1].details.metrics.status_summary.errors[0].code,
        "SOURCE_UNSUPPORTED"
    );
    assert_eq!(commits(&lab), [(None, 1)]);
    assert_eq!(lab.target.ids(), (0..100).collect::<Vec<_>>());
}
