//! `lookalike serve`'s options for pages on other sites (the widget): read-only keys and the
//! origins allowed to call the API from a browser (CORS). Checked before the server starts.

use anyhow::Context;
use clap::Args;
use lookalike_server::cors::CorsPolicy;

/// Read-only keys and CORS.
#[derive(Debug, Args)]
pub struct AccessArgs {
    /// Keys that may only read (search, explain, images, thumbnails): the key of the widget,
    /// public on a shop's pages. With any, every read needs a key (read, API or admin).
    #[arg(
        long = "read-key",
        value_name = "KEY",
        env = "LOOKALIKE_READ_KEYS",
        value_delimiter = ','
    )]
    read_keys: Vec<String>,
    /// An origin whose pages may call the API from a browser (CORS), as
    /// `https://shop.example[:port]`; repeatable; `*` for any page (never with credentials).
    #[arg(
        long = "cors-origin",
        value_name = "ORIGIN",
        env = "LOOKALIKE_CORS_ORIGINS",
        value_delimiter = ','
    )]
    cors_origins: Vec<String>,
    /// Let those pages send credentials (cookies, HTTP authentication). The API's keys are
    /// headers and need none of it.
    #[arg(long, env = "LOOKALIKE_CORS_CREDENTIALS")]
    cors_credentials: bool,
}

impl AccessArgs {
    /// The read keys (trimmed, empty ones dropped) and the checked CORS policy.
    pub fn resolve(self) -> anyhow::Result<(Vec<String>, CorsPolicy)> {
        let trimmed = |values: Vec<String>| -> Vec<String> {
            values
                .into_iter()
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
                .collect()
        };
        let cors = CorsPolicy::new(&trimmed(self.cors_origins), self.cors_credentials)
            .context("bad CORS settings")?;
        Ok((trimmed(self.read_keys), cors))
    }
}
