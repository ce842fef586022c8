//! Product feeds: what a shop exports (Google Merchant Center's columns, as CSV, TSV or JSON
//! Lines), read into rows (`read.rs`), and their images fetched from paths or URLs with the
//! guards a server needs (`fetch.rs`). `Collection::import_feed` (`collection/import.rs`)
//! turns the rows into products, idempotently.

mod fetch;
mod read;

pub use fetch::{is_private, FetchOptions, Fetcher, Origin};
pub use read::{read_feed, FeedFormat, FeedRow, RowError, FEED_HASH};
