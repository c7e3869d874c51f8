//! The flow clock: the time schedules and runs are judged by. Production reads the system
//! clock; tests point `clock_file` (`INLET_CLOCK_FILE`) at a file holding epoch seconds,
//! so they move time by writing the file instead of waiting.

use std::path::PathBuf;

/// A source of the current time for schedules and runs.
pub trait Clock: Send + Sync {
    /// Now, in seconds since the Unix epoch: what schedules and windows are judged by.
    fn now(&self) -> i64;

    /// Now by the wall clock, in milliseconds since the Unix epoch: what leases, retry
    /// waits and run timestamps are measured by. A file clock keeps the system's, so
    /// leases lapse in real time while a test holds the flow clock still.
    fn wall_millis(&self) -> i64 {
        crate::store::now_millis()
    }
}

/// The system's wall clock.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> i64 {
        chrono::Utc::now().timestamp()
    }
}

/// A test facility: the time is whatever whole number of epoch seconds the file holds,
/// read afresh on every call.
#[derive(Clone, Debug)]
pub struct FileClock {
    path: PathBuf,
}

impl FileClock {
    /// A clock reading `path`.
    pub fn new(path: impl Into<PathBuf>) -> FileClock {
        FileClock { path: path.into() }
    }
}

impl Clock for FileClock {
    fn now(&self) -> i64 {
        let text = std::fs::read_to_string(&self.path).unwrap_or_default();
        match text.trim().parse::<i64>() {
            Ok(seconds) => seconds,
            Err(_) => {
                // A test that writes the file non-atomically may be caught mid-write;
                // the system clock is the least surprising answer for that instant.
                tracing::warn!(path = %self.path.display(), "clock file holds no epoch seconds; using the system clock");
                SystemClock.now()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_file_clock_reads_the_file_each_time() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("clock");
        std::fs::write(&path, "1800000000\n").unwrap();
        let clock = FileClock::new(&path);
        assert_eq!(clock.now(), 1_800_000_000);
        std::fs::write(&path, "1800000060").unwrap();
        assert_eq!(clock.now(), 1_800_000_060);
        std::fs::write(&path, "soon").unwrap();
        assert!((clock.now() - SystemClock.now()).abs() < 5);
    }
}
