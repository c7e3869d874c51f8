//! Prometheus metrics, served as text at `/metrics`.

use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::Response;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    method: String,
    route: String,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    method: String,
    route: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RunLabels {
    status: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct SchemaChangeLabels {
    kind: String,
    action: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DatasetLabels {
    dataset: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct FlowLabels {
    flow: String,
}

type LatencyFamily = Family<RouteLabels, Histogram, fn() -> Histogram>;

/// The service's metrics and the registry that encodes them.
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: LatencyFamily,
    runs: Family<RunLabels, Counter>,
    rows_written: Counter,
    bytes_read: Counter,
    retained_wal: Family<FlowLabels, Gauge>,
    schema_changes: Family<SchemaChangeLabels, Counter>,
    /// Per dataset: data files, small files, bytes, log entries since the checkpoint.
    health: [Family<DatasetLabels, Gauge>; 4],
}

fn latency_histogram() -> Histogram {
    // 1 ms to about 33 s.
    Histogram::new(exponential_buckets(0.001, 2.0, 16))
}

impl Metrics {
    /// A fresh set of metrics.
    pub fn new() -> Metrics {
        let mut registry = Registry::with_prefix("inlet");
        let requests = Family::<RequestLabels, Counter>::default();
        let latency = LatencyFamily::new_with_constructor(latency_histogram);
        registry.register("http_requests", "HTTP requests by route and status", requests.clone());
        registry.register(
            "http_request_duration_seconds",
            "HTTP request latency by route",
            latency.clone(),
        );
        let runs = Family::<RunLabels, Counter>::default();
        let rows_written = Counter::default();
        let bytes_read = Counter::default();
        registry.register("runs", "Runs ended, by final status", runs.clone());
        registry.register(
            "rows_written",
            "Rows committed to datasets by runs",
            rows_written.clone(),
        );
        registry.register(
            "source_bytes_read",
            "Bytes received from source databases by runs",
            bytes_read.clone(),
        );
        let retained_wal = Family::<FlowLabels, Gauge>::default();
        registry.register(
            "cdc_slot_retained_wal_bytes",
            "Bytes of WAL the replication slot of a change data capture flow keeps at its source, as its last run saw",
            retained_wal.clone(),
        );
        let schema_changes = Family::<SchemaChangeLabels, Counter>::default();
        registry.register(
            "schema_changes",
            "Source schema changes runs met, by kind and what the run did",
            schema_changes.clone(),
        );
        let health: [Family<DatasetLabels, Gauge>; 4] = Default::default();
        for (family, (name, help)) in health.iter().zip([
            (
                "dataset_files",
                "Data files in a dataset's table, as its last maintenance pass saw",
            ),
            (
                "dataset_small_files",
                "Data files below the small-file size in a dataset's table",
            ),
            ("dataset_bytes", "Bytes of data files in a dataset's table"),
            (
                "dataset_log_entries_since_checkpoint",
                "Commits of a dataset's table a reader replays after its newest checkpoint",
            ),
        ]) {
            registry.register(name, help, family.clone());
        }
        Metrics {
            health,
            retained_wal,
            schema_changes,
            registry,
            requests,
            latency,
            runs,
            rows_written,
            bytes_read,
        }
    }

    /// Counts a run that ended with `status`.
    pub fn run_finished(&self, status: &str) {
        self.runs
            .get_or_create(&RunLabels {
                status: status.to_string(),
            })
            .inc();
    }

    /// Counts rows a run committed.
    pub fn rows_written(&self, rows: u64) {
        self.rows_written.inc_by(rows);
    }

    /// Counts bytes a run read from its source.
    pub fn bytes_read(&self, bytes: u64) {
        self.bytes_read.inc_by(bytes);
    }

    /// Records how much WAL the slot of change data capture flow `flow` retains.
    pub fn retained_wal(&self, flow: &str, bytes: u64) {
        self.retained_wal
            .get_or_create(&FlowLabels { flow: flow.to_string() })
            .set(bytes.min(i64::MAX as u64) as i64);
    }

    /// Counts a source schema change a run met and what it did about it.
    pub fn schema_change(&self, kind: &str, action: &str) {
        self.schema_changes
            .get_or_create(&SchemaChangeLabels {
                kind: kind.to_string(),
                action: action.to_string(),
            })
            .inc();
    }

    /// Records a dataset's table health (set by each maintenance pass).
    pub fn dataset_health(&self, dataset: &str, health: &crate::lake::TableHealth) {
        let labels = DatasetLabels {
            dataset: dataset.to_string(),
        };
        let values = [
            health.files,
            health.small_files,
            health.bytes,
            health.log_entries_since_checkpoint,
        ];
        for (family, value) in self.health.iter().zip(values) {
            family.get_or_create(&labels).set(value.min(i64::MAX as u64) as i64);
        }
    }

    /// Forgets the slot gauge of a deleted flow.
    pub fn forget_flow(&self, flow: &str) {
        self.retained_wal.remove(&FlowLabels { flow: flow.to_string() });
    }

    /// The metrics in Prometheus text format.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry).expect("writing to a String cannot fail");
        out
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

/// The method as a label: the standard methods by name, every other one `OTHER`, so
/// made-up methods cannot add series.
fn method_label(method: &Method) -> &'static str {
    const KNOWN: [Method; 9] = [
        Method::GET,
        Method::POST,
        Method::PUT,
        Method::PATCH,
        Method::DELETE,
        Method::HEAD,
        Method::OPTIONS,
        Method::TRACE,
        Method::CONNECT,
    ];
    KNOWN
        .iter()
        .find(|known| *known == method)
        .map_or("OTHER", Method::as_str)
}

/// Middleware: counts each request by its matched route template (not its raw path, which
/// would make one series per id; every unmatched path is `unmatched`) and its method (see
/// [`method_label`]), and records its latency.
pub async fn track(State(metrics): State<std::sync::Arc<Metrics>>, request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", MatchedPath::as_str)
        .to_string();
    let method = method_label(request.method()).to_string();
    let started = Instant::now();
    let response = next.run(request).await;
    let route_labels = RouteLabels {
        method: method.clone(),
        route: route.clone(),
    };
    metrics
        .latency
        .get_or_create(&route_labels)
        .observe(started.elapsed().as_secs_f64());
    metrics
        .requests
        .get_or_create(&RequestLabels {
            method,
            route,
            status: response.status().as_u16(),
        })
        .inc();
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_standard_methods_are_labels() {
        assert_eq!(method_label(&Method::PATCH), "PATCH");
        for made_up in ["BREW", "get", "X-1"] {
            assert_eq!(method_label(&Method::from_bytes(made_up.as_bytes()).unwrap()), "OTHER");
        }
    }
}
