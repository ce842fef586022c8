//! How a server is set up: where its collections are, who may read and write (and from which
//! other sites' pages), and its limits.

use std::path::PathBuf;
use std::time::Duration;

use lookalike_core::DecodeLimits;

/// Everything `lookalike serve` is told.
#[derive(Debug, Clone)]
pub struct ServeConfig {
    /// The folder whose collections are served (each `NAME/collection.json`).
    pub data_dir: PathBuf,
    /// Keys that may add, change and delete images.
    pub api_keys: Vec<String>,
    /// Keys that may also add images from paths on the server (batch jobs).
    pub admin_keys: Vec<String>,
    /// Keys that may only read (search, explain, images): the widget's, public on a shop's
    /// pages. When there are any, reads need a key.
    pub read_keys: Vec<String>,
    /// Reads need a key too.
    pub lock_reads: bool,
    /// Which other sites' pages may call the API from a browser.
    pub cors: crate::cors::CorsPolicy,
    /// The largest request body: an upload, or JSON with base64 images.
    pub max_upload_bytes: usize,
    /// Decoding limits for uploads (pixel count against decompression bombs).
    pub limits: DecodeLimits,
    /// How long one request may take before it is answered 503.
    pub timeout: Duration,
    /// HTTP worker threads.
    pub workers: usize,
    /// Searches that may embed a query at once (each holds a model replica).
    pub search_slots: usize,
    /// Explanations and adds that may run at once (each holds its own replica, so they never
    /// take the searches' ones).
    pub heavy_slots: usize,
    /// Where the models run.
    pub device: tch::Device,
    /// The most RISE masks one explanation may ask for (each is a backbone forward).
    pub max_masks: usize,
    /// Where image paths of imported feeds are looked for (`None`: URLs only).
    pub images_root: Option<PathBuf>,
    /// Whether imported feeds may point at private and loopback addresses.
    pub allow_private_urls: bool,
    /// This process's name, on every metric (`instance`) and every response
    /// (`X-Lookalike-Instance`), so that behind a load balancer one can tell who answered.
    pub instance: String,
    /// HTTPS with this certificate and key; `None`: plain HTTP (TLS ended before, at a load
    /// balancer).
    pub tls: Option<crate::tls::TlsFiles>,
    /// A streaming standby of the pgvector collections' database: their searches read there,
    /// and report its lag; writes stay on the primary.
    pub read_url: Option<String>,
}

impl Default for ServeConfig {
    fn default() -> Self {
        ServeConfig {
            data_dir: PathBuf::from("index"),
            api_keys: Vec::new(),
            admin_keys: Vec::new(),
            read_keys: Vec::new(),
            lock_reads: false,
            cors: crate::cors::CorsPolicy::default(),
            max_upload_bytes: 20 << 20,
            limits: DecodeLimits {
                max_pixels: 40_000_000,
                max_alloc: 512 << 20,
            },
            timeout: Duration::from_secs(60),
            workers: 2,
            search_slots: 2,
            heavy_slots: 1,
            device: tch::Device::Cpu,
            max_masks: 1000,
            images_root: None,
            allow_private_urls: false,
            instance: default_instance(),
            tls: None,
            read_url: None,
        }
    }
}

/// `HOSTNAME:PID`: unique among the processes of a deployment without configuration.
pub fn default_instance() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".into());
    format!("{host}:{}", std::process::id())
}

impl ServeConfig {
    /// Model replicas each collection may load: one per search slot and per heavy slot.
    pub fn replicas(&self) -> usize {
        self.search_slots.max(1) + self.heavy_slots.max(1)
    }

    /// Whether reads need a key: `lock_reads`, or read-only keys given (a read key that anyone
    /// could do without would mean nothing).
    pub fn reads_locked(&self) -> bool {
        self.lock_reads || !self.read_keys.is_empty()
    }
}
