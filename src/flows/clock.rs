//! The flow clock: the time schedules and runs are judged by. Production reads the system
//! clock; tests point `clock_file` (`INLET_CLOCK_FILE`) at a file holding epoch seconds,
//! so they move time by writing the file instead of waiting.

use std::path::PathBuf;
use std::sync::atomic::{AtomicI64, Ordering};

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
#[derive(Debug)]
pub struct FileClock {
    path: PathBuf,
    /// The last time read; `i64::MIN` before the first.
    last: AtomicI64,
}

impl FileClock {
    /// A clock reading `path`.
    pub fn new(path: impl Into<PathBuf>) -> FileClock {
        FileClock {
            path: path.into(),
            last: AtomicI64::new(i64::MIN),
        }
    }
}

impl Clock for FileClock {
    fn now(&self) -> i64 {
        let text = std::fs::read_to_string(&self.path).unwrap_or_default();
        if let Ok(seconds) = text.trim().parse::<i64>() {
            self.last.store(seconds, Ordering::Relaxed);
            return seconds;
        }
        // A test that writes the file in place may be caught mid-write: the time stays
        // what it was (the system's would schedule every window up to today at once).
        tracing::warn!(path = %self.path.display(), "clock file holds no epoch seconds; the time stays as last read");
        match self.last.load(Ordering::Relaxed) {
            i64::MIN => SystemClock.now(),
            last => last,
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
        std::fs::write(&path, "").unwrap();
        assert_eq!(clock.now(), 1_800_000_060, "caught mid-write: the time stays");
        let fresh = FileClock::new(&path);
        assert!((fresh.now() - SystemClock.now()).abs() < 5, "never read: the system's");
    }
}
