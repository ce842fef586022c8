//! End-to-end tests, one binary: the `lookalike` command run as a user runs it, and numerical
//! parity with the PyTorch peer (`scripts/reference.py`).

mod bad_input;
mod bench_cli;
mod calibration_cli;
mod conformance;
mod conformance_sealed;
mod crash;
mod embed_cli;
mod explain_cli;
mod explain_parity;
mod filter_conformance;
mod https_serve;
mod import_cli;
mod index_cli;
mod lake_runs;
mod oneshot_cli;
mod oneshot_training;
mod parity;
mod perturbation;
mod pg_backup;
mod pg_cli;
mod pg_replica;
mod pg_serve_many;
mod pg_shards;
mod pg_tls;
mod pg_unique;
mod products;
mod region;
mod report_cli;
mod server_api;
mod server_guards;
mod train_cli;
mod transfer_gate;
mod tta_cli;
mod widget_cors;
