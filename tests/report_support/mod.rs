//! Shared helpers of the report tests: running the xlatrain binary as a user does.
#![allow(dead_code)]

use std::process::{Command, Output};

pub fn xlatrain(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_xlatrain"))
        .args(args)
        .output()
        .expect("run xlatrain")
}

/// Runs xlatrain and fails the test (with its output) unless it succeeds; returns its stdout.
pub fn succeed(args: &[&str]) -> String {
    let out = xlatrain(args);
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "xlatrain {args:?}: {stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}
