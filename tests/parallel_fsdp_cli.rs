//! `xlatrain train --shard-state` as a user runs it, on the real CPU plugin with 4 devices: the
//! sharded run follows a 1-device run at the same global batch, its checkpoints pass
//! `checkpoints verify`, a step-6 checkpoint resumes onto 2 sharded devices and onto 1 plain
//! device, settings the sharded path does not support are refused with exit code 2, and `lower`
//! prints the sharded program.

use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;

fn xlatrain(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_xlatrain"))
        .args(args)
        .output()
        .expect("run xlatrain")
}

fn succeed(args: &[&str]) -> Output {
    let out = xlatrain(args);
    assert!(
        out.status.success(),
        "xlatrain {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// A 64-32-10 MLP, 12 steps, a loss logged every step and a checkpoint every 6.
fn run(output_dir: &Path, devices: usize, shard_state: bool, extra: &[&str]) -> Output {
    let global_batch = 16;
    let per_device = (global_batch / devices).to_string();
    let devices_flag = devices.to_string();
    let dir = output_dir.to_str().unwrap();
    let mut args = vec!["--cpu-devices", "4", "train"];
    args.extend([
        "--layers",
        "64,32,10",
        "--per-device-train-batch-size",
        &per_device,
        "--max-steps",
        "12",
        "--save-steps",
        "6",
        "--logging-steps",
        "1",
        "--output-dir",
        dir,
    ]);
    if devices > 1 {
        args.extend(["--num-devices", &devices_flag]);
    }
    if shard_state {
        args.push("--shard-state");
    }
    args.extend(extra);
    succeed(&args)
}

/// `(step, loss)` of every training log line in metrics.jsonl.
fn losses(output_dir: &Path) -> Vec<(u64, f64)> {
    let text = std::fs::read_to_string(output_dir.join("metrics.jsonl")).unwrap();
    text.lines()
        .map(|line| serde_json::from_str::<Value>(line).unwrap())
        .filter_map(|e| Some((e.get("step")?.as_u64()?, e.get("loss")?.as_f64()?)))
        .collect()
}

fn assert_close(got: &[(u64, f64)], want: &[(u64, f64)], what: &str) {
    assert_eq!(
        got.iter().map(|(s, _)| *s).collect::<Vec<_>>(),
        want.iter().map(|(s, _)| *s).collect::<Vec<_>>(),
        "{what}: logged steps"
    );
    for ((step, a), (_, b)) in got.iter().zip(want) {
        let relative = (a - b).abs() / b.abs().max(1e-12);
        assert!(relative <= 1e-5, "{what}, step {step}: {a} vs {b}");
    }
}

#[test]
fn a_sharded_cli_run_trains_like_one_device_and_its_checkpoints_resume_sharded_and_plain() {
    let root = tempfile::tempdir().unwrap();
    let single = root.path().join("single");
    run(&single, 1, false, &[]);
    let expected = losses(&single);
    assert_eq!(expected.len(), 12);

    let sharded = root.path().join("sharded");
    let out = run(&sharded, 4, true, &[]);
    let got = losses(&sharded);
    assert_close(&got, &expected, "4 devices, sharded");
    // the same log keys as the replicated trainer, and the final summary line
    let metrics = std::fs::read_to_string(sharded.join("metrics.jsonl")).unwrap();
    let first: Value = serde_json::from_str(metrics.lines().next().unwrap()).unwrap();
    for key in [
        "step",
        "loss",
        "learning_rate",
        "grad_norm",
        "samples_per_second",
    ] {
        assert!(first.get(key).is_some(), "metrics.jsonl lacks {key}");
    }
    assert!(first.get("epoch").is_none(), "a stream has no epoch");
    assert!(metrics.contains("\"train_runtime\""));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("sharded over 4 devices"), "{stderr}");
    assert!(sharded.join("loss_curve.png").is_file());
    assert!(sharded.join("loss_curve.svg").is_file());

    for step in [6, 12] {
        let checkpoint = sharded.join(format!("checkpoint-{step}"));
        let verify = xlatrain(&["checkpoints", "verify", checkpoint.to_str().unwrap()]);
        assert!(
            verify.status.success(),
            "verify checkpoint-{step}: {}",
            String::from_utf8_lossy(&verify.stdout)
        );
    }
    let checkpoint = sharded.join("checkpoint-6");
    let state: Value = serde_json::from_str(
        &std::fs::read_to_string(checkpoint.join("trainer_state.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(state["global_step"], 6);
    assert!(state["xlatrain"]["data_cursor"].is_object());
    let resume = ["--resume-from-checkpoint", checkpoint.to_str().unwrap()];

    // onto 2-way sharding: the steps after 6 follow the uninterrupted run
    let two = root.path().join("two");
    run(&two, 2, true, &resume);
    assert_close(&losses(&two), &got[6..], "resumed on 2 devices, sharded");
    assert!(two.join("checkpoint-12").is_dir());

    // onto one device, the plain trainer
    let one = root.path().join("one");
    run(&one, 1, false, &resume);
    assert_close(&losses(&one), &got[6..], "resumed on 1 device");

    // and a replicated checkpoint resumes into a sharded run
    let back = root.path().join("back");
    let plain_checkpoint = single.join("checkpoint-6");
    run(
        &back,
        4,
        true,
        &[
            "--resume-from-checkpoint",
            plain_checkpoint.to_str().unwrap(),
        ],
    );
    assert_close(&losses(&back), &expected[6..], "1 device -> 4 sharded");
}

#[test]
fn settings_a_sharded_run_does_not_support_exit_2_naming_the_flag() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let out = out.to_str().unwrap();
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["--eval-strategy", "steps"], "--eval-strategy"),
        (
            vec!["--gradient-accumulation-steps", "2"],
            "--gradient-accumulation-steps",
        ),
        (vec!["--async-save"], "--async-save"),
        // (refused by the config check already: it needs eval, which a sharded run refuses)
        (vec!["--load-best-model-at-end"], "load_best_model_at_end"),
        (
            vec!["--save-interval-minutes", "5"],
            "--save-interval-minutes",
        ),
        (vec!["--save-only-model"], "--save-only-model"),
        (vec!["--on-save", "true"], "--on-save"),
        (vec!["--num-devices", "1"], "--num-devices"),
    ];
    for (extra, named) in cases {
        let mut args = vec![
            "--cpu-devices",
            "4",
            "train",
            "--layers",
            "64,32,10",
            "--max-steps",
            "2",
            "--output-dir",
            out,
            "--shard-state",
        ];
        if !extra.contains(&"--num-devices") {
            args.extend(["--num-devices", "4"]);
        }
        args.extend(&extra);
        let result = xlatrain(&args);
        let stderr = String::from_utf8_lossy(&result.stderr);
        assert_eq!(result.status.code(), Some(2), "{extra:?}: {stderr}");
        assert!(stderr.contains(named), "{extra:?}: {stderr}");
    }
    // refused before anything ran: no checkpoint, no metrics
    assert!(!Path::new(out).join("metrics.jsonl").exists());
}

#[test]
fn lower_with_shard_state_prints_the_sharded_program() {
    let lowered = |extra: &[&str]| {
        let mut args = vec!["lower", "--layers", "64,32,10", "--num-devices", "4"];
        args.extend(extra);
        String::from_utf8(succeed(&args).stdout).unwrap()
    };
    let sharded = lowered(&["--shard-state"]);
    assert!(sharded.contains("mhlo.sharding = \"{devices=[4,1]0,1,2,3}\""));
    assert!(!lowered(&[]).contains("mhlo.sharding"));
}
