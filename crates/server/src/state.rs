//! What every request shares: the open collections, the explainers, the limits, and the gates
//! that keep model work off the async workers and apart by kind.

use std::collections::BTreeMap;
use std::sync::Arc;

use actix_web::http::StatusCode;
use lookalike_engine::collection::Collection;
use lookalike_explain::Registry;
use tokio::sync::Semaphore;

use crate::config::ServeConfig;
use crate::error::ApiError;
use crate::metrics::Metrics;

/// Which kind of model job: each kind has its own slots (and model replicas), so a slow
/// explanation never holds up a search.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Job {
    /// Embedding a query.
    Search,
    /// Explaining, or adding images.
    Heavy,
    /// Store writes without model work (metadata, deletes): many at once, but off the async
    /// workers, since they wait for fsync.
    Store,
}

impl Job {
    /// Its name in metrics.
    pub fn name(self) -> &'static str {
        match self {
            Job::Search => "search",
            Job::Heavy => "heavy",
            Job::Store => "store",
        }
    }
}

/// The server's shared state.
pub struct AppState {
    /// Open collections by name.
    pub collections: BTreeMap<String, Arc<Collection>>,
    /// Explainers by name.
    pub registry: Registry,
    /// The server's settings.
    pub config: ServeConfig,
    /// Prometheus metrics.
    pub metrics: Metrics,
    search_slots: Arc<Semaphore>,
    heavy_slots: Arc<Semaphore>,
    store_slots: Arc<Semaphore>,
}

impl AppState {
    /// State over opened collections.
    pub fn new(
        collections: BTreeMap<String, Arc<Collection>>,
        registry: Registry,
        config: ServeConfig,
    ) -> Self {
        AppState {
            search_slots: Arc::new(Semaphore::new(config.search_slots.max(1))),
            heavy_slots: Arc::new(Semaphore::new(config.heavy_slots.max(1))),
            store_slots: Arc::new(Semaphore::new(16)),
            metrics: Metrics::new(&config.instance),
            collections,
            registry,
            config,
        }
    }

    /// The collection called `name`, or 404.
    pub fn collection(&self, name: &str) -> Result<Arc<Collection>, ApiError> {
        self.collections
            .get(name)
            .cloned()
            .ok_or_else(|| ApiError::unknown_collection(name))
    }

    /// Runs blocking model work on the blocking thread pool, once a slot of its kind is free.
    /// The async workers stay free to answer other requests meanwhile. The slot is held until
    /// the work ends, even if the request gives up first (a timeout), so slots always bound the
    /// work in flight.
    pub async fn run<R: Send + 'static>(
        &self,
        job: Job,
        work: impl FnOnce() -> Result<R, ApiError> + Send + 'static,
    ) -> Result<R, ApiError> {
        let slots = match job {
            Job::Search => &self.search_slots,
            Job::Heavy => &self.heavy_slots,
            Job::Store => &self.store_slots,
        };
        let waiting = Counted::new(self.metrics.jobs_waiting.with_label_values(&[job.name()]));
        let permit = slots.clone().acquire_owned().await;
        drop(waiting);
        let permit = permit.map_err(|_| {
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "shutting_down",
                "the server is stopping",
            )
        })?;
        let running = self.metrics.jobs_running.with_label_values(&[job.name()]);
        actix_web::web::block(move || {
            let _permit = permit;
            let _running = Counted::new(running);
            work()
        })
        .await
        .map_err(ApiError::internal)?
    }

    /// Runs an async engine call that does blocking work (model, fsync) inside, on the blocking
    /// pool, like [`AppState::run`].
    pub async fn run_async<R, F>(
        &self,
        job: Job,
        work: impl FnOnce() -> F + Send + 'static,
    ) -> Result<R, ApiError>
    where
        R: Send + 'static,
        F: std::future::Future<Output = Result<R, ApiError>>,
    {
        let handle = tokio::runtime::Handle::current();
        self.run(job, move || handle.block_on(work())).await
    }
}

/// One more on a gauge while it lives (also when a request is dropped mid-wait, or a job panics).
struct Counted(prometheus::IntGauge);

impl Counted {
    fn new(gauge: prometheus::IntGauge) -> Self {
        gauge.inc();
        Counted(gauge)
    }
}

impl Drop for Counted {
    fn drop(&mut self) {
        self.0.dec();
    }
}
