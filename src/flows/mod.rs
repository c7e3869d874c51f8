//! Dataflows: schedules and the windows they make, runs, the scheduler and workers.

pub mod schedule;
