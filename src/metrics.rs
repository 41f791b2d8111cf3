//! Prometheus metrics: what the service does, for operators.

use diesel::connection::{Instrumentation, InstrumentationEvent};
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::registry::Registry;

pub struct Metrics {
    registry: Registry,
    /// SQL statements sent to PostgreSQL.
    pub db_queries: Counter,
    /// SQL statements that failed.
    pub db_errors: Counter,
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
        registry.register(
            "db_queries",
            "SQL statements sent to the database",
            db_queries.clone(),
        );
        registry.register("db_errors", "SQL statements that failed", db_errors.clone());
        Metrics {
            registry,
            db_queries,
            db_errors,
        }
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
