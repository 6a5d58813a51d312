//! `--save-on-busy`: an async save that falls due while the previous one is still being written
//! waits for it by default (and the log says how long training waited), or with `skip` is
//! skipped (and the log says so). The writer is kept busy by an `--on-save` command that sleeps:
//! it runs on the writer thread after each commit.

use std::path::Path;
use std::process::{Command, Output};

const MLP: [&str; 4] = ["--model", "mlp", "--layers", "[64,32,10]"];

fn train(dir: &Path, extra: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_xlatrain"))
        .arg("train")
        .args(MLP)
        .args(["--output-dir", dir.to_str().unwrap()])
        .args([
            "--max-steps",
            "6",
            "--save-steps",
            "1",
            "--on-save",
            "sleep 0.4",
        ])
        .args(extra)
        .output()
        .expect("run xlatrain")
}

fn saved_steps(dir: &Path) -> Vec<u64> {
    let mut steps: Vec<u64> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| {
            e.unwrap()
                .file_name()
                .to_str()?
                .strip_prefix("checkpoint-")?
                .parse()
                .ok()
        })
        .collect();
    steps.sort();
    steps
}

#[test]
fn a_save_due_while_the_previous_is_written_waits_by_default_and_says_so() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("wait");
    let output = train(&dir, &[]);
    let log = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{log}");
    assert!(
        log.contains("training waited") && log.contains("--save-on-busy wait"),
        "{log}"
    );
    assert_eq!(saved_steps(&dir), vec![1, 2, 3, 4, 5, 6], "{log}");
}

#[test]
fn save_on_busy_skip_skips_saves_while_the_writer_is_busy_and_says_so() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("skip");
    let output = train(&dir, &["--save-on-busy", "skip"]);
    let log = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{log}");
    assert!(
        log.contains("skipping the save of step") && log.contains("(--save-on-busy skip)"),
        "{log}"
    );
    let steps = saved_steps(&dir);
    assert!(steps.len() < 6, "{steps:?}: {log}");
    assert_eq!(steps.first(), Some(&1), "{log}");
    // The final save is never skipped.
    assert_eq!(steps.last(), Some(&6), "{log}");
}

#[test]
fn an_unknown_busy_policy_is_a_usage_error() {
    let root = tempfile::tempdir().unwrap();
    let output = train(&root.path().join("bad"), &["--save-on-busy", "drop"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("save_on_busy"));
}
