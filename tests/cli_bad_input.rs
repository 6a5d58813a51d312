//! Malformed `xlatrain train` input, as users mistype it: each flag value, config file, data file
//! and checkpoint path below exits with code 2 and a message naming the problem, without a panic
//! or a hang. tests/train_cli.rs covers the rest (non-numeric --max-steps, negative learning
//! rate, unknown scheduler and model, zero gradient accumulation, GPT-only and MLP-only keys, a
//! wrongly typed and an unknown TOML key, a missing config file, missing and too-small data
//! files, an unknown flag, `--set` without `=`).

use std::path::Path;
use std::process::{Command, Output};

/// Runs `xlatrain train <args>` under `timeout`, so a hang fails as exit code 124.
fn train(args: &[&str]) -> Output {
    Command::new("timeout")
        .arg("60")
        .arg(env!("CARGO_BIN_EXE_xlatrain"))
        .arg("train")
        .args(args)
        .output()
        .expect("run xlatrain")
}

fn write(path: &Path, text: &str) -> String {
    std::fs::write(path, text).unwrap();
    path.to_str().unwrap().to_string()
}

#[test]
fn malformed_flags_files_and_paths_exit_2_naming_the_problem() {
    let dir = tempfile::tempdir().unwrap();
    let at = |name: &str| dir.path().join(name).to_str().unwrap().to_string();
    let syntax = write(&dir.path().join("syntax.toml"), "max_steps = \n");
    let wrong_type = write(&dir.path().join("type.toml"), "layers = 5\n");
    let text_file = write(&dir.path().join("notes.txt"), "not a checkpoint\n");
    let not_checkpoint = at("not-a-checkpoint");
    std::fs::create_dir(&not_checkpoint).unwrap();
    std::fs::write(dir.path().join("not-a-checkpoint/model.bin"), b"x").unwrap();
    let data_dir = at("corpus-dir");
    std::fs::create_dir(&data_dir).unwrap();
    let fifo = at("corpus.fifo");
    let made = Command::new("mkfifo").arg(&fifo).status().unwrap();
    assert!(made.success());
    let empty_output = at("empty-run");
    std::fs::create_dir(&empty_output).unwrap();
    let nowhere = at("no-such-checkpoint");

    let gpt = ["--model", "gpt"];
    let cases: Vec<(Vec<&str>, &str)> = vec![
        // flags
        (vec!["--max-steps"], "--max-steps"),
        (vec!["--max-steps", "0"], "max_steps"),
        (vec!["--max-steps", "-5"], "max_steps"),
        (vec!["--max-steps", "99999999999999999999"], "max_steps"),
        (vec!["--learning-rate", "fast"], "learning_rate"),
        (vec!["--learning-rate", "nan"], "learning_rate"),
        (vec!["--max-shard-size", "5XB"], "max_shard_size"),
        (vec!["--max-shard-size", "0"], "max_shard_size"),
        (vec!["--save-strategy", "sometimes"], "save_strategy"),
        (vec!["--save-strategy", "epoch"], "save_strategy"),
        (vec!["--save-steps", "0"], "save_steps"),
        (vec!["--save-total-limit", "0"], "save_total_limit"),
        (
            vec!["--save-interval-minutes", "0"],
            "save_interval_minutes",
        ),
        (vec!["--eval-strategy", "maybe"], "eval_strategy"),
        (
            vec!["--per-device-train-batch-size", "0"],
            "per_device_train_batch_size",
        ),
        (
            vec!["--per-device-train-batch-size", "99999999999"],
            "per_device_train_batch_size",
        ),
        (
            vec!["--gradient-accumulation-steps", "99999999999"],
            "gradient_accumulation_steps",
        ),
        (
            vec![
                "--lr-scheduler-type",
                "linear",
                "--warmup-steps",
                "50",
                "--max-steps",
                "10",
            ],
            "warmup_steps",
        ),
        (
            vec!["--metric-for-best-model", "accuracy"],
            "metric_for_best_model",
        ),
        (vec!["--layers", "[784]"], "layers"),
        (vec!["--layers", "[784,,10]"], "layers"),
        (vec!["--data-format", "u8"], "data_format"),
        (vec!["--on-save", ""], "on_save"),
        (vec!["--set", "=3"], "not a setting name"),
        // config files
        (vec!["--config", &syntax], "syntax.toml"),
        (vec!["--config", &wrong_type], "layers"),
        (
            vec!["--config", dir.path().to_str().unwrap()],
            "cannot read config file",
        ),
        // data files
        (
            [&gpt[..], &["--data", &data_dir]].concat(),
            "is not a regular file",
        ),
        (
            [&gpt[..], &["--data", &fifo]].concat(),
            "is not a regular file",
        ),
        (vec!["--data", &text_file], "token corpora"),
        // checkpoint and output paths
        (vec!["--resume-from-checkpoint", &nowhere], "does not exist"),
        (
            vec!["--resume-from-checkpoint", &text_file],
            "is not a directory",
        ),
        (
            vec!["--resume-from-checkpoint", &not_checkpoint],
            "checkpoint_manifest.json",
        ),
        (
            vec!["--output-dir", &empty_output, "--resume-from-checkpoint"],
            "no checkpoint-<step> directory",
        ),
        (vec!["--output-dir", &text_file], "is not a directory"),
    ];
    let default_output = at("run");
    for (flags, needle) in cases {
        let mut argv: Vec<&str> = Vec::new();
        if !flags.contains(&"--output-dir") {
            argv.extend(["--output-dir", &default_output]);
        }
        argv.extend(&flags);
        let output = train(&argv);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{flags:?}: {stderr}");
        assert!(
            stderr.contains(needle),
            "{flags:?}: the message should name {needle:?}: {stderr}"
        );
        assert!(!stderr.contains("panicked"), "{flags:?}: {stderr}");
    }
}

#[test]
fn a_checkpoint_that_is_there_but_corrupt_is_a_data_error_not_a_usage_error() {
    // The usage checks on --resume-from-checkpoint look only at whether a checkpoint is there;
    // one that fails verification still exits 1 naming the bad file.
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let out = out.to_str().unwrap();
    let mlp = [
        "--model",
        "mlp",
        "--layers",
        "[16,8,4]",
        "--output-dir",
        out,
    ];
    let first = train(&[&mlp[..], &["--max-steps", "2", "--save-steps", "2"]].concat());
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    let checkpoint = dir.path().join("run/checkpoint-2");
    let shard = checkpoint.join("model.safetensors");
    let mut bytes = std::fs::read(&shard).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    std::fs::write(&shard, bytes).unwrap();
    let resumed = train(
        &[
            &mlp[..],
            &[
                "--max-steps",
                "4",
                "--resume-from-checkpoint",
                checkpoint.to_str().unwrap(),
            ],
        ]
        .concat(),
    );
    let stderr = String::from_utf8_lossy(&resumed.stderr);
    assert_eq!(resumed.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("checksum mismatch") && stderr.contains("model.safetensors"),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
}
