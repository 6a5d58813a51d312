//! Shared helpers for the PJRT integration tests: fixture loading and deterministic inputs.
#![allow(dead_code)]

use std::path::PathBuf;

/// The text of `hlo/<name>.mlir`.
pub fn fixture(name: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("hlo")
        .join(format!("{name}.mlir"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

/// `n` distinct, exactly representable values in [-4, 4).
pub fn values(n: usize, seed: u32) -> Vec<f32> {
    (0..n)
        .map(|i| (((i as u32).wrapping_mul(7).wrapping_add(seed * 13)) % 32) as f32 * 0.25 - 4.0)
        .collect()
}

/// The default CPU client; a missing plugin is a test failure, never a skip.
pub fn cpu() -> xlatrain::pjrt::Client {
    xlatrain::pjrt::Client::cpu()
        .unwrap_or_else(|e| panic!("the CPU PJRT plugin must be available: {e}"))
}
pub mod python;

/// A deterministic next-token batch of `b` rows of `t` tokens below `vocab`: `(x, y)` with `y`
/// the row shifted by one, row-major.
pub fn next_token_batch(b: usize, t: usize, vocab: usize) -> (Vec<i32>, Vec<i32>) {
    let tokens: Vec<i32> = (0..b * (t + 1))
        .map(|i| ((i * 37 + 11) % vocab) as i32)
        .collect();
    let (mut x, mut y) = (Vec::new(), Vec::new());
    for row in tokens.chunks(t + 1) {
        x.extend_from_slice(&row[..t]);
        y.extend_from_slice(&row[1..]);
    }
    (x, y)
}
