//! Golden StableHLO programs: the emitted text of reference graphs is compared byte for byte
//! with `hlo/golden/*.mlir`, so any change to the builder, autodiff or printer shows up as a
//! reviewable diff.
//!
//! To rewrite the golden files after an intended change:
//!
//!     XLATRAIN_BLESS=1 cargo test --test lower_golden
//!
//! and review `git diff hlo/golden`.

mod lower_reference;

use std::path::PathBuf;

use lower_reference::{block_grad_program, mlp_sgd_step, Program, GOLDEN_BLOCK, GOLDEN_MLP};
use xlatrain::graph::DType;
use xlatrain::lower::to_stablehlo;
use xlatrain::pjrt::{Client, CompileOptions};

fn golden_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("hlo/golden")
        .join(name)
}

fn check_golden(name: &str, program: &Program) {
    let text = to_stablehlo(&program.graph, &program.outputs, &program.options).unwrap();
    let again = to_stablehlo(&program.graph, &program.outputs, &program.options).unwrap();
    assert_eq!(
        text, again,
        "lowering the same graph twice must give the same bytes"
    );
    let path = golden_path(name);
    if std::env::var_os("XLATRAIN_BLESS").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, &text).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (bless with XLATRAIN_BLESS=1)", path.display()));
    if expected != text {
        let line = expected
            .lines()
            .zip(text.lines())
            .position(|(a, b)| a != b)
            .unwrap_or(expected.lines().count().min(text.lines().count()));
        panic!(
            "{} differs from the emitted program at line {} (rerun with XLATRAIN_BLESS=1 to accept)",
            path.display(),
            line + 1
        );
    }
}

#[test]
fn mlp_sgd_train_step_matches_its_golden_file() {
    let program = mlp_sgd_step(GOLDEN_MLP, 0.1, DType::F32).unwrap();
    check_golden("mlp_sgd_step.mlir", &program);
}

#[test]
fn transformer_block_forward_backward_matches_its_golden_file() {
    let program = block_grad_program(GOLDEN_BLOCK, DType::F32).unwrap();
    check_golden("transformer_block_grad.mlir", &program);
}

#[test]
fn rebuilding_a_graph_from_scratch_gives_identical_text() {
    let a = mlp_sgd_step(GOLDEN_MLP, 0.1, DType::F32).unwrap();
    let b = mlp_sgd_step(GOLDEN_MLP, 0.1, DType::F32).unwrap();
    let ta = to_stablehlo(&a.graph, &a.outputs, &a.options).unwrap();
    let tb = to_stablehlo(&b.graph, &b.outputs, &b.options).unwrap();
    assert_eq!(ta, tb);
}

#[test]
fn golden_programs_compile_on_the_cpu_plugin() {
    let client = Client::cpu().expect("the CPU PJRT plugin must be available");
    for name in ["mlp_sgd_step.mlir", "transformer_block_grad.mlir"] {
        let text = std::fs::read_to_string(golden_path(name)).unwrap();
        if let Err(e) = client.compile(&text, &CompileOptions::default()) {
            panic!("{name} was rejected by the plugin: {e}");
        }
    }
}
