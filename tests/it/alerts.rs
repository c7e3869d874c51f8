//! Alerts and the first-minute annoyances of issue 23, against a real `inlet serve`.

mod first_minute;
mod more_events;
mod per_flow;
mod rate;
mod rate_store;
pub mod receiver;
mod watched;
mod webhooks;
