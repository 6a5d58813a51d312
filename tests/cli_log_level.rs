//! `-q`/`--quiet` and `-v`/`--verbose`: the global flags that set how much xlatrain says on
//! stderr. By default informational messages (a committed checkpoint), warnings and errors; `-q`
//! keeps warnings and errors, `-qq` only errors, `-v` adds debug messages (the plugin file,
//! executable-cache hits). Results on stdout are the same at every level.

mod cli_support;

use std::path::Path;
use std::process::Output;

use cli_support::{stderr, xlatrain};

/// A two-step MLP run that saves after each step and whose `--on-save` hook fails, so it logs
/// both an informational line per commit and a warning per hook. `level` goes after `train`
/// (the flags are global).
fn train(dir: &Path, level: &[&str]) -> Output {
    let mut extra = level.to_vec();
    extra.extend([
        "--max-steps",
        "2",
        "--save-steps",
        "1",
        "--on-save",
        "exit 3",
    ]);
    let out = cli_support::train(dir, &extra);
    assert!(out.status.success(), "{level:?}: {}", stderr(&out));
    assert!(
        dir.join("checkpoint-2").is_dir(),
        "{level:?}: {}",
        stderr(&out)
    );
    out
}

const COMMITTED: &str = "of tensors): durable after";
const HOOK_FAILED: &str = "warning: --on-save command for";

#[test]
fn by_default_a_run_says_what_it_saved_and_warns() {
    let root = tempfile::tempdir().unwrap();
    let log = stderr(&train(&root.path().join("run"), &[]));
    assert!(log.contains(COMMITTED), "{log}");
    assert!(log.contains(HOOK_FAILED), "{log}");
    assert!(!log.contains("debug: "), "{log}");
}

#[test]
fn quiet_keeps_warnings_and_drops_informational_messages() {
    let root = tempfile::tempdir().unwrap();
    let log = stderr(&train(&root.path().join("run"), &["-q"]));
    assert!(!log.contains(COMMITTED), "{log}");
    assert!(log.contains(HOOK_FAILED), "{log}");
}

#[test]
fn double_quiet_drops_warnings_too() {
    let root = tempfile::tempdir().unwrap();
    let log = stderr(&train(&root.path().join("run"), &["--quiet", "--quiet"]));
    assert!(!log.contains(COMMITTED), "{log}");
    assert!(!log.contains(HOOK_FAILED), "{log}");
}

#[test]
fn verbose_adds_debug_messages_and_leaves_stdout_alone() {
    let plain = xlatrain(&["devices"]);
    let verbose = xlatrain(&["-v", "devices"]);
    assert!(plain.status.success(), "{}", stderr(&plain));
    assert!(verbose.status.success(), "{}", stderr(&verbose));
    assert!(!stderr(&plain).contains("debug: "), "{}", stderr(&plain));
    assert!(
        stderr(&verbose).contains("debug: PJRT plugin "),
        "{}",
        stderr(&verbose)
    );
    assert_eq!(plain.stdout, verbose.stdout);
}

#[test]
fn quiet_and_verbose_together_are_a_usage_error() {
    let out = xlatrain(&["-q", "-v", "devices"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("--verbose"), "{}", stderr(&out));
}
