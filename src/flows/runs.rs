//! New runs: the scheduler's and `POST /runs`'s ([`new_run`]), and the re-run of a failed
//! one ([`rerun`]).

use super::params::DeltaColumn;
use super::schedule::Window;
use crate::identity::Tenant;
use crate::store::{RunDetails, RunRow, RunStatus, new_etag};

/// A `scheduled` run of `flow_id` for `window`, which may start at flow-clock second
/// `due_at`; `now_ms` (wall-clock epoch milliseconds) stamps its creation.
pub fn new_run(tenant: &Tenant, flow_id: &str, window: &Window, due_at: i64, now_ms: i64) -> RunRow {
    RunRow {
        id: uuid::Uuid::new_v4().to_string(),
        tenant: tenant.clone(),
        flow_id: flow_id.to_string(),
        window_number: window.number,
        generation: 0,
        window_start: window.start,
        window_end: window.end,
        status: RunStatus::Scheduled,
        due_at,
        retry_at: None,
        attempts: 0,
        lease_owner: None,
        lease_expires_at: None,
        replaced_by: None,
        created_at: now_ms,
        updated_at: now_ms,
        etag: new_etag(),
        details: RunDetails::default(),
    }
}

/// A new run of `failed`'s window, due at once (flow-clock second `now`): the next
/// generation, with the same on-demand parameters, naming the run it re-runs.
pub fn rerun(failed: &RunRow, now: i64, now_ms: i64) -> RunRow {
    let window = Window {
        number: failed.window_number,
        start: failed.window_start,
        end: failed.window_end,
    };
    let mut run = new_run(&failed.tenant, &failed.flow_id, &window, now.min(failed.due_at), now_ms);
    run.generation = failed.generation + 1;
    run.details.params = failed.details.params.clone();
    run.details.retry_of = Some(failed.id.clone());
    run
}

/// The delta column of the run's window: an on-demand run's own (`params.deltaColumn` of
/// `POST /runs`), else the flow's.
pub fn window_column(run: &RunRow, flow_column: Option<&DeltaColumn>) -> Option<DeltaColumn> {
    match &run.details.params {
        Some(params) => Some(DeltaColumn {
            name: params.delta_column.name.clone(),
            timezone: params.delta_column.timezone.clone(),
        }),
        None => flow_column.cloned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{OnDemandParams, StoredDeltaColumn};

    fn tenant() -> Tenant {
        Tenant {
            org: "O@AdobeOrg".into(),
            sandbox: "prod".into(),
        }
    }

    #[test]
    fn a_rerun_is_the_next_generation_of_the_same_window() {
        let window = Window {
            number: 3,
            start: Some(1_800_000_000),
            end: Some(1_800_000_900),
        };
        let mut failed = new_run(&tenant(), "flow-1", &window, 1_800_000_960, 42);
        failed.status = RunStatus::Failed;
        failed.details.params = Some(OnDemandParams {
            start_time: 1,
            window_start_time: 1_800_000_000,
            window_end_time: 1_800_000_900,
            delta_column: StoredDeltaColumn {
                name: "updated_at".into(),
                timezone: "UTC".into(),
            },
        });
        let again = rerun(&failed, 1_800_001_000, 43);
        assert_eq!(
            (
                again.window_number,
                again.generation,
                again.window_start,
                again.window_end
            ),
            (3, 1, failed.window_start, failed.window_end)
        );
        assert_eq!(again.status, RunStatus::Scheduled);
        assert_eq!(again.due_at, 1_800_000_960, "due at once");
        assert_eq!(again.details.retry_of.as_deref(), Some(failed.id.as_str()));
        assert_ne!(again.id, failed.id);
        let column = window_column(&again, None).unwrap();
        assert_eq!(column.name, "updated_at");
        let flows_own = DeltaColumn {
            name: "ts".into(),
            timezone: "UTC".into(),
        };
        let scheduled = new_run(&tenant(), "flow-1", &window, 0, 1);
        assert_eq!(window_column(&scheduled, Some(&flows_own)), Some(flows_own));
    }

    #[test]
    fn a_run_landed_its_windows_end_only_if_it_succeeded_and_read_everything_waiting() {
        let window = Window {
            number: 2,
            start: Some(1_800_000_000),
            end: Some(1_800_000_900),
        };
        let mut run = new_run(&tenant(), "flow-1", &window, 1_800_000_960, 1);
        assert_eq!(run.landed_up_to(), None, "scheduled");
        run.status = RunStatus::Failed;
        assert_eq!(run.landed_up_to(), None, "failed");
        run.status = RunStatus::Success;
        assert_eq!(run.landed_up_to(), Some(1_800_000_900));
        run.details.cdc = Some(crate::store::CdcSummary {
            more_waiting: true,
            ..Default::default()
        });
        assert_eq!(run.landed_up_to(), None, "changes still waiting");
        let once = Window {
            number: 1,
            start: None,
            end: None,
        };
        let mut once = new_run(&tenant(), "flow-2", &once, 1_800_000_000, 1);
        once.status = RunStatus::Success;
        assert_eq!(once.landed_up_to(), Some(1_800_000_000), "a once flow: when it was due");
    }
}
