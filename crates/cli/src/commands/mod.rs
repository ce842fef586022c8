//! One module per subcommand, plus the options they share.

pub mod embed;
mod model;
