//! `xlatrain train` and `xlatrain lower` as a user runs them: bad flags, config values and data
//! files exit with code 2 and a message naming the problem; a run writes metrics.jsonl with
//! Hugging Face log keys and loss_curve.png.

use std::process::{Command, Output};

fn xlatrain(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_xlatrain"))
        .args(args)
        .output()
        .expect("run xlatrain")
}

#[test]
fn bad_flags_config_values_and_data_exit_2_with_a_message_naming_the_problem() {
    let dir = tempfile::tempdir().unwrap();
    let bad_toml = dir.path().join("bad.toml");
    std::fs::write(&bad_toml, "learning_rate = \"fast\"\n").unwrap();
    let unknown_key = dir.path().join("unknown.toml");
    std::fs::write(&unknown_key, "learning_rat = 0.1\n").unwrap();
    let tiny = dir.path().join("tiny.txt");
    std::fs::write(&tiny, "abc").unwrap();
    let out = dir.path().join("out");
    let out = out.to_str().unwrap();
    let missing = dir.path().join("missing.txt");
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["--max-steps", "many"], "max_steps"),
        (vec!["--learning-rate", "-1"], "learning_rate"),
        (
            vec!["--lr-scheduler-type", "exponential"],
            "lr_scheduler_type",
        ),
        (vec!["--model", "resnet"], "model"),
        (
            vec!["--gradient-accumulation-steps", "0"],
            "gradient_accumulation_steps",
        ),
        (vec!["--model", "gpt", "--n-heads", "3"], "n_heads"),
        (vec!["--model", "mlp", "--d-model", "64"], "d_model"),
        (
            vec!["--config", bad_toml.to_str().unwrap()],
            "learning_rate",
        ),
        (
            vec!["--config", unknown_key.to_str().unwrap()],
            "learning_rat",
        ),
        (
            vec!["--config", "/nonexistent/run.toml"],
            "/nonexistent/run.toml",
        ),
        (
            vec!["--model", "gpt", "--data", missing.to_str().unwrap()],
            "missing.txt",
        ),
        (
            vec!["--model", "gpt", "--data", tiny.to_str().unwrap()],
            "tiny.txt",
        ),
        (vec!["--no-such-flag", "1"], "--no-such-flag"),
        (vec!["--set", "save_steps"], "save_steps"),
    ];
    for (flags, needle) in cases {
        let mut argv = vec!["train", "--output-dir", out];
        argv.extend(&flags);
        let output = xlatrain(&argv);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{flags:?}: {stderr}");
        assert!(
            stderr.contains(needle),
            "{flags:?}: message should name {needle}: {stderr}"
        );
        assert!(!stderr.contains("panicked"), "{flags:?}: {stderr}");
    }
}

#[test]
fn train_writes_metrics_jsonl_with_hf_keys_and_a_loss_curve_png() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let output = xlatrain(&[
        "train",
        "--model",
        "mlp",
        "--layers",
        "[784,32,10]",
        "--max-steps",
        "20",
        "--logging-steps",
        "5",
        "--eval-strategy",
        "steps",
        "--eval-steps",
        "10",
        "--lr-scheduler-type",
        "linear",
        "--warmup-steps",
        "4",
        "--output-dir",
        out.to_str().unwrap(),
    ]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("done: 20 steps"), "{stdout}");
    let text = std::fs::read_to_string(out.join("metrics.jsonl")).unwrap();
    let events: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let train: Vec<&serde_json::Value> =
        events.iter().filter(|e| e.get("loss").is_some()).collect();
    assert_eq!(
        train
            .iter()
            .map(|e| e["step"].as_u64().unwrap())
            .collect::<Vec<_>>(),
        [5, 10, 15, 20]
    );
    for e in &train {
        for key in ["learning_rate", "grad_norm", "samples_per_second"] {
            assert!(e[key].is_number(), "{key} missing in {e}");
        }
        // the synthetic data is an endless stream: no epoch to report
        assert!(e.get("epoch").is_none(), "{e}");
    }
    // linear decay after 4 warm-up steps: lr of the update at step index 19 is 1e-3 * 1/16
    let last_lr = train[3]["learning_rate"].as_f64().unwrap();
    assert!((last_lr - 1e-3 / 16.0).abs() < 1e-9, "{last_lr}");
    let evals: Vec<&serde_json::Value> = events
        .iter()
        .filter(|e| e.get("eval_loss").is_some())
        .collect();
    assert_eq!(evals.len(), 2, "{text}");
    assert!(evals[0]["eval_accuracy"].is_number(), "{text}");
    let png = std::fs::read(out.join("loss_curve.png")).unwrap();
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"));
    assert!(png.windows(4).any(|w| w == b"IEND"));
    let svg = std::fs::read_to_string(out.join("loss_curve.svg")).unwrap();
    assert!(svg.contains("MLP 784-32-10"), "the title names the model");
}

#[test]
fn lower_prints_the_train_step_program_with_donated_state() {
    let output = xlatrain(&["lower", "--model", "mlp", "--layers", "[8,4,2]"]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(text.contains("module @train_step_mlp"), "{text}");
    assert!(
        text.contains("func.func public @main") || text.contains("func.func @main"),
        "{text}"
    );
    // 4 params + 8 Adam slots + step + rng_key, each donated into its own result
    assert_eq!(text.matches("tf.aliasing_output").count(), 14, "{text}");
    assert!(text.contains("%exp_avg_sq.fc1.b"), "{text}");
}
