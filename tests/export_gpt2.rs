//! A trained GPT's checkpoint exports as a Hugging Face GPT-2 directory holding exactly the
//! trained parameters. Leaves fixtures for the Python checks that CI runs after `cargo test`:
//! `target/tmp/trainer-checkpoint-fixture` (a trainer-written output directory, for
//! `scripts/check_safetensors.py`) and `target/tmp/gpt2-export-fixture/{export,batch.json}` (an
//! export plus the eval batches and the eval loss xlatrain computed with the same parameters, for
//! `scripts/check_gpt2_export.py`, which recomputes that loss with GPT-2 semantics in numpy).

mod train_common;

use std::path::Path;

use serde_json::{json, Value};
use train_common::{args, trainer_of};
use xlatrain::checkpoint::{open_checkpoint, Verify};
use xlatrain::data::{Dataset, Inputs};
use xlatrain::export::{export_checkpoint, hf_gpt2_names};
use xlatrain::train::{train_with_checkpoints, Checkpointing};

#[test]
fn trained_gpt_exports_as_gpt2_with_its_eval_batch_fixture() {
    let tmp = Path::new(env!("CARGO_TARGET_TMPDIR"));
    let run_dir = tmp.join("trainer-checkpoint-fixture");
    let fixture = tmp.join("gpt2-export-fixture");
    for dir in [&run_dir, &fixture] {
        let _ = std::fs::remove_dir_all(dir);
    }
    let output_dir = format!("output_dir={:?}", run_dir.display().to_string());
    let settings = args(&[
        "model=\"gpt\"",
        "d_model=32",
        "n_layers=2",
        "n_heads=4",
        "d_ff=80",
        "init_std=0.4",
        "seq_len=16",
        "per_device_train_batch_size=4",
        "max_steps=4",
        "eval_strategy=\"steps\"",
        "eval_steps=4",
        "save_steps=2",
        "max_shard_size=\"20kB\"",
        &output_dir,
    ]);
    let mut trainer = trainer_of(settings.clone());
    let mut checkpointing = Checkpointing::new(&trainer, trainer.stop_flag()).unwrap();
    train_with_checkpoints(&mut trainer, &mut checkpointing).unwrap();
    let eval_loss = trainer
        .progress()
        .log_history
        .iter()
        .find_map(|e| (e.get("step")? == 4).then(|| e.get("eval_loss")?.as_f64())?)
        .expect("eval at step 4");

    let checkpoint = run_dir.join("checkpoint-4");
    let export_dir = fixture.join("export");
    let summary = export_checkpoint(&checkpoint, &export_dir).unwrap();
    assert_eq!(summary.model_type, "gpt2");
    let saved = open_checkpoint(&checkpoint, Verify::Full).unwrap();
    assert!(
        saved.model.metadata().len() > 1,
        "the trainer wrote several shards"
    );
    let exported = std::fs::read(export_dir.join("model.safetensors")).unwrap();
    let header_len = u64::from_le_bytes(exported[..8].try_into().unwrap()) as usize;
    let header: Value = serde_json::from_slice(&exported[8..8 + header_len]).unwrap();
    let data = &exported[8 + header_len..];
    let config = xlatrain::models::GptConfig {
        d_model: 32,
        n_layers: 2,
        n_heads: 4,
        d_ff: 80,
        init_std: 0.4,
        seq_len: 16,
        ..Default::default()
    };
    let names = hf_gpt2_names(&config).unwrap();
    for (spec, bytes) in saved.model.iter() {
        let name = &names.iter().find(|(ours, _)| *ours == spec.name).unwrap().1;
        let entry = &header[&name];
        let range = entry["data_offsets"].as_array().unwrap();
        let (begin, end) = (
            range[0].as_u64().unwrap() as usize,
            range[1].as_u64().unwrap() as usize,
        );
        assert!(
            &data[begin..end] == bytes,
            "{name} holds the trained {}",
            spec.name
        );
    }

    let dataset = Dataset::open(&settings.data_spec().unwrap()).unwrap();
    let batches = dataset.eval_batches();
    let seq_len = 16;
    let mut tokens = Vec::new();
    let mut targets = Vec::new();
    for batch in &batches {
        let Inputs::I32(x) = &batch.x else {
            panic!("GPT batches are tokens")
        };
        tokens.extend(x.chunks(seq_len).map(<[i32]>::to_vec));
        targets.extend(batch.y.chunks(seq_len).map(<[i32]>::to_vec));
    }
    let batch = json!({"tokens": tokens, "targets": targets, "loss": eval_loss, "tolerance": 1e-5});
    std::fs::write(fixture.join("batch.json"), batch.to_string()).unwrap();
}
