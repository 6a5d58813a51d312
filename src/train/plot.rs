//! `loss_curve.png` and `loss_curve.svg`: the run's training loss and eval loss against the
//! step, with the learning rate on a second axis, a title, labeled axes with tick values and a
//! legend, drawn with `plotters`. Text is rasterized by `ab_glyph` from the DejaVu Sans font
//! embedded in the binary, so no system font is needed; the PNG is deflate-compressed by the
//! `png` crate (tens of KB at 640x400).

use std::path::Path;
use std::sync::Once;

use plotters::chart::DualCoordChartContext;
use plotters::coord::ranged1d::ValueFormatter;
use plotters::coord::types::RangedCoordf64;
use plotters::coord::Shift;
use plotters::prelude::*;
use serde_json::Value;

use crate::config::TrainingArgs;
use crate::models::ModelConfig;
use crate::{Error, Result};

/// Size of the rendered images in pixels.
pub const WIDTH: u32 = 640;
pub const HEIGHT: u32 = 400;

const TRAIN_COLOR: RGBColor = RGBColor(31, 119, 180);
const EVAL_COLOR: RGBColor = RGBColor(255, 127, 14);
const LR_COLOR: RGBColor = RGBColor(44, 160, 44);
const FONT: &str = "sans-serif";

/// What the plot shows: `(step, value)` series and how to draw them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LossCurves {
    /// The plot's title (model and run).
    pub title: String,
    pub train_loss: Vec<(f64, f64)>,
    pub eval_loss: Vec<(f64, f64)>,
    pub learning_rate: Vec<(f64, f64)>,
    /// A logarithmic loss axis (`plot_log_scale`).
    pub log_scale: bool,
}

impl LossCurves {
    /// The `loss`, `eval_loss` and `learning_rate` of every log event that has them.
    pub fn from_log_history(title: String, log_history: &[Value], log_scale: bool) -> Self {
        LossCurves {
            title,
            train_loss: logged_curve(log_history, "loss"),
            eval_loss: logged_curve(log_history, "eval_loss"),
            learning_rate: logged_curve(log_history, "learning_rate"),
            log_scale,
        }
    }

    /// Writes `loss_curve.png` and `loss_curve.svg` into `dir`.
    pub fn write(&self, dir: &Path) -> Result<()> {
        let png = self.render_png();
        write_rendered(&dir.join("loss_curve.png"), png)?;
        let svg = self.render_svg().map(String::into_bytes);
        write_rendered(&dir.join("loss_curve.svg"), svg)
    }

    /// The plot as a compressed RGB PNG of [`WIDTH`] x [`HEIGHT`].
    pub fn render_png(&self) -> std::result::Result<Vec<u8>, String> {
        let mut rgb = vec![0u8; (WIDTH * HEIGHT * 3) as usize];
        {
            let root = BitMapBackend::with_buffer(&mut rgb, (WIDTH, HEIGHT)).into_drawing_area();
            self.draw(&root)?;
            root.present().map_err(|e| e.to_string())?;
        }
        encode_png(&rgb, WIDTH, HEIGHT).map_err(|e| e.to_string())
    }

    /// The plot as SVG text (a viewer draws the text with its own sans-serif font).
    pub fn render_svg(&self) -> std::result::Result<String, String> {
        let mut svg = String::new();
        {
            let root = SVGBackend::with_string(&mut svg, (WIDTH, HEIGHT)).into_drawing_area();
            self.draw(&root)?;
            root.present().map_err(|e| e.to_string())?;
        }
        Ok(svg)
    }

    fn draw<DB: DrawingBackend>(
        &self,
        root: &DrawingArea<DB, Shift>,
    ) -> std::result::Result<(), String> {
        register_font();
        root.fill(&WHITE).map_err(|e| e.to_string())?;
        let losses: Vec<f64> = finite(&self.train_loss)
            .chain(finite(&self.eval_loss))
            .map(|p| p.1)
            .collect();
        let steps = finite(&self.train_loss)
            .chain(finite(&self.eval_loss))
            .chain(finite(&self.learning_rate))
            .map(|p| p.0);
        // steps start at 0: the axis shows where the run began, not only its first log event
        let (_, last_step) = bounds(steps);
        let (x0, x1) = (0.0, last_step.max(1.0));
        // the learning rate is never negative: its axis starts at 0; the headroom above its peak
        // keeps its line below the legend
        let (_, lr_max) = bounds(finite(&self.learning_rate).map(|p| p.1));
        let (lr0, lr1) = (0.0, if lr_max > 0.0 { lr_max * 1.3 } else { 1.0 });
        if self.log_scale {
            let positive = losses.iter().copied().filter(|&v| v > 0.0);
            let (lo, hi) = bounds(positive);
            let (lo, hi) = if lo > 0.0 {
                (lo / 1.1, hi * 1.1)
            } else {
                (0.1, 10.0)
            };
            let chart = self
                .chart_builder(root)
                .build_cartesian_2d(
                    x0..x1,
                    (lo..hi).log_scale().with_key_points(log_ticks(lo, hi)),
                )
                .map_err(|e| e.to_string())?
                .set_secondary_coord(x0..x1, lr0..lr1);
            let corner = legend_corner(&self.loss_points(), (x0, x1), (lo, hi), true);
            self.draw_series(chart, corner)
        } else {
            let (lo, hi) = padded(bounds(losses.into_iter()), 0.05);
            let chart = self
                .chart_builder(root)
                .build_cartesian_2d(x0..x1, lo..hi)
                .map_err(|e| e.to_string())?
                .set_secondary_coord(x0..x1, lr0..lr1);
            let corner = legend_corner(&self.loss_points(), (x0, x1), (lo, hi), false);
            self.draw_series(chart, corner)
        }
    }

    /// The drawn loss curves (train, eval), each as `(step, loss)` points.
    fn loss_points(&self) -> Vec<Vec<(f64, f64)>> {
        [&self.train_loss, &self.eval_loss]
            .iter()
            .map(|series| {
                finite(series)
                    .filter(|p| !self.log_scale || p.1 > 0.0)
                    .collect()
            })
            .collect()
    }

    /// Title and margins: room for tick values and axis names on the left, right and bottom.
    fn chart_builder<'a, 'b, DB: DrawingBackend>(
        &'b self,
        root: &'a DrawingArea<DB, Shift>,
    ) -> ChartBuilder<'a, 'b, DB> {
        let mut builder = ChartBuilder::on(root);
        builder
            .caption(&self.title, (FONT, 18))
            .margin(10)
            .x_label_area_size(40)
            .y_label_area_size(60)
            .right_y_label_area_size(70);
        builder
    }

    fn draw_series<'a, DB, Y>(
        &self,
        mut chart: DualCoordChartContext<
            'a,
            DB,
            Cartesian2d<RangedCoordf64, Y>,
            Cartesian2d<RangedCoordf64, RangedCoordf64>,
        >,
        legend: SeriesLabelPosition,
    ) -> std::result::Result<(), String>
    where
        DB: DrawingBackend + 'a,
        Y: Ranged<ValueType = f64> + ValueFormatter<f64>,
    {
        let err = |e: DrawingAreaErrorKind<DB::ErrorType>| e.to_string();
        chart
            .configure_mesh()
            .x_desc("step")
            .y_desc(if self.log_scale {
                "loss (log scale)"
            } else {
                "loss"
            })
            .x_label_formatter(&|v| format!("{v:.0}"))
            .y_label_formatter(&|v| tick_label(*v))
            .label_style((FONT, 13))
            .axis_desc_style((FONT, 14))
            .light_line_style(WHITE.mix(0.0))
            .draw()
            .map_err(err)?;
        if !self.learning_rate.is_empty() {
            chart
                .configure_secondary_axes()
                .y_desc("learning rate")
                .y_label_formatter(&|v| short_scientific(*v))
                .label_style((FONT, 13))
                .axis_desc_style((FONT, 14))
                .draw()
                .map_err(err)?;
            chart
                .draw_secondary_series(LineSeries::new(
                    finite(&self.learning_rate),
                    LR_COLOR.stroke_width(1),
                ))
                .map_err(err)?
                .label("learning rate (right axis)")
                .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], LR_COLOR));
        }
        let train = finite(&self.train_loss).filter(|p| !self.log_scale || p.1 > 0.0);
        chart
            .draw_series(LineSeries::new(train, TRAIN_COLOR.stroke_width(2)))
            .map_err(err)?
            .label("train loss")
            .legend(|(x, y)| {
                PathElement::new(vec![(x, y), (x + 20, y)], TRAIN_COLOR.stroke_width(2))
            });
        if !self.eval_loss.is_empty() {
            let eval: Vec<(f64, f64)> = finite(&self.eval_loss)
                .filter(|p| !self.log_scale || p.1 > 0.0)
                .collect();
            chart
                .draw_series(LineSeries::new(
                    eval.iter().copied(),
                    EVAL_COLOR.stroke_width(2),
                ))
                .map_err(err)?
                .label("eval loss")
                .legend(|(x, y)| Circle::new((x + 10, y), 4, EVAL_COLOR.filled()));
            chart
                .draw_series(eval.iter().map(|&p| Circle::new(p, 4, EVAL_COLOR.filled())))
                .map_err(err)?;
        }
        chart
            .configure_series_labels()
            .position(legend)
            .label_font((FONT, 13))
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK.mix(0.4))
            .draw()
            .map_err(err)?;
        Ok(())
    }
}

/// The chart corner for the legend: the one whose box (the outer 45% of the steps, the outer 30%
/// of the loss axis) the loss curves cross least, upper right first on a tie. A falling loss
/// leaves the upper right empty; a short or rising run may not, and the legend then moves off it.
fn legend_corner(
    curves: &[Vec<(f64, f64)>],
    (x0, x1): (f64, f64),
    (lo, hi): (f64, f64),
    log_scale: bool,
) -> SeriesLabelPosition {
    let axis = |v: f64| {
        if log_scale {
            v.max(f64::MIN_POSITIVE).log10()
        } else {
            v
        }
    };
    let (lo, hi) = (axis(lo), axis(hi));
    let fraction = |v: f64, a: f64, b: f64| (v - a) / (b - a).max(f64::EPSILON);
    // the curves between logged points count too: sample each segment
    let mut samples = Vec::new();
    for points in curves {
        for pair in points.windows(2) {
            let ((xa, ya), (xb, yb)) = (pair[0], pair[1]);
            for k in 0..10 {
                let t = f64::from(k) / 10.0;
                samples.push((xa + (xb - xa) * t, axis(ya) + (axis(yb) - axis(ya)) * t));
            }
        }
        samples.extend(points.last().map(|&(x, y)| (x, axis(y))));
    }
    let in_box = |(x, y): (f64, f64), right: bool, upper: bool| {
        let (fx, fy) = (fraction(x, x0, x1), fraction(y, lo, hi));
        (if right { fx >= 0.55 } else { fx <= 0.45 }) && (if upper { fy >= 0.7 } else { fy <= 0.3 })
    };
    let corners = [
        (SeriesLabelPosition::UpperRight, true, true),
        (SeriesLabelPosition::UpperLeft, false, true),
        (SeriesLabelPosition::LowerRight, true, false),
        (SeriesLabelPosition::LowerLeft, false, false),
    ];
    let mut best = (SeriesLabelPosition::UpperRight, usize::MAX);
    for (corner, right, upper) in corners {
        let crossings = samples.iter().filter(|&&p| in_box(p, right, upper)).count();
        if crossings < best.1 {
            best = (corner, crossings);
        }
    }
    best.0
}

/// The plot title of a run: the model and its size, and the run (its output directory's name).
pub fn run_title(model: &ModelConfig, args: &TrainingArgs) -> String {
    let model = match model {
        ModelConfig::Mlp(c) => format!(
            "MLP {}",
            c.layers
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("-")
        ),
        ModelConfig::Gpt(c) => format!(
            "GPT ({} layers, d_model {}, vocab {})",
            c.n_layers, c.d_model, c.vocab_size
        ),
        ModelConfig::Hf(c) => format!(
            "{} ({} layers, hidden {}, vocab {})",
            c.family.architecture(),
            c.num_hidden_layers,
            c.hidden_size,
            c.vocab_size
        ),
    };
    let run = args.output_dir.file_name().map_or_else(
        || args.output_dir.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    );
    format!("{model} \u{2014} run {run}")
}

/// `(step, value)` of every log entry that has `key`.
pub fn logged_curve(log_history: &[Value], key: &str) -> Vec<(f64, f64)> {
    log_history
        .iter()
        .filter_map(|e| Some((e.get("step")?.as_f64()?, e.get(key)?.as_f64()?)))
        .collect()
}

fn write_rendered(path: &Path, rendered: std::result::Result<Vec<u8>, String>) -> Result<()> {
    let bytes = rendered.map_err(|reason| Error::Plot {
        path: path.to_path_buf(),
        reason,
    })?;
    std::fs::write(path, bytes).map_err(|e| Error::io("cannot write the loss curve", path, e))
}

/// Makes the embedded DejaVu Sans the plots' `sans-serif` (once per process).
fn register_font() {
    static FONT_REGISTERED: Once = Once::new();
    FONT_REGISTERED.call_once(|| {
        // DejaVu Sans is a valid TrueType font, so registering cannot fail; if it did, text
        // would be missing from the picture and the plot test says so.
        let _ = plotters::style::register_font(FONT, FontStyle::Normal, dejavu::sans::regular());
    });
}

/// Loss ticks of a log axis over `[lo, hi]`: 1-2-5 per decade (every integer mantissa when
/// the range is within about one decade, powers of ten only over many decades). Plotters' own
/// log ticks start at the first power of ten, which leaves losses below 1 unlabeled.
fn log_ticks(lo: f64, hi: f64) -> Vec<f64> {
    let (first, last) = (lo.log10().floor() as i32, hi.log10().ceil() as i32);
    let mantissas: &[f64] = match last - first {
        0..=1 => &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0],
        2..=3 => &[1.0, 2.0, 5.0],
        _ => &[1.0],
    };
    let mut ticks = Vec::new();
    for decade in first..=last {
        for m in mantissas {
            let v = m * 10f64.powi(decade);
            if (lo..=hi).contains(&v) {
                ticks.push(v);
            }
        }
    }
    ticks
}

/// `0.5`, `2`, `4.25`: a tick value with at most 6 decimals and no trailing zeros.
fn tick_label(v: f64) -> String {
    let text = format!("{v:.6}");
    let text = text.trim_end_matches('0').trim_end_matches('.');
    if text == "-0" {
        "0".into()
    } else {
        text.into()
    }
}

/// `1e-3`, `2.5e-4`, `0`: tick labels for a learning rate.
fn short_scientific(v: f64) -> String {
    if v == 0.0 {
        return "0".into();
    }
    let text = format!("{v:.1e}");
    text.replace(".0e", "e")
}

fn finite(series: &[(f64, f64)]) -> impl Iterator<Item = (f64, f64)> + '_ {
    series
        .iter()
        .copied()
        .filter(|(x, y)| x.is_finite() && y.is_finite())
}

fn bounds(values: impl Iterator<Item = f64>) -> (f64, f64) {
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for v in values {
        lo = lo.min(v);
        hi = hi.max(v);
    }
    if !lo.is_finite() {
        return (0.0, 1.0);
    }
    (lo, hi)
}

/// `(lo, hi)` widened by `margin` of its span on both sides (and to a unit span when empty).
fn padded((lo, hi): (f64, f64), margin: f64) -> (f64, f64) {
    let span = hi - lo;
    if span.abs() < 1e-12 * lo.abs().max(1e-30) {
        let half = if lo == 0.0 { 0.5 } else { lo.abs() * 0.5 };
        return (lo - half, hi + half);
    }
    (lo - span * margin, hi + span * margin)
}

/// An 8-bit RGB raster (row-major, no padding) as a PNG with the best deflate compression.
fn encode_png(rgb: &[u8], width: u32, height: u32) -> std::io::Result<Vec<u8>> {
    let mut out = Vec::new();
    {
        let mut encoder = png::Encoder::new(&mut out, width, height);
        encoder.set_color(png::ColorType::Rgb);
        encoder.set_depth(png::BitDepth::Eight);
        encoder.set_compression(png::Compression::High);
        let mut writer = encoder.write_header().map_err(std::io::Error::other)?;
        writer
            .write_image_data(rgb)
            .map_err(std::io::Error::other)?;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_legend_stays_upper_right_over_a_falling_loss() {
        let falling: Vec<(f64, f64)> = (0..50)
            .map(|s| (f64::from(s), 3.0 / (1.0 + f64::from(s))))
            .collect();
        let corner = legend_corner(&[falling], (0.0, 49.0), (0.0, 3.0), false);
        assert!(matches!(corner, SeriesLabelPosition::UpperRight));
    }

    #[test]
    fn the_legend_moves_off_a_curve_that_ends_high_on_the_right() {
        let rising = [vec![(0.0, 1.0), (3.0, 1.2), (6.0, 2.9), (9.0, 3.0)]];
        let corner = legend_corner(&rising, (0.0, 9.0), (1.0, 3.0), false);
        assert!(!matches!(corner, SeriesLabelPosition::UpperRight));
        // on a log axis the same test runs on log10 of the losses
        let corner = legend_corner(&rising, (0.0, 9.0), (1.0, 3.0), true);
        assert!(!matches!(corner, SeriesLabelPosition::UpperRight));
    }
}
