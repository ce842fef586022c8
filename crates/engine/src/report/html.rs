//! The report's page: plain HTML with inline CSS, no script, and relative links to its SVG and
//! PNG files, so the folder opens anywhere (a file browser, a repository, an offline machine).

use std::fmt::Write;
use std::path::Path;

use super::data::ExampleKind;
use super::examples::COLUMNS;
use super::{Report, DELETION, FAITHFULNESS, HISTOGRAM, INSERTION, RELIABILITY, ROC};
use crate::faithfulness::RANDOM;

const STYLE: &str = "
body { font: 15px/1.5 system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif; color: #222;
       max-width: 1100px; margin: 2em auto; padding: 0 1.5em; }
h1 { margin-bottom: 0.2em; } h2 { margin-top: 2em; border-bottom: 1px solid #ddd; }
.meta { color: #555; margin-top: 0; }
table { border-collapse: collapse; margin: 1em 0; }
th, td { padding: 0.35em 0.8em; border-bottom: 1px solid #e4e4e4; text-align: left;
         vertical-align: top; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.figures { display: flex; flex-wrap: wrap; gap: 1.5em; }
figure { margin: 0; flex: 1 1 440px; max-width: 540px; }
figure img { max-width: 100%; border: 1px solid #ddd; }
figcaption { color: #444; font-size: 0.92em; margin-top: 0.4em; }
table.pairs td, table.pairs th { padding: 0.3em; text-align: center; }
table.pairs img { width: 140px; height: 140px; display: block; }
.pair-info { text-align: left !important; font-size: 0.85em; width: 15em;
             overflow-wrap: anywhere; }
.same { color: #1f77b4; font-weight: 600; } .different { color: #d62728; font-weight: 600; }
.wrong { background: #fff3cd; padding: 0 0.3em; }
.random td { color: #777; }
code { background: #f4f4f4; padding: 0 0.25em; }
";

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn shown(path: &Path, root: &Path) -> String {
    esc(&path
        .strip_prefix(root)
        .unwrap_or(path)
        .display()
        .to_string())
}

/// The page of `report`.
pub fn page(r: &Report) -> String {
    let mut h = String::new();
    let e = &r.evaluation;
    let p = &e.pairs;
    let data = esc(&r.data.display().to_string());
    let split = if r.split == "test" {
        "the held-out test split of the model's training"
    } else {
        "every image"
    };
    let _ = write!(
        h,
        "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>Lookalike report: {model} on {data}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n\
         <h1>Lookalike report</h1>\n\
         <p class=\"meta\">Model: {model}. Data: <code>{data}</code>, {split} ({images} images, \
         {pairs} pairs drawn with seed {seed}{skipped}). Decision threshold on the distance: \
         {threshold}. Made in {seconds:.1} s by <code>lookalike report</code> {version}.</p>\n\
         <p>Contents: <a href=\"#metrics\">metrics</a> · <a href=\"#curves\">ROC curve and \
         similarity histogram</a> · <a href=\"#examples\">example pairs</a> · \
         <a href=\"#faithfulness\">faithfulness of the explanations</a>. Every number is also \
         in <a href=\"report.json\">report.json</a>.</p>\n",
        model = esc(&r.model),
        images = e.images,
        pairs = p.pairs,
        seed = r.seed,
        skipped = if r.skipped > 0 {
            format!("; {} unreadable images left out", r.skipped)
        } else {
            String::new()
        },
        threshold = r.scores.threshold,
        seconds = r.seconds,
        version = env!("CARGO_PKG_VERSION"),
    );

    // Metrics.
    let auc = p.roc_auc.map_or("n/a".into(), |a| format!("{a:.4}"));
    let rows: [(&str, &str, String, &str); 9] = [
        (
            "pair_accuracy",
            "Pair accuracy",
            format!("{:.4}", p.pair_accuracy),
            "pairs decided right (different when d ≥ threshold)",
        ),
        (
            "roc_auc",
            "ROC AUC",
            auc,
            "chance that a different-class pair gets a larger d than a same-class pair",
        ),
        (
            "f1",
            "F1",
            format!("{:.4}", p.f1),
            "of the class “different”",
        ),
        (
            "precision",
            "Precision",
            format!("{:.4}", p.precision),
            "pairs called different that are different",
        ),
        (
            "recall",
            "Recall",
            format!("{:.4}", p.recall),
            "different-class pairs called different",
        ),
        (
            "precision_at_10",
            "Precision@10",
            format!("{:.4}", e.precision_at_10),
            "same-class images among each image's 10 nearest, averaged",
        ),
        (
            "map",
            "mAP",
            format!("{:.4}", e.map),
            "mean average precision, every image querying all the others",
        ),
        (
            "pairs",
            "Pairs",
            p.pairs.to_string(),
            "one same-class and one different-class pair per image",
        ),
        ("images", "Images", e.images.to_string(), "images evaluated"),
    ];
    h.push_str("<h2 id=\"metrics\">Metrics</h2>\n<table class=\"metrics\">\n<tr><th>metric</th><th>value</th><th>what it measures</th></tr>\n");
    for (key, name, value, what) in rows {
        let _ = writeln!(
            h,
            "<tr><td>{name}</td><td class=\"num\" data-metric=\"{key}\">{value}</td><td>{what}</td></tr>"
        );
    }
    h.push_str("</table>\n");
    let _ = writeln!(
        h,
        "<p>These are the figures <code>lookalike eval --split {split} --seed {seed}</code> prints \
         for this model and folder: the pairs are the paper's (for every image, one partner of its \
         own class and one of another class), the distance d is the model's head, and \
         “different” is the positive class.</p>",
        split = r.split,
        seed = r.seed
    );

    // Curves.
    let (fpr, tpr) = r.scores.operating_point;
    let _ = write!(
        h,
        "<h2 id=\"curves\">ROC curve and similarity histogram</h2>\n<div class=\"figures\">\n\
         <figure><img src=\"{ROC}\" alt=\"ROC curve\">\n<figcaption>ROC curve of the distance d \
         as a score for “different”, over the {pairs} evaluated pairs: each point is one \
         threshold, the grey diagonal is chance. The dot is the model's threshold d = {t:.3}: \
         it calls {tpr:.1}% of the different-class pairs different and {fpr:.1}% of the \
         same-class pairs different.</figcaption></figure>\n\
         <figure><img src=\"{HISTOGRAM}\" alt=\"similarity histogram\">\n<figcaption>Similarity \
         s = 1 − d of the same-class pairs (blue) and the different-class pairs (red), in bins of \
         0.05; the black line is the threshold (s = {s:.3}): pairs to its right are called the \
         same. The less the two colours overlap, the better the model separates the \
         classes.</figcaption></figure>\n\
         <figure><img src=\"{RELIABILITY}\" alt=\"reliability diagram\">\n<figcaption>Reliability \
         of the similarity (the calibrated probability of “same”): in each tenth of the \
         predicted similarity, the share of pairs that really are the same class. A calibrated \
         model's bars reach the diagonal; the legend gives the expected calibration \
         error.</figcaption></figure>\n</div>\n",
        pairs = p.pairs,
        t = r.scores.threshold,
        s = 1.0 - r.scores.threshold,
        tpr = 100.0 * tpr,
        fpr = 100.0 * fpr,
    );

    // Examples.
    let _ = writeln!(
        h,
        "<h2 id=\"examples\">Example pairs</h2>\n<p>Pairs from the evaluation above, explained \
         with {method} on the backbone's feature map after unit {layer}. Each image has two maps, \
         from its own gradients: the <em>factual</em> map shows what drives the model's decision \
         (the similarity when it says “same”, the distance when it says “different”), the \
         <em>counterfactual</em> map what argues for the opposite. Red is high, blue low; the \
         white box holds the map's strongest region. A decision the labels disagree with is \
         <span class=\"wrong\">highlighted</span>.</p>",
        method = esc(&r.method),
        layer = r.faithfulness.layer,
    );
    for kind in [
        ExampleKind::ConfidentSame,
        ExampleKind::ConfidentDifferent,
        ExampleKind::NearThreshold,
    ] {
        let shown_here: Vec<_> = r
            .examples
            .iter()
            .filter(|x| x.example.kind == kind)
            .collect();
        if shown_here.is_empty() {
            continue;
        }
        let _ = writeln!(h, "<h3>{}</h3>\n<table class=\"pairs\">", kind.title());
        h.push_str("<tr><th>pair</th>");
        for c in COLUMNS {
            let _ = write!(h, "<th>{c}</th>");
        }
        h.push_str("</tr>\n");
        for x in shown_here {
            let truth_same = !x.example.pair.different;
            let (class, word) = if x.same {
                ("same", "same")
            } else {
                ("different", "different")
            };
            let wrong = if x.same != truth_same { " wrong" } else { "" };
            let _ = write!(
                h,
                "<tr><td class=\"pair-info\"><span class=\"{class}{wrong}\">{word}</span><br>\
                 d = {d:.4}<br>s = {s:.4}<br>A: {a}<br>B: {b}<br>classes: {ca} / {cb}</td>",
                d = x.example.distance,
                s = x.similarity,
                a = shown(&x.a, &r.data),
                b = shown(&x.b, &r.data),
                ca = esc(&x.class_a),
                cb = esc(&x.class_b),
            );
            for (file, c) in x.files.iter().zip(COLUMNS) {
                let _ = write!(h, "<td><img src=\"{file}\" alt=\"{c}\"></td>");
            }
            h.push_str("</tr>\n");
        }
        h.push_str("</table>\n");
    }

    // Faithfulness.
    let f = &r.faithfulness;
    let _ = writeln!(
        h,
        "<h2 id=\"faithfulness\">Faithfulness of the explanations</h2>\n<p>For the first {pairs} \
         pairs of the evaluation (half same-class, half different), each method's map of image A \
         for the similarity (at unit {layer}; the maps explain the head's logit) orders A's \
         pixels. <em>Deletion</em> replaces them by the mean colour from the most to the least \
         salient and follows the logit of (A′, B); <em>insertion</em> puts them back, in the same \
         order, into a Gaussian blur of A (kernel 11, σ 5). Each curve has {steps} steps and is \
         rescaled per pair so that the unperturbed score is 1 and the fully perturbed one 0; the \
         table gives the mean area under it and its ratio to the baseline's, the mean of three \
         smooth random maps at the explainer's grid, with 95% bootstrap intervals. A faithful \
         map makes the score fall fast on deletion (low area, ratio below 1) and rise fast on \
         insertion (high area, ratio above 1). A pair where any method's map is flat is left out \
         for every method; <em>flat</em> counts them per method.</p>\n<table>\n<tr><th>method</th>\
         <th>deletion AUC ↓</th><th>÷ random [95%]</th><th>insertion AUC ↑</th>\
         <th>÷ random [95%]</th><th>pairs</th><th>flat</th></tr>",
        pairs = f.pairs,
        layer = f.layer,
        steps = f.steps,
    );
    for (name, s) in &f.methods {
        let class = if name == RANDOM {
            " class=\"random\""
        } else {
            ""
        };
        let _ = writeln!(
            h,
            "<tr{class}><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td>\
             <td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td>\
             <td class=\"num\">{}</td></tr>",
            esc(name),
            mean(s.deletion_auc, s.pairs),
            ratio(s.deletion_ratio, s.deletion_ratio_ci, s.pairs),
            mean(s.insertion_auc, s.pairs),
            ratio(s.insertion_ratio, s.insertion_ratio_ci, s.pairs),
            s.pairs,
            s.flat
        );
    }
    let _ = writeln!(
        h,
        "</table>\n<figure><img src=\"{FAITHFULNESS}\" alt=\"faithfulness chart\">\n\
         <figcaption>The same means as bars: deletion AUC (blue, lower is better) and insertion \
         AUC (orange, higher is better) per method; the random map, in grey, is the \
         baseline.</figcaption></figure>\n<figure><img src=\"{DELETION}\" alt=\"deletion curves\">\
         <figcaption>Mean deletion curves (lower is better).</figcaption></figure>\n\
         <figure><img src=\"{INSERTION}\" alt=\"insertion curves\"><figcaption>Mean insertion \
         curves (higher is better).</figcaption></figure>\n</body>\n</html>"
    );
    h
}

/// A ratio with its interval, or "n/a" when no pair counted.
fn ratio(value: f64, ci: [f64; 2], pairs: usize) -> String {
    if pairs == 0 || !value.is_finite() {
        "n/a".into()
    } else {
        format!("{value:.3} [{:.3}, {:.3}]", ci[0], ci[1])
    }
}

/// A mean to four places, or "n/a" when no pair counted.
fn mean(value: f64, pairs: usize) -> String {
    if pairs == 0 {
        "n/a".into()
    } else {
        format!("{value:.4}")
    }
}
