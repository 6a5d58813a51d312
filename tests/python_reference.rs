//! The Python reference environment provisions from the pinned requirements and imports every
//! package the numerics tests rely on.

mod common;

use std::ffi::OsStr;

#[test]
fn reference_environment_has_every_reference_package_at_its_pinned_version() {
    let script = std::env::temp_dir().join(format!("xlatrain-pyref-{}.py", std::process::id()));
    std::fs::write(
        &script,
        r#"
import importlib.metadata as md, sys
import jax, flax, transformers, numpy, safetensors, gguf, tokenizers
from transformers import FlaxLlamaForCausalLM, FlaxGPT2LMHeadModel, FlaxBertForSequenceClassification
from tensorboard.backend.event_processing import event_accumulator
for name in sys.argv[1:]:
    print(name, md.version(name))
"#,
    )
    .unwrap();
    let names = [
        "jax",
        "jaxlib",
        "flax",
        "transformers",
        "numpy",
        "tensorboard",
    ];
    let args: Vec<&OsStr> = names.iter().map(OsStr::new).collect();
    let out = common::python::run_reference_script(&script, &args);
    std::fs::remove_file(&script).ok();
    let pinned = std::fs::read_to_string(common::python::requirements_file()).unwrap();
    for line in out.lines() {
        let (name, version) = line.split_once(' ').unwrap();
        assert!(
            pinned.contains(&format!("{name}=={version} ")),
            "{name} {version} is not the pinned version"
        );
    }
    assert_eq!(out.lines().count(), names.len());
}
