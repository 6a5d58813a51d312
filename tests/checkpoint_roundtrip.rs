//! Saving then loading gives back every tensor byte for byte, in the HF layout, readable by an
//! independent reader; sharding follows the greedy rule; expected specs are enforced.

mod checkpoint_support;

use std::fs;

use checkpoint_support::*;
use serde_json::Value;
use xlatrain::checkpoint::*;
use xlatrain::Error;

#[test]
fn round_trip_preserves_every_dtype_including_rank0_and_empty() {
    let dir = tempfile::tempdir().unwrap();
    let mut fx = Fixture::new(1);
    let saved = save_checkpoint(dir.path(), &fx.contents(42), &SaveOptions::default()).unwrap();
    assert_eq!(saved.path, dir.path().join("checkpoint-42"));
    assert!(!saved.replaced);

    let ckpt = open_checkpoint(&saved.path, Verify::Full).unwrap();
    assert_eq!(ckpt.step(), 42);
    let specs = model_specs();
    let got: Vec<_> = ckpt.model.iter().collect();
    assert_eq!(got.len(), specs.len());
    for (i, ((spec, bytes), want)) in got.into_iter().zip(&specs).enumerate() {
        assert_eq!(spec, want, "declaration order kept");
        assert_eq!(bytes, fx.model.bytes(i).unwrap(), "bytes of {}", want.name);
    }
    let opt = ckpt.optimizer.as_ref().expect("optimizer saved");
    for (i, (spec, bytes)) in opt.iter().enumerate() {
        assert_eq!(spec, &optimizer_specs()[i]);
        assert_eq!(bytes, fx.optimizer.bytes(i).unwrap());
    }
    assert_eq!(
        ckpt.model.get("scale").unwrap().1.len(),
        8,
        "rank-0 F64 is one element"
    );
    assert!(ckpt.model.get("empty").unwrap().1.is_empty());
    assert_eq!(ckpt.trainer_state, fx.state);
    assert_eq!(ckpt.training_args, fx.args);
    assert_eq!(ckpt.config, fx.config);
}

#[test]
fn single_shard_layout_matches_hf_names_and_parses_independently() {
    let dir = tempfile::tempdir().unwrap();
    let mut fx = Fixture::new(2);
    let saved = save_checkpoint(dir.path(), &fx.contents(7), &SaveOptions::default()).unwrap();
    let mut names: Vec<String> = fs::read_dir(&saved.path)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "checkpoint_manifest.json",
            "config.json",
            "model.safetensors",
            "optimizer.safetensors",
            "trainer_state.json",
            "training_args.json"
        ]
    );
    let (tensors, metadata) = minimal_read(&saved.path.join("model.safetensors"));
    assert_eq!(
        metadata.get("format").map(String::as_str),
        Some("pt"),
        "HF from_pretrained needs format=pt"
    );
    for (i, spec) in model_specs().iter().enumerate() {
        let raw = &tensors[&spec.name];
        assert_eq!(raw.dtype, spec.dtype.safetensors_name());
        assert_eq!(raw.shape, spec.shape);
        assert_eq!(raw.bytes, fx.model.bytes(i).unwrap());
    }
    let state: Value =
        serde_json::from_slice(&fs::read(saved.path.join("trainer_state.json")).unwrap()).unwrap();
    for field in [
        "global_step",
        "epoch",
        "max_steps",
        "logging_steps",
        "eval_steps",
        "save_steps",
        "train_batch_size",
        "num_train_epochs",
        "num_input_tokens_seen",
        "total_flos",
        "log_history",
        "best_metric",
        "best_global_step",
        "best_model_checkpoint",
        "stateful_callbacks",
    ] {
        assert!(
            state.get(field).is_some(),
            "trainer_state.json has HF field {field}"
        );
    }
    assert_eq!(state["global_step"], 7);
    assert_eq!(state["xlatrain"]["data_cursor"]["offset"], 4096);
}

#[test]
fn small_max_shard_size_gives_greedy_shards_and_hf_index() {
    let dir = tempfile::tempdir().unwrap();
    // 512-byte embedding and optimizer moments are larger than the 300-byte limit.
    let mut fx = Fixture::new(3);
    let saved = save_checkpoint(dir.path(), &fx.contents(5), &small_shards(300)).unwrap();

    let index: Value =
        serde_json::from_slice(&fs::read(saved.path.join("model.safetensors.index.json")).unwrap())
            .unwrap();
    let weight_map = index["weight_map"].as_object().unwrap();
    let specs = model_specs();
    assert_eq!(weight_map.len(), specs.len());
    let shard_of = |name: &str| weight_map[name].as_str().unwrap().to_string();
    // Greedy in declaration order: wte (512 B) alone, ln_1 (16 B) starts the next shard, the
    // 384-byte c_attn does not fit with it and gets its own, the small rest shares one.
    let wte = shard_of("transformer.wte.weight");
    let ln = shard_of("transformer.h.0.ln_1.weight");
    let attn = shard_of("transformer.h.0.attn.c_attn.weight");
    let rest = shard_of("scale");
    assert_eq!(wte, "model-00001-of-00004.safetensors");
    assert_eq!(ln, "model-00002-of-00004.safetensors");
    assert_eq!(attn, "model-00003-of-00004.safetensors");
    assert_eq!(rest, "model-00004-of-00004.safetensors");
    for spec in &specs[4..] {
        assert_eq!(shard_of(&spec.name), rest);
    }

    let mut total = 0u64;
    let mut seen = 0;
    for shard in ["00001", "00002", "00003", "00004"] {
        let file = saved
            .path
            .join(format!("model-{shard}-of-00004.safetensors"));
        let (tensors, _) = minimal_read(&file);
        for (name, raw) in &tensors {
            assert_eq!(shard_of(name), file.file_name().unwrap().to_str().unwrap());
            let i = specs.iter().position(|s| &s.name == name).unwrap();
            assert_eq!(raw.bytes, fx.model.bytes(i).unwrap());
            total += raw.bytes.len() as u64;
            seen += 1;
        }
    }
    assert_eq!(seen, specs.len());
    assert_eq!(index["metadata"]["total_size"].as_u64().unwrap(), total);
    assert!(saved.path.join("optimizer.safetensors.index.json").exists());
    assert!(!saved.path.join("model.safetensors").exists());

    let ckpt = open_checkpoint(&saved.path, Verify::Full).unwrap();
    let names: Vec<&str> = ckpt.model.specs().map(|s| s.name.as_str()).collect();
    let want: Vec<&str> = specs.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, want, "shards read back in declaration order");
}

#[test]
fn expected_specs_mismatch_names_tensor_expected_and_found() {
    let dir = tempfile::tempdir().unwrap();
    let mut fx = Fixture::new(4);
    let saved = save_checkpoint(dir.path(), &fx.contents(1), &SaveOptions::default()).unwrap();
    let ckpt = open_checkpoint(&saved.path, Verify::Full).unwrap();

    let ok = ckpt.model.matching(&saved.path, &model_specs()).unwrap();
    assert_eq!(ok[0], fx.model.bytes(0).unwrap());

    let mut wrong_dtype = model_specs();
    wrong_dtype[1].dtype = DType::F32;
    match ckpt.model.matching(&saved.path, &wrong_dtype) {
        Err(Error::TensorSpecMismatch {
            tensor,
            expected,
            found,
            ..
        }) => {
            assert_eq!(tensor, "transformer.h.0.ln_1.weight");
            assert_eq!(expected, "F32[8]");
            assert_eq!(found, "BF16[8]");
        }
        other => panic!("expected TensorSpecMismatch, got {:?}", other.err()),
    }
    let mut wrong_shape = model_specs();
    wrong_shape[0].shape = vec![8, 16];
    match ckpt.model.matching(&saved.path, &wrong_shape) {
        Err(Error::TensorSpecMismatch {
            tensor,
            expected,
            found,
            ..
        }) => {
            assert_eq!(tensor, "transformer.wte.weight");
            assert_eq!(
                (expected.as_str(), found.as_str()),
                ("F32[8, 16]", "F32[16, 8]")
            );
        }
        other => panic!("expected TensorSpecMismatch, got {:?}", other.err()),
    }
    let mut missing = model_specs();
    missing.push(TensorSpec::new("lm_head.weight", DType::F32, [2]));
    assert!(matches!(
        ckpt.model.matching(&saved.path, &missing),
        Err(Error::TensorSpecMismatch { tensor, .. }) if tensor == "lm_head.weight"
    ));
    let mut fewer = model_specs();
    fewer.retain(|s| s.name != "mask");
    assert!(matches!(
        ckpt.model.matching(&saved.path, &fewer),
        Err(Error::TensorSpecMismatch { tensor, .. }) if tensor == "mask"
    ));
}

#[test]
fn resaving_a_step_replaces_it_completely() {
    let dir = tempfile::tempdir().unwrap();
    let mut first = Fixture::new(5);
    save_checkpoint(dir.path(), &first.contents(9), &small_shards(300)).unwrap();
    let mut second = Fixture::new(6);
    let saved = save_checkpoint(dir.path(), &second.contents(9), &SaveOptions::default()).unwrap();
    assert!(saved.replaced);
    let ckpt = open_checkpoint(&saved.path, Verify::Full).unwrap();
    assert_eq!(
        ckpt.model.tensor(0).unwrap().1,
        second.model.bytes(0).unwrap()
    );
    assert!(
        !saved.path.join("model.safetensors.index.json").exists(),
        "no file of the old save left"
    );
    let leftovers: Vec<_> = fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(leftovers, ["checkpoint-9"]);
}

#[test]
fn a_source_that_fails_leaves_nothing_behind() {
    struct Failing(Vec<TensorSpec>);
    impl TensorSource for Failing {
        fn specs(&self) -> &[TensorSpec] {
            &self.0
        }
        fn copy_tensor(&self, _: usize, _: &mut [u8]) -> xlatrain::Result<()> {
            Err(Error::InvalidTensor {
                tensor: "w".into(),
                reason: "device lost".into(),
            })
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let fx = Fixture::new(7);
    let source = Failing(vec![TensorSpec::new("w", DType::F32, [4])]);
    let contents = CheckpointContents {
        step: 3,
        model: &source,
        optimizer: None,
        trainer_state: &fx.state,
        training_args: &fx.args,
        config: &fx.config,
    };
    let err = save_checkpoint(dir.path(), &contents, &SaveOptions::default()).unwrap_err();
    assert!(matches!(err, Error::InvalidTensor { .. }));
    assert_eq!(
        fs::read_dir(dir.path()).unwrap().count(),
        0,
        "staging directory removed"
    );
}

/// Writes a sharded checkpoint for `scripts/check_safetensors.py` (the reference Python reader):
/// into `$XLATRAIN_CHECKPOINT_FIXTURE_DIR` if set, else `target/tmp/checkpoint-fixture`.
#[test]
fn writes_fixture_for_reference_python_reader() {
    let output_dir = std::env::var_os("XLATRAIN_CHECKPOINT_FIXTURE_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| {
            std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("checkpoint-fixture")
        });
    let mut fx = Fixture::new(8);
    let saved = save_checkpoint(&output_dir, &fx.contents(11), &small_shards(300)).unwrap();
    verify(&saved.path).unwrap();
}
