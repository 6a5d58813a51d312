//! The Python reference environment of the tests: transformers' Flax classes, jax, numpy,
//! safetensors, the tensorboard event reader, ggml's `gguf` reader and HF `tokenizers`, at the
//! exact versions and wheel sha256s of `tests/python/requirements.txt`.
//!
//! Numerics are checked against code we did not write, so the tests need those packages; a fresh
//! clone must get them from `cargo test` alone. The first test that asks builds a venv in the
//! per-user cache (`<cache>/python-reference-<hash of requirements.txt>/`) under an exclusive
//! file lock, with `pip install --require-hashes --no-deps --only-binary=:all:`, and marks it
//! complete last; later calls reuse it. A changed requirements file gets a new directory. With
//! `XLATRAIN_WHEEL_DIR` set, pip installs from that directory only (offline). Any failure is a
//! test failure with pip's output, never a skip.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use sha2::{Digest, Sha256};

/// The marker written once the venv is complete.
const COMPLETE_MARKER: &str = "xlatrain-complete";

/// The requirements file of the reference environment.
pub fn requirements_file() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/python/requirements.txt")
}

/// The interpreter of the reference environment, provisioned on first use.
pub fn reference_python() -> PathBuf {
    static PYTHON: OnceLock<PathBuf> = OnceLock::new();
    PYTHON
        .get_or_init(|| {
            provision().unwrap_or_else(|e| panic!("the Python reference environment: {e}"))
        })
        .clone()
}

/// `reference_python()` running `script` (a path under the repository's `scripts/` or an absolute
/// path) with `args`; panics with the script's stderr when it fails, returns its stdout.
pub fn run_reference_script(script: &Path, args: &[&std::ffi::OsStr]) -> String {
    let script = if script.is_absolute() {
        script.to_path_buf()
    } else {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(script)
    };
    let out = Command::new(reference_python())
        .arg(&script)
        .args(args)
        .env("JAX_PLATFORMS", "cpu")
        .env("TF_CPP_MIN_LOG_LEVEL", "3")
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", script.display()));
    assert!(
        out.status.success(),
        "{} failed ({}):\n{}",
        script.display(),
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("reference script output is UTF-8")
}

fn provision() -> Result<PathBuf, String> {
    let requirements = requirements_file();
    let text = std::fs::read(&requirements)
        .map_err(|e| format!("cannot read {}: {e}", requirements.display()))?;
    let digest = hex(&Sha256::digest(&text)[..8]);
    let root = xlatrain::pjrt::provision::cache_root().map_err(|e| e.to_string())?;
    let dir = root.join(format!("python-reference-{digest}"));
    let python = dir.join("bin").join("python");
    if dir.join(COMPLETE_MARKER).is_file() {
        return Ok(python);
    }
    std::fs::create_dir_all(&root).map_err(|e| format!("cannot create {}: {e}", root.display()))?;
    let lock_path = root.join(format!("python-reference-{digest}.lock"));
    let lock = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .map_err(|e| format!("cannot open {}: {e}", lock_path.display()))?;
    lock.lock()
        .map_err(|e| format!("cannot lock {}: {e}", lock_path.display()))?;
    // Another test process may have finished it while we waited.
    if dir.join(COMPLETE_MARKER).is_file() {
        return Ok(python);
    }
    if dir.exists() {
        std::fs::remove_dir_all(&dir)
            .map_err(|e| format!("cannot remove the incomplete {}: {e}", dir.display()))?;
    }
    run(Command::new("python3").args(["-m", "venv"]).arg(&dir))?;
    let mut pip = Command::new(&python);
    pip.args([
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
    ])
    .args(["--require-hashes", "--no-deps", "--only-binary=:all:", "-r"])
    .arg(&requirements);
    if let Some(wheels) = std::env::var_os("XLATRAIN_WHEEL_DIR").filter(|v| !v.is_empty()) {
        pip.arg("--no-index").arg("--find-links").arg(wheels);
    }
    run(&mut pip)?;
    File::create(dir.join(COMPLETE_MARKER))
        .map_err(|e| format!("cannot mark {} complete: {e}", dir.display()))?;
    Ok(python)
}

fn run(command: &mut Command) -> Result<(), String> {
    let out = command
        .output()
        .map_err(|e| format!("cannot start {command:?}: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{command:?} failed ({}):\n{}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
