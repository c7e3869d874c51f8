//! Dataflows: schedules and the windows they make, runs, the scheduler and workers.

pub mod clock;
pub mod model;
pub mod params;
pub mod runs;
pub mod schedule;
