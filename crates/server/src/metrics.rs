//! Prometheus metrics (the `prometheus` crate: its registry, counters, histograms and text
//! encoder are the reference implementation of the exposition format).
//!
//! - `lookalike_http_requests_total{route, method, status}`
//! - `lookalike_http_request_duration_seconds{route, method}` (histogram)
//! - `lookalike_model_jobs_running{kind}`, `lookalike_model_jobs_waiting{kind}`
//! - `lookalike_explanations_total{method}`, `lookalike_images_added_total{collection}`
//! - `lookalike_collection_images{collection}`, set at each scrape
//! - `lookalike_replica_lag_seconds{collection}`, `lookalike_replica_lag_bytes{collection}`: the
//!   standby that answers searches (`--read-url`), measured at each search and scrape
//!
//! Every series carries `instance`, the process's name ([`crate::ServeConfig::instance`]), so
//! that the metrics of several servers behind one address can be told apart, and
//! `lookalike_instance_info{instance, version}` is 1.
//!
//! Routes are labelled by their pattern (`/api/collections/{name}/search`), never by the raw
//! path, so that the number of series stays bounded.

use prometheus::{
    Encoder, GaugeVec, HistogramOpts, HistogramVec, IntCounterVec, IntGaugeVec, Opts, Registry,
    TextEncoder,
};

/// The server's metrics.
pub struct Metrics {
    registry: Registry,
    /// Requests answered.
    pub requests: IntCounterVec,
    /// Time to answer.
    pub duration: HistogramVec,
    /// Model jobs running, by kind.
    pub jobs_running: IntGaugeVec,
    /// Model jobs waiting for a slot, by kind.
    pub jobs_waiting: IntGaugeVec,
    /// Explanations made, by method.
    pub explanations: IntCounterVec,
    /// Images added, by collection.
    pub images_added: IntCounterVec,
    /// Images per collection.
    pub collection_images: IntGaugeVec,
    /// Seconds the standby that answers a collection's searches may be behind.
    pub replica_lag_seconds: GaugeVec,
    /// WAL bytes it has yet to replay.
    pub replica_lag_bytes: IntGaugeVec,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new(&crate::config::default_instance())
    }
}

impl Metrics {
    /// Fresh metrics in their own registry, every series labelled `instance`.
    pub fn new(instance: &str) -> Self {
        let labels = std::collections::HashMap::from([("instance".to_string(), instance.into())]);
        let registry = Registry::new_custom(None, Some(labels)).unwrap_or_default();
        let counter = |name: &str, help: &str, labels: &[&str]| {
            let c = IntCounterVec::new(Opts::new(name, help), labels).expect("valid metric");
            registry
                .register(Box::new(c.clone()))
                .expect("unique metric");
            c
        };
        let gauge = |name: &str, help: &str, labels: &[&str]| {
            let g = IntGaugeVec::new(Opts::new(name, help), labels).expect("valid metric");
            registry
                .register(Box::new(g.clone()))
                .expect("unique metric");
            g
        };
        let duration = HistogramVec::new(
            HistogramOpts::new(
                "lookalike_http_request_duration_seconds",
                "Time to answer a request",
            )
            .buckets(vec![
                0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
            ]),
            &["route", "method"],
        )
        .expect("valid metric");
        registry
            .register(Box::new(duration.clone()))
            .expect("unique metric");
        let info = gauge(
            "lookalike_instance_info",
            "This process (its name is the instance label) and its version",
            &["version"],
        );
        info.with_label_values(&[env!("CARGO_PKG_VERSION")]).set(1);
        Metrics {
            requests: counter(
                "lookalike_http_requests_total",
                "Requests answered",
                &["route", "method", "status"],
            ),
            jobs_running: gauge(
                "lookalike_model_jobs_running",
                "Model jobs running",
                &["kind"],
            ),
            jobs_waiting: gauge(
                "lookalike_model_jobs_waiting",
                "Model jobs waiting for a slot",
                &["kind"],
            ),
            explanations: counter(
                "lookalike_explanations_total",
                "Pair explanations made",
                &["method"],
            ),
            images_added: counter(
                "lookalike_images_added_total",
                "Images added through the API",
                &["collection"],
            ),
            collection_images: gauge(
                "lookalike_collection_images",
                "Images in each collection",
                &["collection"],
            ),
            replica_lag_seconds: {
                let g = GaugeVec::new(
                    Opts::new(
                        "lookalike_replica_lag_seconds",
                        "How old the view of the standby answering searches may be (--read-url)",
                    ),
                    &["collection"],
                )
                .expect("valid metric");
                registry
                    .register(Box::new(g.clone()))
                    .expect("unique metric");
                g
            },
            replica_lag_bytes: gauge(
                "lookalike_replica_lag_bytes",
                "WAL bytes the standby answering searches has yet to replay (--read-url)",
                &["collection"],
            ),
            duration,
            registry,
        }
    }

    /// Counts one answered request.
    pub fn observe(&self, route: &str, method: &str, status: u16, seconds: f64) {
        self.requests
            .with_label_values(&[route, method, &status.to_string()])
            .inc();
        self.duration
            .with_label_values(&[route, method])
            .observe(seconds);
    }

    /// Records the lag of a collection's standby.
    pub fn observe_lag(&self, collection: &str, lag: lookalike_index::ReplicaLag) {
        self.replica_lag_seconds
            .with_label_values(&[collection])
            .set(lag.seconds);
        self.replica_lag_bytes
            .with_label_values(&[collection])
            .set(lag.bytes.min(i64::MAX as u64) as i64);
    }

    /// The text exposition format.
    pub fn render(&self) -> String {
        let mut out = Vec::new();
        let encoder = TextEncoder::new();
        if let Err(e) = encoder.encode(&self.registry.gather(), &mut out) {
            eprintln!("error: encoding metrics: {e}");
        }
        String::from_utf8(out).unwrap_or_default()
    }
}
