//! The scheduler: turns enabled flows into runs, one per due window. Inserting a run is
//! idempotent per (flow, window), so any number of Inlet processes may schedule at once.

use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::model::Flow;
use super::runs::new_run;
use crate::app::AppState;
use crate::store::StoreError;

/// Most windows scheduled for one flow in one tick, so a flow whose start lies far in
/// the past catches up gradually instead of flooding the run table.
const MAX_WINDOWS_PER_TICK: usize = 100;

/// Schedules due windows every `tick` until `stop` is cancelled.
pub async fn run(state: AppState, tick: Duration, stop: CancellationToken) {
    loop {
        if let Err(error) = schedule_due(&state).await {
            tracing::warn!(%error, "scheduling failed; will retry");
        }
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(tick) => {}
        }
    }
}

/// One pass: for each enabled flow, records a run for every window that is due.
pub async fn schedule_due(state: &AppState) -> Result<usize, StoreError> {
    let now = state.clock.now();
    let lag = state.config.settle_lag.as_secs() as i64;
    let mut scheduled = 0;
    for row in state.store.list_all_resources(super::model::FLOW_KIND).await? {
        let flow = match Flow::from_row(&row) {
            Ok(flow) if flow.enabled => flow,
            Ok(_) => continue,
            Err(error) => {
                tracing::warn!(flow = %row.id, %error, "stored flow cannot be read; not scheduled");
                continue;
            }
        };
        let last = state.store.last_window(&flow.id).await?;
        for window in flow
            .schedule
            .due_windows(last, now, lag)
            .into_iter()
            .take(MAX_WINDOWS_PER_TICK)
        {
            let run = new_run(
                &flow.tenant,
                &flow.id,
                &window,
                flow.schedule.due_at(&window, lag),
                crate::store::now_millis(),
            );
            if state.store.insert_run(&run).await? {
                tracing::info!(flow = %flow.id, run = %run.id, window = window.number, "run scheduled");
                scheduled += 1;
            }
        }
    }
    Ok(scheduled)
}
