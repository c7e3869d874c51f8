//! Inlet: a self-hosted service that copies PostgreSQL and Amazon Redshift tables into
//! Delta Lake datasets, speaking the Flow Service HTTP API.

pub mod api;
pub mod app;
pub mod cli;
pub mod config;
pub mod connections;
pub mod flows;
pub mod identity;
pub mod mapping;
pub mod metrics;
pub mod secret;
pub mod sources;
pub mod specs;
pub mod store;
