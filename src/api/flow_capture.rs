//! The change data capture side of `/flows` (docs/cdc.md): a flow's `inletCdc` (its
//! replication slot and the WAL it retains, read live from the source), `op=resnapshot`,
//! and dropping the slot and publication when the flow is deleted.

use axum::http::StatusCode;
use serde_json::Value;

use super::error::ApiError;
use super::explore::open_source;
use super::resource::{CONNECTION, SOURCE_CONNECTION, find};
use super::schema::items::FlowCapture;
use crate::flows::model::SourceConnection;
use crate::identity::Caller;
use crate::sources::changes::{Capture, ChangeFeed};
use crate::state::AppState;
use crate::store::ResourceRow;

/// The capture of a flow whose source connection has `cdcEnabled`, with the feed that
/// reads it; `None` for other flows.
async fn capture_of(
    state: &AppState,
    caller: &Caller,
    flow: &ResourceRow,
) -> Result<Option<(Box<dyn ChangeFeed>, Capture)>, ApiError> {
    let Some(source_id) = flow.doc["sourceConnectionIds"][0].as_str() else {
        return Ok(None);
    };
    let source = find(state, caller, SOURCE_CONNECTION, source_id).await?;
    let source = SourceConnection::from_row(&source).map_err(ApiError::internal)?;
    if !source.cdc {
        return Ok(None);
    }
    let base = find(state, caller, CONNECTION, &source.base_connection_id).await?;
    let (reader, _) = open_source(state, &base)?;
    let Some(feed) = reader.change_feed() else {
        return Ok(None);
    };
    Ok(Some((feed, Capture::for_flow(&flow.id, source.table))))
}

/// Adds `inletCdc` to a change data capture flow's item: its slot as the source reports
/// it now (or why it cannot be read), and whether a re-snapshot waits.
pub async fn add_capture(
    state: &AppState,
    caller: &Caller,
    flow: &ResourceRow,
    item: &mut Value,
) -> Result<(), ApiError> {
    let Some((feed, capture)) = capture_of(state, caller, flow).await? else {
        return Ok(());
    };
    let requested = state.store.resnapshot_requested(&caller.tenant, &flow.id).await?;
    let mut shown = FlowCapture {
        slot: capture.slot.clone(),
        publication: capture.publication.clone(),
        resnapshot_requested: requested.is_some(),
        ..FlowCapture::default()
    };
    match feed.slot(&capture).await {
        Ok(Some(slot)) => {
            shown.status = if slot.invalidated { "invalidated" } else { "active" }.into();
            shown.retained_wal_bytes = Some(slot.retained_bytes);
            shown.wal_status = Some(slot.wal_status);
            shown.confirmed_lsn = Some(slot.confirmed.to_string());
            shown.current_lsn = Some(slot.current.to_string());
        }
        // The first run creates it.
        Ok(None) => shown.status = "absent".into(),
        Err(error) => {
            shown.status = "unknown".into();
            shown.message = Some(format!("the source could not be asked about the slot: {error}"));
        }
    }
    item["inletCdc"] = serde_json::to_value(shown).map_err(ApiError::internal)?;
    Ok(())
}

/// `op=resnapshot`: the flow's next run takes a new snapshot with a new slot.
pub async fn request_resnapshot(state: &AppState, caller: &Caller, flow: &ResourceRow) -> Result<(), ApiError> {
    if capture_of(state, caller, flow).await?.is_none() {
        return Err(ApiError::bad_request(
            "1406",
            "`op=resnapshot` is for change data capture flows (a source connection with cdcEnabled); this flow copies \
             windows or the whole table at every run",
        ));
    }
    let now = state.clock.now();
    state.store.request_resnapshot(&caller.tenant, &flow.id, now).await?;
    Ok(())
}

/// Drops the slot and publication of a change data capture flow about to be deleted;
/// unless `keep`, a failure refuses the delete (the slot would hold the source's WAL
/// back forever).
pub async fn drop_capture(state: &AppState, caller: &Caller, flow: &ResourceRow, keep: bool) -> Result<(), ApiError> {
    if keep {
        return Ok(());
    }
    let Some((feed, capture)) = capture_of(state, caller, flow).await? else {
        return Ok(());
    };
    feed.drop_capture(&capture).await.map_err(|error| {
        ApiError::flow(
            StatusCode::CONFLICT,
            "1421",
            format!(
                "the flow was not deleted: its replication slot {} could not be dropped at the source ({error}), and \
                 a slot left behind keeps the source from removing WAL. Fix the source and delete again, or delete with \
                 ?keepReplicationSlot=true and drop the slot yourself (SELECT pg_drop_replication_slot('{}'))",
                capture.slot, capture.slot
            ),
        )
    })?;
    state.metrics.forget_flow(&flow.id);
    Ok(())
}
