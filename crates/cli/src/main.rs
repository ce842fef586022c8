//! `lookalike`: the command line of the Lookalike explainable visual search engine.
//!
//! One subcommand per job; each lives in `commands/` and stays thin over `lookalike-engine`.
//! Errors carry context with anyhow and end the process with a non-zero exit code.

mod commands;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Explainable visual search: embed, index, search and explain images.
#[derive(Debug, Parser)]
#[command(
    name = "lookalike",
    version,
    about = "Explainable visual search: embed, train, evaluate, compare, index, search, explain images and report on models",
    long_about = None
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Embed every image under a folder (recursively) into a vector file.
    Embed(commands::embed::EmbedArgs),
    /// Train a Siamese head on a labelled folder (one subfolder per class).
    Train(commands::train::TrainArgs),
    /// Measure a model on a labelled folder: pair accuracy, ROC AUC, F1, precision@10, mAP.
    Eval(commands::eval::EvalArgs),
    /// Compare two images: similarity, distance and the decision.
    Compare(commands::compare::CompareArgs),
    /// Manage collections: create, add, rm, info, rebuild.
    Index(commands::index::IndexArgs),
    /// Find the images of a collection most like a query image.
    Search(commands::search::SearchArgs),
    /// Serve the collections over HTTP: the JSON API and the web UI.
    Serve(commands::serve::ServeArgs),
    /// Benchmarks: `bench ann` measures the vector index against exact search.
    Bench(commands::bench::BenchArgs),
    /// Explain why two images were called the same or different: four saliency overlays.
    Explain(commands::explain::ExplainArgs),
    /// List the explanation methods, what each one does and what it costs.
    Explainers(commands::explainers::ListArgs),
    /// Measure how faithful explanations are: deletion and insertion AUC against random maps.
    EvalExplanations(commands::eval_explanations::EvalExplanationsArgs),
    /// N-way one-shot classification on classes the model never saw (Koch et al.'s Omniglot
    /// benchmark): each query against one example per class.
    #[command(name = "eval-oneshot")]
    EvalOneShot(commands::eval_oneshot::EvalOneShotArgs),
    /// Write an HTML report of a model on a labelled folder: metrics, ROC curve, similarity
    /// histogram, explained example pairs and the faithfulness of every explainer.
    Report(commands::report::ReportArgs),
    /// Crop every image of a labelled folder to its Grad-CAM box against a similar same-class
    /// image (the paper's "cropped" dataset).
    Crop(commands::crop::CropArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Embed(args) => commands::embed::run(args),
        Command::Train(args) => commands::train::run(args),
        Command::Eval(args) => commands::eval::run(args),
        Command::Compare(args) => commands::compare::run(args),
        Command::Index(args) => commands::index::run(args),
        Command::Search(args) => commands::search::run(args),
        Command::Serve(args) => commands::serve::run(args),
        Command::Bench(args) => commands::bench::run(args),
        Command::Explain(args) => commands::explain::run(args),
        Command::Explainers(args) => commands::explainers::list(args),
        Command::EvalExplanations(args) => commands::eval_explanations::run(args),
        Command::EvalOneShot(args) => commands::eval_oneshot::run(args),
        Command::Crop(args) => commands::crop::run(args),
        Command::Report(args) => commands::report::run(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
