//! The loss plot a person reads: a compressed 640x400 PNG (under 100 KB) whose title, axis
//! labels and tick values are drawn (ink in each label area, which the plot lines never reach),
//! and an SVG with the title, axis names, legend entries and tick values as text; the log-scale
//! option spaces the loss ticks by their logarithm; `xlatrain plot` redraws a run from its
//! metrics.jsonl.

mod report_support;

use xlatrain::train::plot::{LossCurves, HEIGHT, WIDTH};

/// A run's worth of series: a decaying train loss, a few eval points and a warm-up + cosine lr.
fn curves(log_scale: bool) -> LossCurves {
    let train_loss = (1..=60)
        .map(|s| (s as f64 * 5.0, 0.4 + 6.0 * (-(s as f64) / 12.0).exp()))
        .collect();
    let eval_loss = (1..=6)
        .map(|k| (k as f64 * 50.0, 0.6 + 5.0 * (-(k as f64) / 1.5).exp()))
        .collect();
    let learning_rate = (1..=60)
        .map(|s| {
            let step = s as f64 * 5.0;
            let lr = if step < 30.0 {
                3e-4 * step / 30.0
            } else {
                3e-4 * 0.5 * (1.0 + (std::f64::consts::PI * (step - 30.0) / 270.0).cos())
            };
            (step, lr)
        })
        .collect();
    LossCurves {
        title: "GPT (4 layers, d_model 256, vocab 256) \u{2014} run plot-test".into(),
        train_loss,
        eval_loss,
        learning_rate,
        log_scale,
    }
}

/// Pixels in `[x0, x1) x [y0, y1)` that are not the white background.
fn ink(rgb: &[u8], (x0, x1): (u32, u32), (y0, y1): (u32, u32)) -> usize {
    let mut count = 0;
    for y in y0..y1 {
        for x in x0..x1 {
            let i = ((y * WIDTH + x) * 3) as usize;
            if rgb[i..i + 3].iter().any(|&c| c < 200) {
                count += 1;
            }
        }
    }
    count
}

#[test]
fn the_png_is_compressed_decodes_and_has_its_title_axis_labels_and_ticks_drawn() {
    let png_bytes = curves(false).render_png().unwrap();
    // left for a person to look at (and for the README's picture)
    let fixture = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/tmp/plot-fixture");
    std::fs::create_dir_all(&fixture).unwrap();
    std::fs::write(fixture.join("loss_curve.png"), &png_bytes).unwrap();
    std::fs::write(
        fixture.join("loss_curve_log.png"),
        curves(true).render_png().unwrap(),
    )
    .unwrap();
    assert!(
        png_bytes.len() < 100_000,
        "loss_curve.png is {} bytes, over 100 KB",
        png_bytes.len()
    );
    let decoder = png::Decoder::new(std::io::Cursor::new(&png_bytes));
    let mut reader = decoder.read_info().unwrap();
    let mut rgb = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut rgb).unwrap();
    assert_eq!((info.width, info.height), (WIDTH, HEIGHT));
    assert_eq!(info.color_type, png::ColorType::Rgb);
    // The plot area spans about x 70..560, y 35..350; each box below lies outside it, where
    // only text is drawn. Empty boxes mean the text (or its font) is missing.
    let areas = [
        ("title", (150, 490), (2, 30)),
        ("x tick values", (80, 560), (352, 372)),
        ("x axis name", (280, 360), (374, 400)),
        ("y tick values", (18, 62), (40, 345)),
        ("y axis name", (0, 18), (150, 250)),
        ("lr tick values", (566, 612), (40, 345)),
        ("lr axis name", (616, 640), (120, 280)),
    ];
    for (what, xs, ys) in areas {
        let drawn = ink(&rgb, xs, ys);
        assert!(drawn > 40, "{what}: only {drawn} non-background pixels");
    }
    // and the margins outside every label stay background (the boxes are not just filled)
    assert_eq!(ink(&rgb, (0, 100), (0, 8)), 0, "top-left corner has ink");
}

/// `(value, y)` of the numeric labels of the left (loss) axis in an SVG from plotters.
fn left_axis_ticks(svg: &str) -> Vec<(f64, f64)> {
    let mut ticks = Vec::new();
    for element in svg.split("<text").skip(1) {
        let attr = |name: &str| -> Option<f64> {
            let start = element.find(&format!(" {name}=\""))? + name.len() + 3;
            let end = element[start..].find('"')? + start;
            element[start..end].parse().ok()
        };
        let (Some(x), Some(y)) = (attr("x"), attr("y")) else {
            continue;
        };
        let text = element
            .split('>')
            .nth(1)
            .and_then(|t| t.split('<').next())
            .unwrap_or("")
            .trim();
        if x < 70.0 && x > 20.0 {
            if let Ok(value) = text.parse::<f64>() {
                ticks.push((value, y));
            }
        }
    }
    ticks
}

#[test]
fn the_svg_carries_title_axes_legend_and_tick_values_as_text() {
    let svg = curves(false).render_svg().unwrap();
    for text in [
        "GPT (4 layers, d_model 256, vocab 256) \u{2014} run plot-test",
        ">\nstep\n<",
        ">\nloss\n<",
        ">\nlearning rate\n<",
        "train loss",
        "eval loss",
        "learning rate (right axis)",
        ">\n3e-4\n<",
    ] {
        assert!(svg.contains(text), "the SVG lacks {text:?}");
    }
    let ticks = left_axis_ticks(&svg);
    assert!(ticks.len() >= 4, "loss ticks: {ticks:?}");
    // linear axis: equal value steps are equal pixel steps
    let per_unit: Vec<f64> = ticks
        .windows(2)
        .map(|w| (w[0].1 - w[1].1) / (w[1].0 - w[0].0))
        .collect();
    for p in &per_unit {
        assert!(
            (p - per_unit[0]).abs() < 0.02 * per_unit[0].abs(),
            "{ticks:?}"
        );
    }
}

#[test]
fn the_log_scale_option_spaces_loss_ticks_by_their_logarithm() {
    let svg = curves(true).render_svg().unwrap();
    assert!(svg.contains("loss (log scale)"));
    let ticks = left_axis_ticks(&svg);
    assert!(ticks.len() >= 3, "loss ticks: {ticks:?}");
    let per_decade: Vec<f64> = ticks
        .windows(2)
        .map(|w| (w[0].1 - w[1].1) / (w[1].0.ln() - w[0].0.ln()))
        .collect();
    for p in &per_decade {
        assert!(
            (p - per_decade[0]).abs() < 0.05 * per_decade[0].abs(),
            "not log-spaced: {ticks:?}"
        );
    }
    // and the PNG of the log plot is as small
    assert!(curves(true).render_png().unwrap().len() < 100_000);
}

#[test]
fn xlatrain_plot_redraws_a_runs_curves_from_metrics_jsonl() {
    use report_support::{succeed, xlatrain};
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    let run_dir = run.to_str().unwrap();
    succeed(&[
        "train",
        "--layers",
        "64,16,10",
        "--max-steps",
        "12",
        "--logging-steps",
        "2",
        "--eval-steps",
        "4",
        "--save-strategy",
        "no",
        "--output-dir",
        run_dir,
    ]);
    let svg = std::fs::read_to_string(run.join("loss_curve.svg")).unwrap();
    assert!(svg.contains("MLP 64-16-10 \u{2014} run run"), "title");
    // a live run's half-written last line is left out, not an error
    let metrics = run.join("metrics.jsonl");
    let mut text = std::fs::read_to_string(&metrics).unwrap();
    text.push_str("{\"step\": 13, \"lo");
    std::fs::write(&metrics, &text).unwrap();
    let again = dir.path().join("again");
    let said = succeed(&[
        "plot",
        run_dir,
        "--plot-log-scale",
        "--out",
        again.to_str().unwrap(),
    ]);
    assert!(said.contains("(6 train, 3 eval points)"), "{said}");
    let svg = std::fs::read_to_string(again.join("loss_curve.svg")).unwrap();
    assert!(svg.contains("loss (log scale)") && svg.contains("MLP 64-16-10"));
    assert!(again.join("loss_curve.png").is_file());
    // a damaged line before the end is an input error naming the file and line
    std::fs::write(&metrics, format!("{{oops\n{text}")).unwrap();
    let failed = xlatrain(&["plot", run_dir]);
    let stderr = String::from_utf8_lossy(&failed.stderr);
    assert_eq!(failed.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("metrics.jsonl") && stderr.contains("line 1"),
        "{stderr}"
    );
}
