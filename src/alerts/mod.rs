//! Alerts: flow run events delivered to the user's webhooks (docs/alerts.md).
//!
//! A run's state change and the event that reports it are written in one transaction
//! (the outbox, `store/alerts.rs`); the delivery worker (`deliver.rs`) fans each event out
//! to the subscriptions that want it and POSTs it, signed (`sign.rs`), in tasks of its
//! own: a slow or hostile receiver never delays a run.

pub mod deliver;
pub mod events;
pub mod rate;
pub mod settings;
pub mod sign;
pub mod subscription;
pub mod thresholds;
mod watch;

pub use events::{AlertEvent, EventKind};
pub use settings::AlertSettings;
pub use thresholds::FlowThresholds;
