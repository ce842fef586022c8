//! `lookalike report` (issue 7) as a user runs it: a tiny model trained on generated shapes, its
//! report checked against `lookalike eval`, its charts parsed as SVG, its overlays decoded, and
//! bad input refused without leaving anything behind.

use std::path::Path;

use lookalike_e2e::*;
use serde_json::Value;

fn ok(args: &[&str]) -> String {
    let run = lookalike(args);
    let (stdout, stderr) = text(&run);
    assert!(run.status.success(), "{args:?} failed:\n{stderr}");
    stdout
}

/// Every `src="..."` and `href="..."` of the page, anchors left out.
fn links(html: &str) -> Vec<String> {
    let mut out = Vec::new();
    for attr in ["src=\"", "href=\""] {
        for (i, _) in html.match_indices(attr) {
            let rest = &html[i + attr.len()..];
            let link = &rest[..rest.find('"').unwrap()];
            if !link.starts_with('#') {
                out.push(link.to_string());
            }
        }
    }
    out
}

/// The value shown in the metrics table for `key`.
fn shown_metric(html: &str, key: &str) -> String {
    let tag = format!("data-metric=\"{key}\">");
    let at = html
        .find(&tag)
        .unwrap_or_else(|| panic!("no {key} in the page"))
        + tag.len();
    html[at..at + html[at..].find('<').unwrap()].to_string()
}

/// Elements named `name` in an SVG file, which must parse with an `<svg>` root.
fn svg_elements<'a>(doc: &'a roxmltree::Document<'a>, name: &str) -> Vec<roxmltree::Node<'a, 'a>> {
    assert_eq!(doc.root_element().tag_name().name(), "svg");
    doc.descendants()
        .filter(|n| n.tag_name().name() == name)
        .collect()
}

fn no_leftovers(parent: &Path) {
    let hidden: Vec<_> = std::fs::read_dir(parent)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with('.'))
        .collect();
    assert!(hidden.is_empty(), "left behind: {hidden:?}");
}

#[test]
fn report_shows_the_eval_figures_real_charts_and_explained_pairs() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("shapes");
    shapes_dataset(&data, 3, 30, 4);
    let (d, m) = (data.to_str().unwrap(), dir.path().join("model"));
    let m = m.to_str().unwrap();
    ok(&[
        "train",
        "--data",
        d,
        "--out",
        m,
        "--backbone",
        "tiny",
        "--seed",
        "3",
        "--json",
    ]);
    let out = dir.path().join("report");
    let o = out.to_str().unwrap();
    let report = [
        "report",
        "--model",
        m,
        "--data",
        d,
        "--out",
        o,
        "--split",
        "test",
        "--seed",
        "9",
        "--pairs",
        "3",
        "--examples",
        "2",
        "--steps",
        "4",
        "--quiet",
    ];
    let stdout = ok(&report);
    assert!(stdout.contains("index.html"), "{stdout}");

    let html = std::fs::read_to_string(out.join("index.html")).unwrap();
    assert!(!html.contains("<script") && !html.contains("http://") && !html.contains("https://"));
    let links = links(&html);
    for link in &links {
        assert!(
            out.join(link).is_file(),
            "index.html links {link}, which is not there"
        );
    }
    for chart in ["roc.svg", "similarity.svg", "faithfulness.svg"] {
        assert!(links.iter().any(|l| l == chart), "{chart} is not shown");
    }

    // The metrics are those of `lookalike eval` on the same split and seed.
    let eval: Value = serde_json::from_str(
        ok(&[
            "eval", "--model", m, "--data", d, "--split", "test", "--seed", "9", "--json",
        ])
        .trim(),
    )
    .unwrap();
    for key in [
        "pair_accuracy",
        "roc_auc",
        "f1",
        "precision",
        "recall",
        "precision_at_10",
        "map",
    ] {
        let want = format!("{:.4}", eval[key].as_f64().unwrap());
        assert_eq!(shown_metric(&html, key), want, "{key}");
    }
    for key in ["pairs", "images"] {
        assert_eq!(shown_metric(&html, key), eval[key].to_string(), "{key}");
    }

    // The charts are SVG with their curves, bars and threshold in them.
    let read = |name: &str| std::fs::read_to_string(out.join(name)).unwrap();
    let roc = read("roc.svg");
    let roc = roxmltree::Document::parse(&roc).unwrap();
    let curves: Vec<usize> = svg_elements(&roc, "polyline")
        .iter()
        .map(|p| {
            p.attribute("points")
                .unwrap_or("")
                .split_whitespace()
                .count()
        })
        .collect();
    assert!(curves.iter().any(|&n| n >= 3), "no ROC curve in {curves:?}");
    assert!(
        !svg_elements(&roc, "circle").is_empty(),
        "no operating point"
    );
    let hist = read("similarity.svg");
    let hist = roxmltree::Document::parse(&hist).unwrap();
    assert!(
        svg_elements(&hist, "rect").len() >= 40,
        "two histograms of 20 bins"
    );
    assert!(
        !svg_elements(&hist, "polyline").is_empty(),
        "no threshold line"
    );
    let bars = read("faithfulness.svg");
    let bars = roxmltree::Document::parse(&bars).unwrap();
    assert!(
        svg_elements(&bars, "rect").len() >= 12,
        "two bars for 5 methods and random"
    );
    assert!(bars
        .descendants()
        .any(|n| n.text().map(str::trim) == Some("gradcam++")));

    // Example pairs: both crops and four overlays each, all decodable, of one size.
    let pngs: Vec<&String> = links.iter().filter(|l| l.ends_with(".png")).collect();
    assert!(pngs.len() >= 6 && pngs.len().is_multiple_of(6), "{pngs:?}");
    for png in &pngs {
        let img = image::open(out.join(png)).unwrap_or_else(|e| panic!("{png}: {e}"));
        assert_eq!((img.width(), img.height()), (160, 160), "{png}");
    }
    assert!(html.contains("Confident"));
    for method in [
        "gradcam",
        "gradcam++",
        "xgradcam",
        "hirescam",
        "layercam",
        "random",
    ] {
        assert!(
            html.contains(&format!("<td>{method}</td>")),
            "no {method} row"
        );
    }
    let json: Value = serde_json::from_str(&read("report.json")).unwrap();
    assert_eq!(json["evaluation"]["roc_auc"], eval["roc_auc"]);

    // A second run replaces the first whole; nothing is left beside it.
    ok(&report);
    no_leftovers(dir.path());
}

#[test]
fn report_refuses_bad_input_by_name_and_leaves_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("shapes");
    shapes_dataset(&data, 2, 4, 1);
    let one_class = dir.path().join("one");
    shapes_dataset(&one_class, 1, 4, 1);
    let not_model = dir.path().join("not-a-model");
    std::fs::create_dir(&not_model).unwrap();
    let out = dir.path().join("report");
    let (d, o) = (data.to_str().unwrap(), out.to_str().unwrap());
    let zero = ["--model", "zero-shot", "--backbone", "tiny"];
    let missing = dir.path().join("missing");
    let cases: [(Vec<&str>, &str); 3] = [
        (
            [
                &zero[..],
                &["--data", missing.to_str().unwrap(), "--out", o],
            ]
            .concat(),
            "no such folder",
        ),
        (
            vec![
                "--model",
                not_model.to_str().unwrap(),
                "--data",
                d,
                "--out",
                o,
            ],
            "not a model folder",
        ),
        (
            [
                &zero[..],
                &["--data", one_class.to_str().unwrap(), "--out", o],
            ]
            .concat(),
            "at least two classes",
        ),
    ];
    for (args, needle) in cases {
        fails_with(&[&["report"][..], &args].concat(), needle);
        assert!(
            !out.exists(),
            "{needle}: a failed run made {}",
            out.display()
        );
        no_leftovers(dir.path());
    }
    // A folder holding something else is not overwritten.
    std::fs::create_dir(&out).unwrap();
    std::fs::write(out.join("notes.txt"), "mine").unwrap();
    fails_with(
        &[&["report"][..], &zero, &["--data", d, "--out", o]].concat(),
        "not an earlier report",
    );
    assert_eq!(
        std::fs::read_to_string(out.join("notes.txt")).unwrap(),
        "mine"
    );
}
