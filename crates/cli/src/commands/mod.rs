//! One module per subcommand, plus the options and the progress bar they share.

pub mod compare;
pub mod embed;
pub mod eval;
mod model;
mod progress;
pub mod train;
