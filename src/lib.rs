//! Inlet: a self-hosted service that copies PostgreSQL and Amazon Redshift tables into
//! Delta Lake datasets, speaking the Flow Service HTTP API.

pub mod alerts;
pub mod api;
pub mod app;
pub mod bounds;
pub mod catalog;
pub mod cli;
pub mod config;
pub mod connections;
pub mod console;
pub mod copy;
pub mod flows;
pub mod identity;
pub mod lake;
pub mod logging;
pub mod mapping;
pub mod metrics;
#[cfg(test)]
pub(crate) mod proptest_config;
pub mod schema_changes;
pub mod secret;
pub mod sources;
pub mod specs;
pub mod state;
pub mod store;

/// Makes `ring` the process's rustls crypto provider. The dependency tree enables both
/// `ring` and `aws-lc-rs` in rustls (the AWS SDK under delta-rs's `s3` feature brings the
/// latter), so rustls cannot pick one itself and would panic on first use. Idempotent.
pub fn install_crypto_provider() {
    // Err only means a provider is installed already, which is what we want.
    let _ = rustls::crypto::ring::default_provider().install_default();
}
