//! One module per subcommand, plus the options and the progress bar they share.

pub mod compare;
pub mod crop;
pub mod embed;
pub mod eval;
pub mod eval_explanations;
pub mod explain;
mod explainers;
mod model;
mod progress;
pub mod train;
