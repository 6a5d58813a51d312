//! `--report-to tensorboard`: event files under `<output_dir>/runs/`, read back with the
//! `tensorboard` package's own event reader (scripts/read_tensorboard.py), hold a scalar for
//! every number of every log event in metrics.jsonl, are flushed at each log event (a live
//! TensorBoard sees the run while it trains), and come from the sharded loop too; `none` writes
//! no log files, and an unknown target is refused by name.

mod common;
mod report_support;
mod train_common;

use std::path::{Path, PathBuf};
use std::process::Command;

use report_support::{succeed, xlatrain};
use serde_json::Value;

/// The pinned Python reference environment, which has the `tensorboard` package.
fn python() -> Command {
    Command::new(common::python::reference_python())
}

/// `{"files", "file_version", "scalars": {tag: [[step, value], ...]}}` of the event files in
/// `logdir`, as the tensorboard package reads them.
fn read_events(logdir: &Path) -> Value {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/read_tensorboard.py");
    let out = python()
        .arg(&script)
        .arg(logdir)
        .output()
        .expect("run the reference Python with the tensorboard package");
    assert!(
        out.status.success(),
        "the tensorboard reader failed on {}: {}",
        logdir.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// The one run directory under `<output_dir>/runs/`.
fn run_dir(output_dir: &Path) -> PathBuf {
    let dirs: Vec<PathBuf> = std::fs::read_dir(output_dir.join("runs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(dirs.len(), 1, "{dirs:?}");
    dirs.into_iter().next().unwrap()
}

/// `(step, value)` of `tag`.
fn series(events: &Value, tag: &str) -> Vec<(u64, f64)> {
    events["scalars"][tag]
        .as_array()
        .unwrap_or_else(|| panic!("no scalars for {tag}: {events}"))
        .iter()
        .map(|p| (p[0].as_u64().unwrap(), p[1].as_f64().unwrap()))
        .collect()
}

/// HF's TensorBoard tag of a log key.
fn tag_of(key: &str) -> String {
    match key.strip_prefix("eval_") {
        Some(rest) => format!("eval/{rest}"),
        None => format!("train/{key}"),
    }
}

#[test]
fn tensorboard_holds_every_logged_number_of_a_run_as_its_own_reader_reads_it() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    succeed(&[
        "train",
        "--layers",
        "784,32,10",
        "--max-steps",
        "20",
        "--logging-steps",
        "5",
        "--eval-steps",
        "10",
        "--lr-scheduler-type",
        "linear",
        "--warmup-steps",
        "4",
        "--save-strategy",
        "no",
        "--report-to",
        "jsonl,tensorboard",
        "--output-dir",
        out.to_str().unwrap(),
    ]);
    let logdir = run_dir(&out);
    let host_part = logdir.file_name().unwrap().to_string_lossy().into_owned();
    let events = read_events(&logdir);
    let files = events["files"].as_array().unwrap();
    assert_eq!(files.len(), 1);
    let name = files[0].as_str().unwrap();
    let fields: Vec<&str> = name.split('.').collect();
    assert!(name.starts_with("events.out.tfevents."), "{name}");
    assert!(fields[3].parse::<u64>().is_ok(), "{name}: no time stamp");
    assert!(host_part.ends_with(fields[4]), "{name} vs {host_part}");
    assert_eq!(events["file_version"].as_f64(), Some(2.0), "brain.Event:2");

    let jsonl = std::fs::read_to_string(out.join("metrics.jsonl")).unwrap();
    let logged: Vec<Value> = jsonl
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let mut expected_count = std::collections::BTreeMap::<String, usize>::new();
    for event in &logged {
        let step = event["step"].as_u64().unwrap();
        for (key, value) in event.as_object().unwrap() {
            let Some(value) = value.as_f64() else {
                continue;
            };
            if key == "step" {
                continue;
            }
            let tag = tag_of(key);
            *expected_count.entry(tag.clone()).or_default() += 1;
            let at_step: Vec<f64> = series(&events, &tag)
                .into_iter()
                .filter(|&(s, _)| s == step)
                .map(|(_, v)| v)
                .collect();
            assert_eq!(at_step.len(), 1, "{tag} at step {step}: {at_step:?}");
            // TensorBoard stores scalars as f32
            let want = f64::from(value as f32);
            assert_eq!(at_step[0], want, "{tag} at step {step}");
        }
    }
    for tag in [
        "train/loss",
        "train/learning_rate",
        "train/grad_norm",
        "train/samples_per_second",
        "eval/loss",
        "eval/accuracy",
    ] {
        assert!(
            expected_count.contains_key(tag),
            "metrics.jsonl lacks {tag}"
        );
    }
    assert_eq!(series(&events, "train/loss").len(), 4);
    assert_eq!(series(&events, "eval/loss").len(), 2);
    let tags = events["scalars"].as_object().unwrap().len();
    assert_eq!(tags, expected_count.len(), "{events}");

    // The reader checks the TFRecord checksums: one flipped byte in the last record drops it
    // (so the files above passed a real check, not a lenient parse).
    let copy = dir.path().join("corrupted");
    std::fs::create_dir_all(&copy).unwrap();
    let mut bytes = std::fs::read(logdir.join(name)).unwrap();
    let at = bytes.len() - 10;
    bytes[at] ^= 1;
    std::fs::write(copy.join(name), bytes).unwrap();
    let damaged = read_events(&copy);
    assert!(
        damaged["scalars"].get("train/train_runtime").is_none(),
        "a corrupted record was read: {damaged}"
    );
    assert_eq!(series(&damaged, "train/loss").len(), 4);
}

#[test]
fn events_are_flushed_at_each_log_event_so_a_live_tensorboard_sees_the_run() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let logdir = dir.path().join("tb");
    let output_dir = format!("output_dir=\"{}\"", out.display());
    let logging_dir = format!("logging_dir=\"{}\"", logdir.display());
    let mut trainer = train_common::trainer(&[
        "model=\"mlp\"",
        "layers=[784,32,10]",
        "max_steps=8",
        "logging_steps=2",
        "save_strategy=\"no\"",
        "report_to=\"tensorboard\"",
        &output_dir,
        &logging_dir,
    ]);
    let mut seen = Vec::new();
    let mut hook = |t: &mut xlatrain::train::Trainer| -> xlatrain::Result<()> {
        let step = t.progress().global_step;
        if step == 4 || step == 6 {
            let steps: Vec<u64> = series(&read_events(&logdir), "train/loss")
                .into_iter()
                .map(|(s, _)| s)
                .collect();
            seen.push((step, steps));
        }
        Ok(())
    };
    trainer.run_loop(&mut hook).unwrap();
    assert_eq!(seen, [(4, vec![2, 4]), (6, vec![2, 4, 6])]);
    // tensorboard only: no metrics.jsonl
    assert!(!out.join("metrics.jsonl").exists());
    assert!(out.join("loss_curve.png").is_file());
}

#[test]
fn the_sharded_loop_reports_to_tensorboard_too() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("sharded");
    succeed(&[
        "--cpu-devices",
        "2",
        "train",
        "--layers",
        "64,32,10",
        "--per-device-train-batch-size",
        "8",
        "--max-steps",
        "4",
        "--logging-steps",
        "1",
        "--num-devices",
        "2",
        "--shard-state",
        "--save-strategy",
        "no",
        "--report-to",
        "tensorboard",
        "--output-dir",
        out.to_str().unwrap(),
    ]);
    let events = read_events(&run_dir(&out));
    let steps: Vec<u64> = series(&events, "train/loss")
        .into_iter()
        .map(|(s, _)| s)
        .collect();
    assert_eq!(steps, [1, 2, 3, 4]);
    assert_eq!(series(&events, "train/grad_norm").len(), 4);
    assert!(!out.join("metrics.jsonl").exists());
}

#[test]
fn report_to_none_writes_no_log_files_and_unknown_targets_are_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("quiet");
    succeed(&[
        "train",
        "--layers",
        "16,8,2",
        "--max-steps",
        "3",
        "--save-strategy",
        "no",
        "--report-to",
        "none",
        "--output-dir",
        out.to_str().unwrap(),
    ]);
    assert!(!out.join("metrics.jsonl").exists());
    assert!(!out.join("runs").exists());
    assert!(out.join("loss_curve.svg").is_file());

    let config = dir.path().join("bad.toml");
    std::fs::write(&config, "report_to = [\"jsonl\", \"wandb\"]\n").unwrap();
    for args in [
        vec!["train", "--report-to", "wandb"],
        vec!["train", "--set", "report_to=tensorbored"],
        vec!["train", "--config", config.to_str().unwrap()],
    ] {
        let failed = xlatrain(&args);
        let stderr = String::from_utf8_lossy(&failed.stderr);
        assert_eq!(failed.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains("report_to"), "{args:?}: {stderr}");
    }
}
