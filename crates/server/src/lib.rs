//! `lookalike-server`: the HTTP API (actix-web) and the query-by-image web UI in `web/`.
//!
//! Handlers will stay thin: each parses a request, calls one function of `lookalike-engine`, and
//! maps its error to a status code. Nothing is implemented yet: see the HTTP API issue.

pub use lookalike_engine as engine;
