//! The application's shared state: configuration, metadata store, lake, keys, metrics
//! and clocks, opened once at start-up and handed to the HTTP handlers and the background
//! tasks.

use std::sync::Arc;

use anyhow::Context;

use crate::api::list_tokens::ListKey;
use crate::config::Config;
use crate::connections::secrets::SecretCipher;
use crate::flows::clock::Clock;
use crate::flows::engine::Engine;
use crate::flows::maintenance::Maintainer;
use crate::flows::retention::Retention;
use crate::flows::scheduler::Scheduler;
use crate::flows::slots::{SlotSettings, SourceSlots};
use crate::flows::source_factory::Databases;
use crate::identity::keys;
use crate::identity::tokens::TokenSigner;
use crate::lake::{Lake, LakeConfig};
use crate::metrics::Metrics;
use crate::specs::SpecCatalog;
use crate::store::Store;

/// Everything a request handler may need; cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub config: Arc<Config>,
    pub store: Store,
    pub specs: Arc<SpecCatalog>,
    pub cipher: SecretCipher,
    pub tokens: TokenSigner,
    pub metrics: Arc<Metrics>,
    pub lake: Lake,
    /// The flow clock schedules and runs are judged by.
    pub clock: Arc<dyn Clock>,
    /// The reading connections runs may open to each source server.
    pub source_slots: Arc<SourceSlots>,
    /// Signs lists' continuation tokens.
    pub list_key: ListKey,
}

impl AppState {
    /// Opens the data directory, the keys, the metadata store and the lake.
    pub async fn open(config: Config) -> anyhow::Result<AppState> {
        let store = open_store(&config).await?;
        let master = keys::load_or_create(config.master_key.as_ref(), &config.data_dir, keys::MASTER_KEY_FILE)?;
        let token_key = keys::load_or_create(config.token_key.as_ref(), &config.data_dir, keys::TOKEN_KEY_FILE)?;
        let lake = Lake::new(&LakeConfig::from_env(config.lake_root.clone()))?;
        // Before any process writes: a store that would let commits overwrite each other
        // is refused here, with the reason.
        lake.check_store().await?;
        let clock = config.clock();
        let slots = SlotSettings {
            limit: config.source_connections,
            lease: config.run_lease,
            poll: config.poll_interval,
        };
        let process = crate::flows::worker::process_name();
        Ok(AppState {
            source_slots: Arc::new(SourceSlots::new(store.clone(), clock.clone(), slots, &process)),
            clock,
            config: Arc::new(config),
            store,
            specs: Arc::new(SpecCatalog::new()),
            cipher: SecretCipher::new(&master),
            tokens: TokenSigner::new(&token_key),
            list_key: ListKey::derive(token_key.bytes()),
            metrics: Arc::new(Metrics::new()),
            lake,
        })
    }

    /// The run engine, with this process's source connections, lake and settings.
    pub fn engine(&self) -> Engine {
        Engine {
            store: self.store.clone(),
            cipher: self.cipher.clone(),
            specs: self.specs.clone(),
            sources: Arc::new(Databases {
                options: self.config.source_options(),
            }),
            target: Arc::new(self.lake.clone()),
            clock: self.clock.clone(),
            slots: self.source_slots.clone(),
            metrics: self.metrics.clone(),
            settings: self.config.run_settings(),
        }
    }

    /// The retention of old runs and batches.
    pub fn retention(&self) -> Retention {
        Retention {
            store: self.store.clone(),
            clock: self.clock.clone(),
            keep: self.config.run_retention_keep,
            max_age: self.config.run_retention_age,
        }
    }

    /// Maintenance of the datasets' tables, for this process.
    pub fn maintainer(&self) -> Maintainer {
        Maintainer {
            store: self.store.clone(),
            lake: self.lake.clone(),
            clock: self.clock.clone(),
            metrics: self.metrics.clone(),
            policy: self.config.maintenance.policy.clone(),
            lease: self.config.run_lease,
            holder: crate::flows::worker::process_name().to_string(),
        }
    }

    /// The scheduler of every tenant's flows.
    pub fn scheduler(&self) -> Scheduler {
        Scheduler {
            store: self.store.clone(),
            clock: self.clock.clone(),
            settle_lag: self.config.settle_lag,
        }
    }

    /// The delivery worker of alert webhooks.
    pub fn deliverer(&self) -> anyhow::Result<crate::alerts::deliver::Deliverer> {
        crate::alerts::deliver::Deliverer::new(
            self.store.clone(),
            self.cipher.clone(),
            self.config.alerts.clone(),
            self.config.egress.clone(),
            crate::flows::worker::process_name().to_string(),
            (self.config.poll_interval, self.clock.clone()),
        )
    }
}

/// Opens the configured metadata store, creating the data directory if needed.
pub async fn open_store(config: &Config) -> anyhow::Result<Store> {
    config.ensure_data_dir()?;
    match &config.metadata_url {
        Some(url) => Store::connect(url).await,
        None => Store::open_sqlite(&config.data_dir).await,
    }
    .context("metadata store")
}
