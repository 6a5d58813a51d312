//! Save and resume through `xlatrain train`, as a user (or a job scheduler) drives it: SIGTERM
//! mid-run ends with a checkpoint and exit 0, and resuming from it matches an uninterrupted run
//! bit for bit; a corrupt newest checkpoint is reported and the previous one used; a checkpoint
//! of another architecture is refused with the differences; a model-only checkpoint warns.

mod cli_support;

use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Command, Stdio};

use cli_support::{stderr, train, xlatrain, MLP};

use xlatrain::checkpoint::{open_checkpoint, verify, Verify};

fn assert_same_tensors(a: &Path, b: &Path) {
    let a = open_checkpoint(a, Verify::Full).unwrap();
    let b = open_checkpoint(b, Verify::Full).unwrap();
    let sets = [
        (&a.model, &b.model),
        (a.optimizer.as_ref().unwrap(), b.optimizer.as_ref().unwrap()),
    ];
    for (x, y) in sets {
        assert_eq!(x.len(), y.len());
        for ((sx, bx), (sy, by)) in x.iter().zip(y.iter()) {
            assert_eq!(sx, sy);
            assert!(bx == by, "tensor {} differs", sx.name);
        }
    }
}

#[test]
fn sigterm_saves_and_exits_0_and_the_resumed_run_matches_an_uninterrupted_one() {
    let root = tempfile::tempdir().unwrap();
    let total = "3000";
    let interrupted = root.path().join("interrupted");
    let mut child = Command::new(env!("CARGO_BIN_EXE_xlatrain"))
        .arg("train")
        .args(MLP)
        .args(["--output-dir", interrupted.to_str().unwrap()])
        .args([
            "--max-steps",
            total,
            "--save-steps",
            "50",
            "--logging-steps",
            "10",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let mut seen = String::new();
    for line in lines.by_ref() {
        let line = line.unwrap();
        seen.push_str(&line);
        seen.push('\n');
        if line.starts_with("saved ") {
            break;
        }
    }
    assert!(seen.contains("checkpoint-50"), "{seen}");
    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let mut rest = String::new();
    for line in lines {
        rest.push_str(&line.unwrap());
        rest.push('\n');
    }
    let status = child.wait().unwrap();
    assert_eq!(
        status.code(),
        Some(0),
        "clean exit after SIGTERM:\n{seen}{rest}"
    );
    let stopped_at: u64 = rest
        .split("stopped by SIGTERM after step ")
        .nth(1)
        .and_then(|s| s.split(|c: char| !c.is_ascii_digit()).next())
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no stop message:\n{rest}"));
    assert!((50..3000).contains(&stopped_at), "{rest}");
    let last = interrupted.join(format!("checkpoint-{stopped_at}"));
    verify(&last).unwrap();

    let resumed = train(
        &interrupted,
        &[
            "--max-steps",
            total,
            "--save-steps",
            "1000",
            "--resume-from-checkpoint",
        ],
    );
    let text = stderr(&resumed);
    assert!(resumed.status.success(), "{text}");
    assert!(
        text.contains(&format!("resumed from {}", last.display())),
        "{text}"
    );

    let straight = root.path().join("straight");
    let output = train(&straight, &["--max-steps", total, "--save-steps", "1000"]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert_same_tensors(
        &interrupted.join("checkpoint-3000"),
        &straight.join("checkpoint-3000"),
    );
}

#[test]
fn a_corrupt_newest_checkpoint_is_reported_and_the_previous_one_used() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("run");
    // Written in the loop (--no-async-save) this time: the synchronous path through the trainer.
    let output = train(
        &dir,
        &["--max-steps", "30", "--save-steps", "10", "--no-async-save"],
    );
    assert!(output.status.success(), "{}", stderr(&output));
    // Flip the last byte of a tensor of the newest checkpoint: only its checksum notices.
    let shard = dir.join("checkpoint-30/optimizer.safetensors");
    let mut bytes = std::fs::read(&shard).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0x10;
    std::fs::write(&shard, bytes).unwrap();

    let output = train(
        &dir,
        &[
            "--max-steps",
            "40",
            "--save-steps",
            "10",
            "--resume-from-checkpoint",
        ],
    );
    let text = stderr(&output);
    assert!(output.status.success(), "{text}");
    assert!(
        text.contains(&format!(
            "checkpoint {} is invalid",
            dir.join("checkpoint-30").display()
        )) && text.contains("checksum mismatch"),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "resumed from {} (step 20)",
            dir.join("checkpoint-20").display()
        )),
        "{text}"
    );
}

#[test]
fn a_checkpoint_of_another_architecture_is_refused_with_the_differences() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("run");
    let output = train(&dir, &["--max-steps", "3", "--save-steps", "3"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let mut child = Command::new(env!("CARGO_BIN_EXE_xlatrain"))
        .args(["train", "--model", "mlp", "--layers", "[64,48,10]"])
        .args(["--output-dir", dir.to_str().unwrap(), "--max-steps", "6"])
        .arg("--resume-from-checkpoint")
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let mut text = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut text)
        .unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(1), "{text}");
    assert!(text.contains("another model architecture"), "{text}");
    assert!(
        text.contains("`layers` was [64, 32, 10], now [64, 48, 10]"),
        "{text}"
    );
    assert!(
        text.contains("parameter `fc0.w` was f32 [64, 32], now f32 [64, 48]"),
        "{text}"
    );
}

#[test]
fn resuming_a_model_only_checkpoint_says_it_is_not_exact() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("run");
    let output = train(
        &dir,
        &["--max-steps", "4", "--save-steps", "4", "--save-only-model"],
    );
    assert!(output.status.success(), "{}", stderr(&output));
    let saved = open_checkpoint(&dir.join("checkpoint-4"), Verify::Full).unwrap();
    assert!(saved.optimizer.is_none(), "no optimizer files");
    let output = train(
        &dir,
        &[
            "--max-steps",
            "6",
            "--save-only-model",
            "--resume-from-checkpoint",
        ],
    );
    let text = stderr(&output);
    assert!(output.status.success(), "{text}");
    assert!(
        text.contains("--save-only-model") && text.contains("not a bit-exact continuation"),
        "{text}"
    );
}

#[test]
fn save_interval_minutes_saves_by_time_even_without_a_strategy() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("run");
    // 0.001 minutes = 60 ms: a 3000-step run takes well over that.
    let output = train(
        &dir,
        &[
            "--max-steps",
            "3000",
            "--save-strategy",
            "no",
            "--save-interval-minutes",
            "0.001",
        ],
    );
    assert!(output.status.success(), "{}", stderr(&output));
    let steps: Vec<u64> = xlatrain::checkpoint::list_checkpoints(&dir, Verify::Full)
        .unwrap()
        .iter()
        .filter(|e| e.is_valid())
        .map(|e| e.step)
        .collect();
    assert!(steps.len() >= 2 && steps.last() == Some(&3000), "{steps:?}");
}

#[test]
fn epoch_saves_on_a_data_file_resume_bit_exactly() {
    let root = tempfile::tempdir().unwrap();
    let corpus = root.path().join("corpus.txt");
    let words = ["alpha", "beta", "gamma", "delta"];
    let text: Vec<&str> = (0..6000usize).map(|i| words[(i * 7 + i / 5) % 4]).collect();
    std::fs::write(&corpus, text.join(" ")).unwrap();
    let run = |dir: &Path, extra: &[&str]| {
        let mut args = vec![
            "train",
            "--model",
            "gpt",
            "--d-model",
            "32",
            "--n-layers",
            "1",
            "--n-heads",
            "2",
            "--d-ff",
            "64",
            "--seq-len",
            "32",
            "--per-device-train-batch-size",
            "8",
            "--num-train-epochs",
            "3",
            "--save-strategy",
            "epoch",
        ];
        args.extend([
            "--data",
            corpus.to_str().unwrap(),
            "--output-dir",
            dir.to_str().unwrap(),
        ]);
        args.extend(extra);
        let output = xlatrain(&args);
        assert!(output.status.success(), "{}", stderr(&output));
    };
    let straight = root.path().join("straight");
    run(&straight, &[]);
    let mut steps: Vec<u64> = xlatrain::checkpoint::list_checkpoints(&straight, Verify::Full)
        .unwrap()
        .iter()
        .map(|e| e.step)
        .collect();
    steps.sort();
    assert_eq!(steps.len(), 3, "one checkpoint per epoch: {steps:?}");
    assert!(
        steps[1] == 2 * steps[0] && steps[2] == 3 * steps[0],
        "{steps:?}"
    );
    let first = straight.join(format!("checkpoint-{}", steps[0]));
    let resumed = root.path().join("resumed");
    run(
        &resumed,
        &["--resume-from-checkpoint", first.to_str().unwrap()],
    );
    let last = format!("checkpoint-{}", steps[2]);
    assert_same_tensors(&straight.join(&last), &resumed.join(&last));
}

#[test]
fn resume_auto_starts_fresh_without_a_checkpoint_and_resumes_the_newest_valid_one_after() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("job");
    // One command for every start of a preemptible batch job.
    let job = |max_steps: &str| {
        train(
            &dir,
            &[
                "--max-steps",
                max_steps,
                "--save-steps",
                "10",
                "--resume-from-checkpoint",
                "auto",
            ],
        )
    };
    let first = job("20");
    let text = stderr(&first);
    assert!(first.status.success(), "{text}");
    assert!(
        text.contains("--resume-from-checkpoint auto:") && text.contains("starting a fresh run"),
        "{text}"
    );
    assert!(dir.join("checkpoint-20").is_dir());

    let second = job("30");
    let text = stderr(&second);
    assert!(second.status.success(), "{text}");
    assert!(
        text.contains(&format!(
            "resumed from {} (step 20)",
            dir.join("checkpoint-20").display()
        )),
        "{text}"
    );
    assert!(!text.contains("starting a fresh run"), "{text}");
    verify(&dir.join("checkpoint-30")).unwrap();
}

#[test]
fn the_bare_resume_flag_without_a_checkpoint_is_still_an_error() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("empty");
    std::fs::create_dir_all(&dir).unwrap();
    let output = train(&dir, &["--max-steps", "5", "--resume-from-checkpoint"]);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("no checkpoint-<step> directory"),
        "{}",
        stderr(&output)
    );
}
