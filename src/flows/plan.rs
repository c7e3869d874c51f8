//! Everything one run needs, loaded from the metadata store when the run starts: the
//! flow, where to read (source config, table, columns), where to write (dataset), and
//! the mapping. A run reads them afresh, so a flow edited between runs takes effect at
//! the next run.

use super::engine::RunFailure;
use super::model::{FLOW_KIND, Flow, SourceConnection, TargetConnection};
use crate::app::AppState;
use crate::mapping::MappingSet;
use crate::sources::TableRef;
use crate::sources::config::SourceConfig;
use crate::store::RunRow;

/// The resolved inputs of a run.
pub struct RunPlan {
    pub flow: Flow,
    pub source_config: SourceConfig,
    pub table: TableRef,
    pub columns: Option<Vec<String>>,
    pub dataset_id: String,
    pub mapping: Option<MappingSet>,
}

impl RunPlan {
    /// Loads the plan of `run`; `None` when its flow was deleted or disabled.
    pub async fn load(state: &AppState, run: &RunRow) -> Result<Option<RunPlan>, RunFailure> {
        let store = &state.store;
        let missing = |what: &str, id: &str| {
            RunFailure::new_permanent("CONFIGURATION_MISSING", format!("{what} {id} no longer exists"))
        };
        let Some(flow_row) = store
            .get_resource(FLOW_KIND, &run.tenant, &run.flow_id)
            .await
            .map_err(RunFailure::internal)?
        else {
            return Ok(None);
        };
        let flow = Flow::from_row(&flow_row).map_err(|e| RunFailure::new_permanent("FLOW_INVALID", e.to_string()))?;
        if !flow.enabled {
            return Ok(None);
        }
        let source = store
            .get_resource(
                super::model::SOURCE_CONNECTION_KIND,
                &run.tenant,
                &flow.source_connection_id,
            )
            .await
            .map_err(RunFailure::internal)?
            .ok_or_else(|| missing("source connection", &flow.source_connection_id))?;
        let source = SourceConnection::from_row(&source)
            .map_err(|e| RunFailure::new_permanent("SOURCE_INVALID", e.to_string()))?;
        let target = store
            .get_resource(
                super::model::TARGET_CONNECTION_KIND,
                &run.tenant,
                &flow.target_connection_id,
            )
            .await
            .map_err(RunFailure::internal)?
            .ok_or_else(|| missing("target connection", &flow.target_connection_id))?;
        let target = TargetConnection::from_row(&target)
            .map_err(|e| RunFailure::new_permanent("TARGET_INVALID", e.to_string()))?;
        let base = store
            .get_resource(crate::connections::KIND, &run.tenant, &source.base_connection_id)
            .await
            .map_err(RunFailure::internal)?
            .ok_or_else(|| missing("base connection", &source.base_connection_id))?;
        let source_config = crate::connections::source_config(&state.cipher, &state.specs, &base).map_err(|_| {
            RunFailure::new_permanent(
                "SOURCE_CONNECTION_INVALID",
                format!("base connection {} cannot be used", base.id),
            )
        })?;
        let mapping = match &flow.mapping {
            Some(reference) => Some(
                crate::mapping::load(store, &run.tenant, &reference.id, reference.version)
                    .await
                    .map_err(RunFailure::internal)?
                    .ok_or_else(|| missing("mapping set", &reference.id))?,
            ),
            None => None,
        };
        Ok(Some(RunPlan {
            flow,
            source_config,
            table: source.table,
            columns: source.columns,
            dataset_id: target.dataset_id,
            mapping,
        }))
    }
}
