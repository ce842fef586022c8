//! One module per subcommand, plus the options and the progress bar they share.

pub mod bench;
pub mod compare;
pub mod crop;
pub mod embed;
pub mod eval;
pub mod eval_explanations;
pub mod eval_oneshot;
pub mod explain;
pub mod explainers;
pub mod import;
pub mod index;
mod model;
mod progress;
pub mod report;
pub mod search;
pub mod serve;
mod serve_access;
pub mod train;

/// The async runtime for the commands that talk to a vector store (one thread: the CLI does one
/// thing at a time, and libtorch and rayon have their own pools).
pub fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?)
}

/// Writes `text` and a newline to stdout. A closed pipe (`lookalike search ... | head`) ends the
/// output quietly instead of panicking as `println!` would.
pub fn emit(text: &str) -> anyhow::Result<()> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    match writeln!(out, "{text}").and_then(|_| out.flush()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => Ok(other?),
    }
}
