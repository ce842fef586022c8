//! The progress bar every long command shows (on stderr; hidden with --quiet or --json).

use indicatif::{ProgressBar, ProgressStyle};

/// A bar of `len` steps, labelled `what`.
pub fn bar(len: usize, what: &str, hidden: bool) -> ProgressBar {
    let bar = if hidden {
        ProgressBar::hidden()
    } else {
        ProgressBar::new(len as u64)
    };
    let template =
        format!("{{spinner}} {what} [{{bar:40}}] {{pos}}/{{len}} {{per_sec}}, eta {{eta}} {{msg}}");
    bar.set_style(
        ProgressStyle::with_template(&template)
            .expect("a valid template")
            .progress_chars("=> "),
    );
    bar
}
