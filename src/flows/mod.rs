//! Dataflows: schedules and the windows they make, runs, the scheduler that turns flows
//! into runs, the workers that claim them, and the engine that executes one.

mod cdc;
pub mod clock;
pub mod engine;
pub mod failure;
mod followers;
mod landing;
pub mod maintenance;
pub mod model;
pub mod params;
pub mod partial;
pub mod plan;
pub mod retention;
pub mod runs;
pub mod schedule;
pub mod scheduler;
pub mod schema_policy;
pub mod slot_watch;
pub mod slots;
pub mod source_factory;
pub mod target;
mod transfer;
pub mod worker;

#[cfg(test)]
mod engine_tests;
