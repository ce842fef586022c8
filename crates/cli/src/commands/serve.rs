//! `lookalike serve`: the HTTP API and the web UI over every collection in a data folder.

use std::path::Path;
use std::time::Duration;

use anyhow::Context;
use clap::Args;
use lookalike_core::parse_device;
use lookalike_engine::collection::{check_name, CollectionConfig, StoreRef};
use lookalike_server::ServeConfig;

use super::index::DataDirArgs;

/// Serve the collections of a data folder over HTTP, with the web UI at `/`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    #[command(flatten)]
    data: DataDirArgs,
    /// Serve every collection recorded in this PostgreSQL database (its `lookalike_collections`
    /// table) as well: their configs are copied into --data-dir, which then needs nothing else.
    /// The models must be at the same paths on this machine; passwords come from PGPASSWORD or
    /// a passfile.
    #[arg(
        long,
        value_name = "URL",
        env = "LOOKALIKE_PG_URL",
        hide_env_values = true
    )]
    pg: Option<String>,
    /// Address to listen on (port 0: any free port; the address is printed).
    #[arg(long, default_value = "127.0.0.1:8080", env = "LOOKALIKE_BIND")]
    bind: String,
    /// API keys that may add, change and delete images (comma separated in the environment).
    #[arg(
        long = "api-key",
        value_name = "KEY",
        env = "LOOKALIKE_API_KEYS",
        value_delimiter = ','
    )]
    api_keys: Vec<String>,
    /// Keys that may also add images from paths on the server.
    #[arg(
        long = "admin-key",
        value_name = "KEY",
        env = "LOOKALIKE_ADMIN_KEYS",
        value_delimiter = ','
    )]
    admin_keys: Vec<String>,
    /// Reads (search, images, explanations, metrics) need a key too.
    #[arg(long, env = "LOOKALIKE_LOCK_READS")]
    lock_reads: bool,
    #[command(flatten)]
    access: super::serve_access::AccessArgs,
    /// The largest upload, in bytes (JSON with base64 may be a third larger).
    #[arg(long, default_value_t = 20 << 20)]
    max_upload_bytes: usize,
    /// The most pixels an uploaded image may have (decompression bombs are refused).
    #[arg(long, default_value_t = 40_000_000)]
    max_pixels: u64,
    /// Seconds a request may take before it is answered 503.
    #[arg(long, default_value_t = 60)]
    timeout_secs: u64,
    /// HTTP worker threads.
    #[arg(long, default_value_t = 2)]
    workers: usize,
    /// The most RISE masks one explanation may ask for (each costs a backbone forward).
    #[arg(long, default_value_t = 1000)]
    max_masks: usize,
    /// Query embeddings that may run at once.
    #[arg(long, default_value_t = 2)]
    search_slots: usize,
    /// Explanations and adds that may run at once (apart from searches).
    #[arg(long, default_value_t = 1)]
    heavy_slots: usize,
    /// Where image paths of feeds imported through the API are looked for.
    #[arg(long, value_name = "DIR")]
    images_root: Option<std::path::PathBuf>,
    /// Let imported feeds fetch from private and loopback addresses (a local test server).
    #[arg(long)]
    allow_private_urls: bool,
    /// This process's name, on every metric (label `instance`) and every response (header
    /// `X-Lookalike-Instance`). Default: HOSTNAME:PID.
    #[arg(long, value_name = "NAME", env = "LOOKALIKE_INSTANCE")]
    instance: Option<String>,
    /// Serve HTTPS with this PEM certificate chain (the server's certificate first); needs
    /// --tls-key.
    #[arg(
        long,
        value_name = "FILE",
        env = "LOOKALIKE_TLS_CERT",
        requires = "tls_key"
    )]
    tls_cert: Option<std::path::PathBuf>,
    /// The PEM private key of --tls-cert.
    #[arg(
        long,
        value_name = "FILE",
        env = "LOOKALIKE_TLS_KEY",
        requires = "tls_cert"
    )]
    tls_key: Option<std::path::PathBuf>,
    /// A streaming standby (PostgreSQL replication) of the pgvector collections' database:
    /// searches read there and report its lag (in each search answer and /metrics); adds,
    /// changes and deletes stay on the primary. Its password comes as --pg's does.
    #[arg(
        long,
        value_name = "URL",
        env = "LOOKALIKE_READ_URL",
        hide_env_values = true
    )]
    read_url: Option<String>,
}

/// Runs `lookalike serve`.
pub fn run(a: ServeArgs) -> anyhow::Result<()> {
    anyhow::ensure!(a.timeout_secs > 0, "--timeout-secs must be at least 1");
    anyhow::ensure!(
        a.max_upload_bytes > 0,
        "--max-upload-bytes must be at least 1"
    );
    let keys = |keys: Vec<String>| -> Vec<String> {
        keys.into_iter()
            .map(|k| k.trim().to_string())
            .filter(|k| !k.is_empty())
            .collect()
    };
    let defaults = ServeConfig::default();
    let (read_keys, cors) = a.access.resolve()?;
    let config = ServeConfig {
        data_dir: a.data.data_dir.clone(),
        api_keys: keys(a.api_keys),
        admin_keys: keys(a.admin_keys),
        read_keys,
        lock_reads: a.lock_reads,
        cors,
        max_upload_bytes: a.max_upload_bytes,
        limits: lookalike_core::DecodeLimits {
            max_pixels: a.max_pixels,
            ..defaults.limits
        },
        timeout: Duration::from_secs(a.timeout_secs),
        workers: a.workers.max(1),
        search_slots: a.search_slots.max(1),
        heavy_slots: a.heavy_slots.max(1),
        max_masks: a.max_masks,
        device: parse_device(&a.data.device)?,
        images_root: a.images_root.clone(),
        allow_private_urls: a.allow_private_urls,
        instance: match a.instance.as_deref().map(str::trim) {
            Some(name) => {
                anyhow::ensure!(
                    !name.is_empty()
                        && name.len() <= 200
                        && name.chars().all(|c| c.is_ascii_graphic()),
                    "--instance must be 1 to 200 printable ASCII characters without spaces"
                );
                name.to_string()
            }
            None => lookalike_server::config::default_instance(),
        },
        read_url: a.read_url.clone(),
        tls: match (a.tls_cert.clone(), a.tls_key.clone()) {
            (Some(cert), Some(key)) => Some(lookalike_server::tls::TlsFiles { cert, key }),
            _ => None,
        },
    };
    let data_dir = config.data_dir.clone();
    actix_web::rt::System::new().block_on(async move {
        if let Some(url) = &a.pg {
            for warning in copy_collections(url, &data_dir).await? {
                eprintln!("warning: {warning}");
            }
        }
        let running = lookalike_server::start(config, &a.bind)
            .await
            .with_context(|| format!("starting the server on {}", a.bind))?;
        for s in &running.skipped {
            eprintln!("warning: not serving {s}");
        }
        if running.collections.is_empty() {
            eprintln!(
                "warning: no collections in {}: create one with `lookalike index create`",
                data_dir.display()
            );
        }
        let n = running.collections.len();
        let names = if n == 0 {
            String::new()
        } else {
            format!(" ({})", running.collections.join(", "))
        };
        super::emit(&format!(
            "serving {n} collection{}{names} at {}://{}/",
            if n == 1 { "" } else { "s" },
            running.scheme,
            running.addr
        ))?;
        running.server.await.context("serving")
    })
}

/// Writes the config of every collection recorded at `url` into `data_dir/NAME/`, unless a
/// different collection of that name is there already (a warning, then). A collection's table
/// is in the database it was found in, so its store URL becomes `url` (without a password),
/// whatever URL it was made with: a database restored elsewhere (`pg_restore`), or reached by
/// another host name, is served where it is now.
async fn copy_collections(url: &str, data_dir: &Path) -> anyhow::Result<Vec<String>> {
    let timeout = lookalike_index::PgOptions::default().connect_timeout;
    let found = lookalike_index::list_collections(url, timeout)
        .await
        .context("listing the collections in PostgreSQL (--pg)")?;
    let mut warnings = Vec::new();
    for (name, json) in found {
        let mut config: CollectionConfig = match serde_json::from_value(json) {
            Ok(c) => c,
            Err(e) => {
                warnings.push(format!(
                    "collection {name:?} in PostgreSQL is unreadable: {e}"
                ));
                continue;
            }
        };
        if check_name(&name).is_err() || config.name != name {
            warnings.push(format!("collection {name:?} in PostgreSQL has a bad name"));
            continue;
        }
        if let StoreRef::Pgvector { url: recorded, .. } = &mut config.store {
            *recorded = lookalike_index::strip_password(url).unwrap_or_else(|| url.to_string());
        }
        let dir = data_dir.join(&name);
        match CollectionConfig::read(&dir, &name) {
            Ok(local) if local == config => continue,
            Ok(_) => {
                warnings.push(format!(
                    "{} is another collection {name:?} than the one in PostgreSQL: serving the local one",
                    dir.display()
                ));
                continue;
            }
            Err(_) => {}
        }
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        config
            .write(&dir)
            .with_context(|| format!("writing {}", dir.display()))?;
    }
    Ok(warnings)
}
