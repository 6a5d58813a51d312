//! `xlatrain train --shard-state` as a user runs it, on the real CPU plugin with 4 devices: the
//! sharded run follows a 1-device run at the same global batch, its checkpoints pass
//! `checkpoints verify`, a step-6 checkpoint resumes onto 2 sharded devices and onto 1 plain
//! device, every feature (eval, gradient accumulation, async saves, `best`,
//! `--load-best-model-at-end`, `--save-only-model`, interval saves, `--on-save`) works on a
//! sharded mesh as on one device, and `lower` prints the sharded program.

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

/// `(step, value)` of every line of metrics.jsonl that has `key`.
fn logged(output_dir: &Path, key: &str) -> Vec<(u64, f64)> {
    let text = std::fs::read_to_string(output_dir.join("metrics.jsonl")).unwrap();
    text.lines()
        .map(|line| serde_json::from_str::<Value>(line).unwrap())
        .filter_map(|e| Some((e.get("step")?.as_u64()?, e.get(key)?.as_f64()?)))
        .collect()
}

/// `(step, loss)` of every training log line in metrics.jsonl.
fn losses(output_dir: &Path) -> Vec<(u64, f64)> {
    logged(output_dir, "loss")
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

fn checkpoints(output_dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(output_dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("checkpoint-"))
        .collect();
    names.sort();
    names
}

#[test]
fn eval_accumulation_async_best_and_on_save_work_on_a_sharded_mesh_as_on_one_device() {
    let root = tempfile::tempdir().unwrap();
    let features = |dir: &Path, mesh: Option<&str>, per_device: &str| -> Output {
        let log = dir.with_extension("on_save.log");
        let on_save = format!("echo \"$1\" >> {}", log.display());
        let mut args = vec![
            "--cpu-devices",
            "4",
            "train",
            "--layers",
            "64,32,10",
            "--per-device-train-batch-size",
            per_device,
            "--gradient-accumulation-steps",
            "2",
            "--max-steps",
            "8",
            "--logging-steps",
            "1",
            "--eval-strategy",
            "steps",
            "--eval-steps",
            "2",
            "--save-strategy",
            "best",
            "--load-best-model-at-end",
            "--async-save",
            "--on-save",
            &on_save,
            "--output-dir",
            dir.to_str().unwrap(),
        ];
        if let Some(mesh) = mesh {
            args.extend(["--mesh", mesh]);
        }
        succeed(&args)
    };
    let single = root.path().join("single");
    features(&single, None, "16");
    for mesh in ["data=2,fsdp=2", "fsdp=4"] {
        let dir = root.path().join(mesh.replace([',', '='], "_"));
        let out = features(&dir, Some(mesh), "4");
        let what = format!("mesh {mesh}");
        assert_close(&losses(&dir), &losses(&single), &what);
        let (ours, theirs) = (logged(&dir, "eval_loss"), logged(&single, "eval_loss"));
        assert_eq!(ours.len(), 4, "{what}: an eval every 2 of 8 steps");
        assert_close(&ours, &theirs, &format!("{what}, eval_loss"));
        // the same best checkpoints, each announced to --on-save once it was committed
        assert_eq!(checkpoints(&dir), checkpoints(&single), "{what}");
        let announced = std::fs::read_to_string(dir.with_extension("on_save.log")).unwrap();
        for name in checkpoints(&dir) {
            assert!(announced.contains(&name), "{what}: --on-save missed {name}");
        }
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("loaded the best model"), "{what}: {stderr}");
        assert!(
            stderr.contains("state sharded over 4 devices"),
            "{what}: {stderr}"
        );
    }
}

#[test]
fn model_only_and_interval_saves_work_on_a_sharded_mesh_and_resume_onto_another() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("fsdp");
    let d = dir.to_str().unwrap();
    succeed(&[
        "--cpu-devices",
        "4",
        "train",
        "--layers",
        "64,32,10",
        "--per-device-train-batch-size",
        "4",
        "--max-steps",
        "3",
        "--mesh",
        "fsdp=4",
        "--save-strategy",
        "no",
        "--save-interval-minutes",
        "0.000001",
        "--save-only-model",
        "--no-async-save",
        "--output-dir",
        d,
    ]);
    // every step is past the interval: a checkpoint per step, parameters only
    assert_eq!(
        checkpoints(&dir),
        ["checkpoint-1", "checkpoint-2", "checkpoint-3"]
    );
    for name in checkpoints(&dir) {
        let files: Vec<String> = std::fs::read_dir(dir.join(&name))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert!(
            files.iter().any(|f| f.starts_with("model")),
            "{name}: {files:?}"
        );
        assert!(
            !files.iter().any(|f| f.starts_with("optimizer")),
            "{name}: {files:?}"
        );
    }
    // a model-only checkpoint resumes onto another mesh (optimizer from zero, said so)
    let again = root.path().join("again");
    let checkpoint = dir.join("checkpoint-2");
    let out = succeed(&[
        "--cpu-devices",
        "4",
        "train",
        "--layers",
        "64,32,10",
        "--per-device-train-batch-size",
        "8",
        "--max-steps",
        "4",
        "--mesh",
        "data=2",
        "--save-strategy",
        "no",
        "--logging-steps",
        "1",
        "--output-dir",
        again.to_str().unwrap(),
        "--resume-from-checkpoint",
        checkpoint.to_str().unwrap(),
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("--save-only-model"), "{stderr}");
    assert_eq!(
        losses(&again).iter().map(|(s, _)| *s).collect::<Vec<_>>(),
        [3, 4]
    );
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
    // data parallel: the state replicated, only the batch split
    let replicated = lowered(&[]);
    assert!(!replicated.contains("{devices=[4,1]0,1,2,3}"));
    assert!(replicated.contains("mhlo.sharding = \"{devices=[1,4,1]0,1,2,3}\""));
}
