//! The report's charts as SVG text, drawn with `plotters`.
//!
//! Only plotters' SVG backend is built (`default-features = false`): SVG keeps its labels as
//! `<text>` elements that the browser sets in its own font, so nothing here needs a font file
//! (a bitmap backend would need one on every machine), and the charts stay sharp at any zoom.

use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;

use super::data::{Faithfulness, PairScores};
use super::{Error, Result};

const SAME: RGBColor = RGBColor(0x1f, 0x77, 0xb4);
const DIFFERENT: RGBColor = RGBColor(0xd6, 0x27, 0x28);
const GREY: RGBColor = RGBColor(0x88, 0x88, 0x88);
const ORANGE: RGBColor = RGBColor(0xff, 0x7f, 0x0e);
const SIZE: (u32, u32) = (520, 400);
/// The column on the right of the curve charts that holds their legend.
const LEGEND_WIDTH: u32 = 180;

fn plot_error(e: impl std::fmt::Display) -> Error {
    Error::Plot(e.to_string())
}

/// The ROC curve of the distance for "different", the chance diagonal, and the model's
/// operating point at its threshold.
pub fn roc_svg(scores: &PairScores) -> Result<String> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, SIZE).into_drawing_area();
        root.fill(&WHITE).map_err(plot_error)?;
        let mut chart = unit_axes(
            &root,
            0f64..1f64,
            "false positive rate (same-class pairs called different)",
            "true positive rate",
        )?;
        chart
            .draw_series(LineSeries::new(
                [(0.0, 0.0), (1.0, 1.0)],
                GREY.stroke_width(1),
            ))
            .map_err(plot_error)?
            .label("chance")
            .legend(|(x, y)| PathElement::new([(x, y), (x + 18, y)], GREY.stroke_width(1)));
        let auc = scores.roc_auc.map_or("n/a".into(), |a| format!("{a:.3}"));
        chart
            .draw_series(LineSeries::new(
                scores.roc.iter().copied(),
                DIFFERENT.stroke_width(2),
            ))
            .map_err(plot_error)?
            .label(format!("model (AUC {auc})"))
            .legend(|(x, y)| PathElement::new([(x, y), (x + 18, y)], DIFFERENT.stroke_width(2)));
        let (fpr, tpr) = scores.operating_point;
        chart
            .draw_series([Circle::new((fpr, tpr), 5, BLACK.filled())])
            .map_err(plot_error)?
            .label(format!("threshold d = {:.3}", scores.threshold))
            .legend(|(x, y)| Circle::new((x + 9, y), 4, BLACK.filled()));
        legend(&mut chart, SeriesLabelPosition::LowerRight)?;
        root.present().map_err(plot_error)?;
    }
    Ok(svg)
}

/// Histograms of the similarity `s = 1 − d` of same-class and different-class pairs, in bins
/// of 0.05, with the decision threshold as a vertical line.
pub fn histogram_svg(scores: &PairScores) -> Result<String> {
    const BINS: usize = 20;
    let count = |different: bool| -> Vec<usize> {
        let mut bins = vec![0usize; BINS];
        for (&d, &diff) in scores.distances.iter().zip(&scores.different) {
            if diff == different {
                let s = (1.0 - d).clamp(0.0, 1.0);
                bins[((s * BINS as f64) as usize).min(BINS - 1)] += 1;
            }
        }
        bins
    };
    let (same, different) = (count(false), count(true));
    // Headroom above the tallest bar for the legend.
    let top = same
        .iter()
        .chain(&different)
        .copied()
        .max()
        .unwrap_or(0)
        .max(1) as f64
        * 1.3;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, SIZE).into_drawing_area();
        root.fill(&WHITE).map_err(plot_error)?;
        let mut chart = ChartBuilder::on(&root)
            .margin(16)
            .x_label_area_size(48)
            .y_label_area_size(60)
            .build_cartesian_2d(0f64..1f64, 0f64..top)
            .map_err(plot_error)?;
        chart
            .configure_mesh()
            .label_style(("sans-serif", 13))
            .axis_desc_style(("sans-serif", 14))
            .x_desc("similarity s = 1 − d")
            .y_desc("pairs")
            .x_labels(11)
            .y_labels(6)
            .y_label_formatter(&|v| format!("{v:.0}"))
            .light_line_style(WHITE.mix(0.0))
            .draw()
            .map_err(plot_error)?;
        let width = 1.0 / BINS as f64;
        for (bins, colour, name) in [
            (&same, SAME, "same-class pairs"),
            (&different, DIFFERENT, "different-class pairs"),
        ] {
            let bars = bins.iter().enumerate().map(|(i, &n)| {
                let x0 = i as f64 * width;
                Rectangle::new(
                    [(x0, 0.0), (x0 + width, n as f64)],
                    colour.mix(0.45).filled(),
                )
            });
            chart
                .draw_series(bars)
                .map_err(plot_error)?
                .label(format!("{name} ({})", bins.iter().sum::<usize>()))
                .legend(move |(x, y)| {
                    Rectangle::new([(x, y - 5), (x + 14, y + 5)], colour.mix(0.45).filled())
                });
        }
        let s = 1.0 - scores.threshold;
        chart
            .draw_series(LineSeries::new([(s, 0.0), (s, top)], BLACK.stroke_width(2)))
            .map_err(plot_error)?
            .label(format!("threshold s = {s:.3}"))
            .legend(|(x, y)| PathElement::new([(x, y), (x + 18, y)], BLACK.stroke_width(2)));
        legend(&mut chart, SeriesLabelPosition::UpperLeft)?;
        root.present().map_err(plot_error)?;
    }
    Ok(svg)
}

/// Grouped bars: each method's mean deletion AUC (lower is better) and insertion AUC (higher is
/// better), the random baseline last, in grey.
pub fn faithfulness_svg(faithfulness: &Faithfulness) -> Result<String> {
    let names: Vec<&str> = faithfulness.methods.iter().map(|m| m.0.as_str()).collect();
    let n = names.len().max(1);
    let top = faithfulness
        .methods
        .iter()
        .flat_map(|(_, s)| [s.deletion_auc, s.insertion_auc])
        .fold(0.0f64, f64::max)
        .max(0.05)
        * 1.25;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (SIZE.0 + 120, SIZE.1)).into_drawing_area();
        root.fill(&WHITE).map_err(plot_error)?;
        let mut chart = ChartBuilder::on(&root)
            .margin(16)
            .x_label_area_size(48)
            .y_label_area_size(60)
            .build_cartesian_2d(-0.5f64..(n as f64 - 0.5), 0f64..top)
            .map_err(plot_error)?;
        let label = |x: &f64| {
            let i = x.round();
            if (x - i).abs() < 1e-6 && i >= 0.0 {
                names
                    .get(i as usize)
                    .map(|s| s.to_string())
                    .unwrap_or_default()
            } else {
                String::new()
            }
        };
        chart
            .configure_mesh()
            .label_style(("sans-serif", 13))
            .axis_desc_style(("sans-serif", 14))
            .disable_x_mesh()
            .x_labels(n + 1)
            .x_label_formatter(&label)
            .y_desc("mean area under the curve")
            .y_labels(6)
            .light_line_style(WHITE.mix(0.0))
            .draw()
            .map_err(plot_error)?;
        let bar = 0.36;
        let colour = |insertion: bool, random: bool| match (insertion, random) {
            (false, false) => SAME.mix(0.85),
            (true, false) => ORANGE.mix(0.85),
            (false, true) => GREY.mix(0.65),
            (true, true) => GREY.mix(0.3),
        };
        for insertion in [false, true] {
            let offset = if insertion { 0.0 } else { -bar };
            let bars = faithfulness
                .methods
                .iter()
                .enumerate()
                .map(|(i, (name, s))| {
                    let random = name == crate::faithfulness::RANDOM;
                    let value = if insertion {
                        s.insertion_auc
                    } else {
                        s.deletion_auc
                    };
                    let x0 = i as f64 + offset;
                    Rectangle::new(
                        [(x0, 0.0), (x0 + bar, value)],
                        colour(insertion, random).filled(),
                    )
                });
            let key = colour(insertion, false);
            chart
                .draw_series(bars)
                .map_err(plot_error)?
                .label(if insertion {
                    "insertion AUC (higher is better)"
                } else {
                    "deletion AUC (lower is better)"
                })
                .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 14, y + 5)], key.filled()));
        }
        legend(&mut chart, SeriesLabelPosition::UpperRight)?;
        root.present().map_err(plot_error)?;
    }
    Ok(svg)
}

type Chart<'a, 'b> = ChartContext<'a, SVGBackend<'b>, Cartesian2d<RangedCoordf64, RangedCoordf64>>;

/// A chart over `x ∈ [0, 1]` and `y`, with the report's margins, fonts and six labels a side.
fn unit_axes<'a, 'b>(
    root: &'a DrawingArea<SVGBackend<'b>, plotters::coord::Shift>,
    y: std::ops::Range<f64>,
    x_desc: &str,
    y_desc: &str,
) -> Result<Chart<'a, 'b>> {
    let mut chart = ChartBuilder::on(root)
        .margin(16)
        .x_label_area_size(48)
        .y_label_area_size(60)
        .build_cartesian_2d(0f64..1f64, y)
        .map_err(plot_error)?;
    chart
        .configure_mesh()
        .label_style(("sans-serif", 13))
        .axis_desc_style(("sans-serif", 14))
        .x_desc(x_desc)
        .y_desc(y_desc)
        .x_labels(6)
        .y_labels(6)
        .light_line_style(WHITE.mix(0.0))
        .draw()
        .map_err(plot_error)?;
    Ok(chart)
}

fn legend<'a, 'b: 'a>(chart: &mut Chart<'a, 'b>, position: SeriesLabelPosition) -> Result<()> {
    chart
        .configure_series_labels()
        .position(position)
        .label_font(("sans-serif", 13))
        .background_style(WHITE.mix(0.85))
        .border_style(GREY)
        .draw()
        .map_err(plot_error)
}

/// The reliability diagram of the similarity on the evaluation's pairs: the fraction of
/// same-class pairs against the mean predicted similarity, in ten bins, with the diagonal of a
/// perfectly calibrated model and the expected calibration error in the legend.
pub fn reliability_svg(scores: &PairScores) -> Result<String> {
    use lookalike_core::siamese::calibration::{expected_calibration_error, reliability};
    let similarity: Vec<f64> = scores.distances.iter().map(|d| 1.0 - d).collect();
    let same: Vec<bool> = scores.different.iter().map(|d| !d).collect();
    let bins = reliability(&similarity, &same, 10);
    let ece = expected_calibration_error(&similarity, &same, 10);
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, SIZE).into_drawing_area();
        root.fill(&WHITE).map_err(plot_error)?;
        let mut chart = unit_axes(
            &root,
            0f64..1f64,
            "predicted similarity (probability of same)",
            "fraction of pairs that are the same class",
        )?;
        chart
            .draw_series(LineSeries::new(
                [(0.0, 0.0), (1.0, 1.0)],
                GREY.stroke_width(1),
            ))
            .map_err(plot_error)?
            .label("perfectly calibrated")
            .legend(|(x, y)| PathElement::new([(x, y), (x + 18, y)], GREY.stroke_width(1)));
        chart
            .draw_series(bins.iter().filter(|b| b.count > 0).map(|b| {
                Rectangle::new(
                    [(b.lo + 0.01, 0.0), (b.hi - 0.01, b.observed)],
                    SAME.mix(0.5).filled(),
                )
            }))
            .map_err(plot_error)?
            .label(format!("observed (ECE {ece:.3})"))
            .legend(|(x, y)| Rectangle::new([(x, y - 5), (x + 14, y + 5)], SAME.mix(0.5).filled()));
        chart
            .draw_series(
                bins.iter()
                    .filter(|b| b.count > 0)
                    .map(|b| Circle::new((b.predicted, b.observed), 4, BLACK.filled())),
            )
            .map_err(plot_error)?
            .label("mean prediction of the bin")
            .legend(|(x, y)| Circle::new((x + 9, y), 4, BLACK.filled()));
        legend(&mut chart, SeriesLabelPosition::UpperLeft)?;
        root.present().map_err(plot_error)?;
    }
    Ok(svg)
}

/// The mean deletion (`which` 0) or insertion (1) curve of every method, normalised per pair
/// (unperturbed score 1, fully perturbed 0), the random baseline in grey. The legend sits in a
/// column of its own on the right: inside the plot it hid the curves where they bunch up.
pub fn curves_svg(faithfulness: &Faithfulness, which: usize) -> Result<String> {
    const PALETTE: [RGBColor; 8] = [
        SAME,
        DIFFERENT,
        ORANGE,
        RGBColor(0x2c, 0xa0, 0x2c),
        RGBColor(0x94, 0x67, 0xbd),
        RGBColor(0x8c, 0x56, 0x4b),
        RGBColor(0xe3, 0x77, 0xc2),
        RGBColor(0x17, 0xbe, 0xcf),
    ];
    let (lo, hi) = faithfulness
        .curves
        .values()
        .flat_map(|c| c[which].iter().copied())
        .fold((0.0f64, 1.0f64), |(lo, hi), v| (lo.min(v), hi.max(v)));
    let mut svg = String::new();
    {
        let root =
            SVGBackend::with_string(&mut svg, (SIZE.0 + LEGEND_WIDTH, SIZE.1)).into_drawing_area();
        root.fill(&WHITE).map_err(plot_error)?;
        let (plot, key) = root.split_horizontally(SIZE.0);
        let mut chart = ChartBuilder::on(&plot)
            .margin(16)
            .x_label_area_size(48)
            .y_label_area_size(60)
            .build_cartesian_2d(0f64..1f64, (lo - 0.05)..(hi + 0.05))
            .map_err(plot_error)?;
        chart
            .configure_mesh()
            .label_style(("sans-serif", 13))
            .axis_desc_style(("sans-serif", 14))
            .x_desc(if which == 0 {
                "fraction of pixels deleted (most salient first)"
            } else {
                "fraction of pixels inserted (most salient first)"
            })
            .y_desc("score, normalised per pair")
            .x_labels(6)
            .y_labels(6)
            .light_line_style(WHITE.mix(0.0))
            .draw()
            .map_err(plot_error)?;
        let mut colour = 0;
        let mut drawn = Vec::new();
        for (name, c) in &faithfulness.curves {
            let y = &c[which];
            let n = y.len().saturating_sub(1).max(1) as f64;
            let style = if name == crate::faithfulness::RANDOM {
                GREY.stroke_width(3)
            } else {
                colour += 1;
                PALETTE[(colour - 1) % PALETTE.len()].stroke_width(2)
            };
            chart
                .draw_series(LineSeries::new(
                    y.iter().enumerate().map(|(i, v)| (i as f64 / n, *v)),
                    style,
                ))
                .map_err(plot_error)?;
            drawn.push((name.clone(), style));
        }
        for (i, (name, style)) in drawn.into_iter().enumerate() {
            let y = 32 + 22 * i as i32;
            key.draw(&PathElement::new([(4, y), (26, y)], style))
                .map_err(plot_error)?;
            key.draw(&Text::new(name, (32, y - 7), ("sans-serif", 13)))
                .map_err(plot_error)?;
        }
        root.present().map_err(plot_error)?;
    }
    Ok(svg)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The `x` of the `<text>` element that reads `label`, in the SVG text.
    fn text_x(svg: &str, label: &str) -> f64 {
        let end = svg
            .find(&format!(">\n{label}\n</text>"))
            .unwrap_or_else(|| panic!("no label {label:?} in the chart"));
        let start = svg[..end].rfind("<text").unwrap();
        let attrs = &svg[start..end];
        let x = attrs.find(" x=\"").unwrap() + 4;
        attrs[x..x + attrs[x..].find('"').unwrap()].parse().unwrap()
    }

    #[test]
    fn the_curves_legend_is_beside_the_plot_not_on_it() {
        let mut f = Faithfulness::new(Default::default(), 4, 8, 18);
        let falling: Vec<f64> = (0..=8).map(|i| 1.0 - i as f64 / 8.0).collect();
        let rising: Vec<f64> = falling.iter().rev().copied().collect();
        for name in [
            "gradcam",
            "integrated-gradients",
            crate::faithfulness::RANDOM,
        ] {
            f.curves
                .insert(name.into(), [falling.clone(), rising.clone()]);
        }
        for which in [0, 1] {
            let svg = curves_svg(&f, which).unwrap();
            for name in f.curves.keys() {
                let x = text_x(&svg, name);
                assert!(x > SIZE.0 as f64, "{name} at x = {x}, inside the plot");
                assert!(
                    x < (SIZE.0 + LEGEND_WIDTH) as f64 - 20.0,
                    "{name} at x = {x}"
                );
            }
        }
    }
}
