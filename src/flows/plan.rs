//! Everything one run needs, loaded from the metadata store when the run starts: the
//! flow, where to read (source config, table, columns, the window's delta column), where
//! to write (dataset, how), and the mapping. A run reads them afresh, so a flow edited
//! between runs takes effect at the next run.

use super::failure::RunFailure;
use super::model::{
    FLOW_KIND, Flow, SOURCE_CONNECTION_KIND, SourceConnection, TARGET_CONNECTION_KIND, TargetConnection,
};
use super::params::DeltaColumn;
use super::runs::window_column;
use crate::connections::secrets::SecretCipher;
use crate::lake::WriteMode;
use crate::mapping::MappingSet;
use crate::sources::TableRef;
use crate::sources::config::SourceConfig;
use crate::specs::SpecCatalog;
use crate::store::{ResourceRow, RunRow, Store};

/// The resolved inputs of a run.
pub struct RunPlan {
    pub flow: Flow,
    pub source_config: SourceConfig,
    pub table: TableRef,
    pub columns: Option<Vec<String>>,
    /// The column that places rows in this run's window; `None`: the whole table.
    pub delta_column: Option<DeltaColumn>,
    pub dataset_id: String,
    pub mapping: Option<MappingSet>,
    /// The dataset mirrors the table through its change log (`cdc.rs`).
    pub cdc: bool,
}

/// What a plan is loaded with: the store, and what opens a base connection's secrets.
pub struct PlanSources<'a> {
    pub store: &'a Store,
    pub cipher: &'a SecretCipher,
    pub specs: &'a SpecCatalog,
}

impl RunPlan {
    /// Loads the plan of `run`; `None` when its flow was deleted or disabled.
    pub async fn load(from: &PlanSources<'_>, run: &RunRow) -> Result<Option<RunPlan>, RunFailure> {
        Ok(RunPlan::load_any(from, run).await?.filter(|plan| plan.flow.enabled))
    }

    /// Loads the plan of `run`'s flow whether it is enabled or not; `None` when it was
    /// deleted.
    pub async fn load_any(from: &PlanSources<'_>, run: &RunRow) -> Result<Option<RunPlan>, RunFailure> {
        let Some(flow_row) = get(from.store, run, FLOW_KIND, &run.flow_id).await? else {
            return Ok(None);
        };
        let flow = Flow::from_row(&flow_row).map_err(|e| RunFailure::permanent("FLOW_INVALID", e.to_string()))?;
        let source = required(
            from.store,
            run,
            (SOURCE_CONNECTION_KIND, "source connection"),
            &flow.source_connection_id,
        )
        .await?;
        let source =
            SourceConnection::from_row(&source).map_err(|e| RunFailure::permanent("SOURCE_INVALID", e.to_string()))?;
        let target = required(
            from.store,
            run,
            (TARGET_CONNECTION_KIND, "target connection"),
            &flow.target_connection_id,
        )
        .await?;
        let target =
            TargetConnection::from_row(&target).map_err(|e| RunFailure::permanent("TARGET_INVALID", e.to_string()))?;
        let base = required(
            from.store,
            run,
            (crate::connections::KIND, "base connection"),
            &source.base_connection_id,
        )
        .await?;
        let source_config = crate::connections::source_config(from.cipher, from.specs, &base).map_err(|_| {
            RunFailure::permanent(
                "SOURCE_CONNECTION_INVALID",
                format!("base connection {} cannot be used", base.id),
            )
        })?;
        let mapping = match &flow.mapping {
            Some(reference) => Some(
                crate::mapping::load(from.store, &run.tenant, &reference.id, reference.version)
                    .await
                    .map_err(RunFailure::internal)?
                    .ok_or_else(|| missing("mapping set", &reference.id))?,
            ),
            None => None,
        };
        Ok(Some(RunPlan {
            delta_column: window_column(run, flow.delta_column.as_ref()),
            flow,
            source_config,
            table: source.table,
            columns: source.columns,
            cdc: source.cdc,
            dataset_id: target.dataset_id,
            mapping,
        }))
    }

    /// A window by a delta column is appended; the whole table replaces the dataset.
    pub fn write_mode(&self) -> WriteMode {
        match self.delta_column {
            Some(_) => WriteMode::Append,
            None => WriteMode::Replace,
        }
    }
}

async fn get(store: &Store, run: &RunRow, kind: &str, id: &str) -> Result<Option<ResourceRow>, RunFailure> {
    store
        .get_resource(kind, &run.tenant, id)
        .await
        .map_err(RunFailure::internal)
}

/// The resource `id` of `(kind, noun)`, which the run cannot do without.
async fn required(
    store: &Store,
    run: &RunRow,
    (kind, noun): (&str, &str),
    id: &str,
) -> Result<ResourceRow, RunFailure> {
    get(store, run, kind, id).await?.ok_or_else(|| missing(noun, id))
}

fn missing(what: &str, id: &str) -> RunFailure {
    RunFailure::permanent("CONFIGURATION_MISSING", format!("{what} {id} no longer exists"))
}
