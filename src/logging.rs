//! The log filter: Inlet's own lines at the level asked for, other crates' (delta-rs's
//! spans and events, the HTTP stack's) at `warn`, unless the filter names them itself.

/// The target (module path) of Inlet's own lines. Other crates' are kept below `warn`
/// by default: delta-rs logs its internal steps (`snap.build` and the like) at `info`,
/// several times per run.
const OWN_TARGET: &str = "inlet";

/// The `tracing` filter for the user's `level`. A bare `info` or `warn` applies to
/// Inlet's own targets, every other crate staying at `warn`; anything else (`error`,
/// `debug` and `trace`, which ask for everything, or a filter with directives such as
/// `inlet=debug,deltalake=info`) is taken as written.
pub fn filter(level: &str) -> String {
    let level = level.trim();
    let bare = ["error", "warn", "info", "debug", "trace", "off"]
        .iter()
        .find(|known| known.eq_ignore_ascii_case(level));
    match bare {
        Some(own @ (&"info" | &"warn")) => format!("warn,{OWN_TARGET}={own}"),
        Some(other) => other.to_string(),
        None => level.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::filter;

    #[test]
    fn bare_info_and_warn_are_inlets_and_other_crates_stay_at_warn() {
        assert_eq!(filter("info"), "warn,inlet=info");
        assert_eq!(filter(" INFO "), "warn,inlet=info");
        assert_eq!(filter("warn"), "warn,inlet=warn");
        // Asking for debug or trace is asking for everything.
        assert_eq!(filter(" DEBUG "), "debug");
        assert_eq!(filter("trace"), "trace");
        assert_eq!(filter("error"), "error");
        assert_eq!(filter("off"), "off");
    }

    #[test]
    fn directives_are_taken_as_written() {
        assert_eq!(filter("inlet=debug,deltalake=info"), "inlet=debug,deltalake=info");
        assert_eq!(filter("debug,hyper=warn"), "debug,hyper=warn");
        assert_eq!(filter("deltalake_core=debug"), "deltalake_core=debug");
    }

    /// Lines written through a subscriber with `level`'s filter.
    fn written(level: &str) -> String {
        use std::sync::{Arc, Mutex};
        let out = Arc::new(Mutex::new(Vec::<u8>::new()));
        let sink = out.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::try_new(filter(level)).unwrap())
            .with_writer(move || Sink(sink.clone()))
            .finish();
        tracing::subscriber::with_default(subscriber, || {
            let span = tracing::info_span!(target: "deltalake_core::kernel::snapshot", "snap.build");
            let _entered = span.enter();
            tracing::info!(target: "delta_kernel::log_segment", "listing the log");
            tracing::warn!(target: "deltalake_core::writer", "a delta-rs warning");
            tracing::info!(target: "inlet::flows::engine", "run succeeded");
            tracing::debug!(target: "inlet::flows::engine", "a debug line");
        });
        let bytes = out.lock().unwrap().clone();
        String::from_utf8(bytes).unwrap()
    }

    struct Sink(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

    impl std::io::Write for Sink {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn at_info_delta_rs_spans_and_events_are_out_and_inlets_lines_in() {
        let text = written("info");
        assert!(text.contains("run succeeded"), "{text}");
        assert!(text.contains("a delta-rs warning"), "{text}");
        assert!(!text.contains("snap.build"), "{text}");
        assert!(!text.contains("listing the log"), "{text}");
        assert!(!text.contains("a debug line"), "{text}");
        let text = written("deltalake_core=info,delta_kernel=info,inlet=info");
        assert!(
            text.contains("snap.build") && text.contains("listing the log"),
            "{text}"
        );
    }
}
