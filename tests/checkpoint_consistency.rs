//! "Valid" means loadable. Hostile checkpoints whose checksums are right (the manifest is
//! recomputed after each edit, as a tool that rewrites checkpoints would) but whose parts
//! disagree: a renamed tensor, a changed dtype, a `step` tensor unequal to `global_step`, a
//! `config.json` of another architecture, a `global_step` unequal to the manifest's step. Each
//! passes the parsers and fails the consistency checks: `verify` (and `checkpoints verify`)
//! reject it naming the disagreement, `checkpoints list` marks it INVALID, and auto-resume skips
//! it for the previous checkpoint and says why (also one whose fingerprint was blanked, which
//! `verify` accepts as a library checkpoint but the trainer does not resume).

mod cli_support;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use cli_support::{train, xlatrain};

use serde_json::Value;
use xlatrain::checkpoint::{parse_shard, verify, MANIFEST_FILE};
use xlatrain::Error;

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// A run with checkpoint-10 and checkpoint-20, trained once and copied for each case.
fn trained_run() -> &'static Path {
    static RUN: std::sync::OnceLock<(tempfile::TempDir, PathBuf)> = std::sync::OnceLock::new();
    &RUN.get_or_init(|| {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("run");
        let output = train(
            &dir,
            &["--max-steps", "20", "--save-steps", "10", "--no-async-save"],
        );
        assert!(output.status.success(), "{}", text(&output));
        (root, dir)
    })
    .1
}

fn copy_of_run() -> (tempfile::TempDir, PathBuf) {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("run");
    let status = Command::new("cp")
        .arg("-r")
        .arg(trained_run())
        .arg(&dir)
        .status()
        .unwrap();
    assert!(status.success());
    (root, dir)
}

/// Rewrites the manifest's size and xxh3 of every file, so that only consistency can tell.
fn recompute_manifest(checkpoint: &Path) {
    let path = checkpoint.join(MANIFEST_FILE);
    let mut manifest: Value = serde_json::from_slice(&fs::read(&path).unwrap()).unwrap();
    let files = manifest["files"].as_object_mut().unwrap();
    for (name, record) in files.iter_mut() {
        let bytes = fs::read(checkpoint.join(name)).unwrap();
        record["size"] = Value::from(bytes.len() as u64);
        record["xxh3"] = Value::from(format!("{:016x}", xxhash_rust::xxh3::xxh3_64(&bytes)));
    }
    fs::write(&path, serde_json::to_vec_pretty(&manifest).unwrap()).unwrap();
}

/// Replaces the first occurrence of `from` in `file` by `to` (same length).
fn replace_bytes(file: &Path, from: &[u8], to: &[u8]) {
    assert_eq!(from.len(), to.len());
    let mut bytes = fs::read(file).unwrap();
    let at = bytes
        .windows(from.len())
        .position(|w| w == from)
        .unwrap_or_else(|| panic!("{} holds no {:?}", file.display(), from));
    bytes[at..at + to.len()].copy_from_slice(to);
    fs::write(file, bytes).unwrap();
}

fn set_step_tensor(checkpoint: &Path, value: i32) {
    let path = checkpoint.join("optimizer.safetensors");
    let mut bytes = fs::read(&path).unwrap();
    let shard = parse_shard(&path, &bytes).unwrap();
    let (_, range) = shard
        .tensors
        .iter()
        .find(|(s, _)| s.name == "step")
        .unwrap();
    bytes[range.clone()].copy_from_slice(&value.to_le_bytes());
    fs::write(&path, bytes).unwrap();
}

/// A hostile edit: what it is, the edit of a checkpoint directory, and a phrase its rejection
/// must contain.
type HostileCase = (&'static str, fn(&Path), &'static str);

/// The hostile edits.
fn hostile_cases() -> Vec<HostileCase> {
    vec![
        (
            "renamed tensor",
            |c| replace_bytes(&c.join("model.safetensors"), b"\"fc0.w\"", b"\"fc9.w\""),
            "fc0.w",
        ),
        (
            "changed dtype",
            |c| {
                replace_bytes(
                    &c.join("model.safetensors"),
                    b"\"fc0.b\":{\"dtype\":\"F32\"",
                    b"\"fc0.b\":{\"dtype\":\"I32\"",
                )
            },
            "fc0.b",
        ),
        (
            "step tensor unequal to global_step",
            |c| set_step_tensor(c, 19),
            "the step tensor says 19",
        ),
        (
            "config.json of another architecture",
            |c| {
                let path = c.join("config.json");
                let mut config: Value = serde_json::from_slice(&fs::read(&path).unwrap()).unwrap();
                config["layers"] = serde_json::json!([64, 33, 10]);
                fs::write(&path, serde_json::to_vec_pretty(&config).unwrap()).unwrap();
            },
            "config.json describes architecture",
        ),
        (
            "global_step unequal to the manifest's step",
            |c| {
                replace_bytes(
                    &c.join("trainer_state.json"),
                    b"\"global_step\": 20",
                    b"\"global_step\": 21",
                )
            },
            "global_step 21",
        ),
    ]
}

#[test]
fn hostile_checkpoints_with_recomputed_checksums_fail_verify_naming_the_disagreement() {
    for (case, edit, phrase) in hostile_cases() {
        let (_root, dir) = copy_of_run();
        let checkpoint = dir.join("checkpoint-20");
        verify(&checkpoint).unwrap_or_else(|e| panic!("{case}: untouched copy invalid: {e}"));
        edit(&checkpoint);
        recompute_manifest(&checkpoint);
        let err = verify(&checkpoint).expect_err(case);
        assert!(
            matches!(
                err,
                Error::CheckpointInvalid { .. } | Error::TensorSpecMismatch { .. }
            ),
            "{case}: {err:?}"
        );
        assert!(err.to_string().contains(phrase), "{case}: {err}");
        assert_eq!(err.exit_code(), 1, "{case}");
    }
}

#[test]
fn checkpoints_verify_and_list_reject_a_step_tensor_unequal_to_global_step() {
    let (_root, dir) = copy_of_run();
    let checkpoint = dir.join("checkpoint-20");
    set_step_tensor(&checkpoint, 7);
    recompute_manifest(&checkpoint);
    let output = xlatrain(&["checkpoints", "verify", checkpoint.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
    assert!(
        text(&output).contains("the step tensor says 7"),
        "{}",
        text(&output)
    );
    let output = xlatrain(&["checkpoints", "list", dir.to_str().unwrap()]);
    let listing = text(&output);
    let line = listing
        .lines()
        .find(|l| l.contains("checkpoint-20"))
        .unwrap_or_else(|| panic!("{listing}"));
    assert!(line.contains("INVALID"), "{listing}");
    let line = listing
        .lines()
        .find(|l| l.contains("checkpoint-10"))
        .unwrap();
    assert!(
        line.contains("valid") && !line.contains("INVALID"),
        "{listing}"
    );
}

#[test]
fn auto_resume_skips_an_inconsistent_newest_checkpoint_and_says_why() {
    let mut cases = hostile_cases();
    let blank_fingerprint: HostileCase = (
        "no architecture fingerprint (a generic checkpoint to verify, not one to resume)",
        |c| {
            let path = c.join("trainer_state.json");
            let mut state: Value = serde_json::from_slice(&fs::read(&path).unwrap()).unwrap();
            state["xlatrain"]["architecture_fingerprint"] = Value::from("");
            fs::write(&path, serde_json::to_vec_pretty(&state).unwrap()).unwrap();
        },
        "records no xlatrain.architecture_fingerprint",
    );
    cases.push(blank_fingerprint);
    for (case, edit, phrase) in [&cases[0], &cases[2], &cases[5]] {
        let (_root, dir) = copy_of_run();
        let checkpoint = dir.join("checkpoint-20");
        edit(&checkpoint);
        recompute_manifest(&checkpoint);
        let output = train(
            &dir,
            &[
                "--max-steps",
                "25",
                "--save-steps",
                "10",
                "--resume-from-checkpoint",
            ],
        );
        let log = text(&output);
        assert!(output.status.success(), "{case}: {log}");
        assert!(
            log.contains(&format!("checkpoint {} is invalid", checkpoint.display()))
                && log.contains(phrase),
            "{case}: {log}"
        );
        assert!(
            log.contains(&format!(
                "resumed from {} (step 10)",
                dir.join("checkpoint-10").display()
            )),
            "{case}: {log}"
        );
    }
}
