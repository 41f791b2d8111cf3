//! Prometheus metrics: what the service does, for operators.

use diesel::connection::{Instrumentation, InstrumentationEvent};
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    pub method: String,
    /// The route template (`/api/v1/activities/{id}`), never the raw path: bounded cardinality.
    pub route: String,
    pub status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RouteLabels {
    pub method: String,
    pub route: String,
}

fn latency_histogram() -> Histogram {
    // 0.5 ms … ~4 s.
    Histogram::new(exponential_buckets(0.0005, 2.0, 14))
}

pub struct Metrics {
    registry: Registry,
    /// Requests answered, per method, route template and status.
    pub requests: Family<RequestLabels, Counter>,
    /// Request latency in seconds, per method and route template.
    pub latency: Family<RouteLabels, Histogram, fn() -> Histogram>,
    /// Connections the pool holds, and how many of them are idle.
    pub pool_size: Gauge,
    pub pool_idle: Gauge,
    /// Requests waiting for a connection.
    pub pool_waiting: Gauge,
    /// SQL statements sent to PostgreSQL.
    pub db_queries: Counter,
    /// SQL statements that failed.
    pub db_errors: Counter,
    pub version_reads: Counter,
    pub cache_bytes: Gauge,
    pub cache_entries: Gauge,
    pub cache_capacity: Gauge,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("kulturplan");
        let db_queries = Counter::default();
        let db_errors = Counter::default();
        let requests = Family::<RequestLabels, Counter>::default();
        let latency = Family::<RouteLabels, Histogram, fn() -> Histogram>::new_with_constructor(
            latency_histogram,
        );
        let (pool_size, pool_idle, pool_waiting) =
            (Gauge::default(), Gauge::default(), Gauge::default());
        registry.register(
            "db_queries",
            "SQL statements sent to the database",
            db_queries.clone(),
        );
        registry.register("db_errors", "SQL statements that failed", db_errors.clone());
        registry.register("http_requests", "HTTP requests answered", requests.clone());
        registry.register(
            "http_request_duration_seconds",
            "HTTP request latency",
            latency.clone(),
        );
        registry.register(
            "db_pool_connections",
            "Connections held by the pool",
            pool_size.clone(),
        );
        registry.register(
            "db_pool_idle_connections",
            "Idle connections in the pool",
            pool_idle.clone(),
        );
        registry.register(
            "db_pool_waiting_requests",
            "Requests waiting for a connection",
            pool_waiting.clone(),
        );
        let version_reads = Counter::default();
        registry.register(
            "data_version_reads",
            "Reads of the data version, each shared by the requests waiting for it",
            version_reads.clone(),
        );
        let (cache_bytes, cache_entries, cache_capacity) =
            (Gauge::default(), Gauge::default(), Gauge::default());
        registry.register(
            "response_cache_bytes",
            "Bytes of rendered answers kept (as weighed)",
            cache_bytes.clone(),
        );
        registry.register(
            "response_cache_entries",
            "Rendered answers kept",
            cache_entries.clone(),
        );
        registry.register(
            "response_cache_capacity_bytes",
            "Most bytes of rendered answers kept",
            cache_capacity.clone(),
        );
        Metrics {
            registry,
            version_reads,
            cache_bytes,
            cache_entries,
            cache_capacity,
            requests,
            latency,
            pool_size,
            pool_idle,
            pool_waiting,
            db_queries,
            db_errors,
        }
    }

    pub fn observe_request(&self, method: &str, route: &str, status: u16, elapsed: Duration) {
        self.requests
            .get_or_create(&RequestLabels {
                method: method.to_owned(),
                route: route.to_owned(),
                status,
            })
            .inc();
        self.latency
            .get_or_create(&RouteLabels {
                method: method.to_owned(),
                route: route.to_owned(),
            })
            .observe(elapsed.as_secs_f64());
    }

    /// Records the pool's state (at scrape time).
    pub fn observe_cache(&self, bytes: u64, entries: usize, capacity: u64) {
        self.cache_bytes
            .set(i64::try_from(bytes).unwrap_or(i64::MAX));
        self.cache_entries
            .set(i64::try_from(entries).unwrap_or(i64::MAX));
        self.cache_capacity
            .set(i64::try_from(capacity).unwrap_or(i64::MAX));
    }

    pub fn observe_pool(&self, size: usize, idle: usize, waiting: usize) {
        let as_gauge = |n: usize| i64::try_from(n).unwrap_or(i64::MAX);
        self.pool_size.set(as_gauge(size));
        self.pool_idle.set(as_gauge(idle));
        self.pool_waiting.set(as_gauge(waiting));
    }

    /// The text exposition format.
    pub fn render(&self) -> String {
        let mut out = String::new();
        if encode(&mut out, &self.registry).is_err() {
            out.clear();
        }
        out
    }

    /// An instrumentation for one pooled connection that counts its statements.
    pub fn instrumentation(&self) -> QueryCounter {
        QueryCounter {
            queries: self.db_queries.clone(),
            errors: self.db_errors.clone(),
        }
    }
}

pub struct QueryCounter {
    queries: Counter,
    errors: Counter,
}

impl Instrumentation for QueryCounter {
    fn on_connection_event(&mut self, event: InstrumentationEvent<'_>) {
        match event {
            InstrumentationEvent::StartQuery { .. } => {
                self.queries.inc();
            }
            InstrumentationEvent::FinishQuery { error: Some(_), .. } => {
                self.errors.inc();
            }
            _ => {}
        }
    }
}
