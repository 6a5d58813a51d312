//! ZeRO/FSDP-style sharding through the SPMD partitioner: the state lives as dim-0 row blocks
//! (replicated where dim 0 does not divide), training follows the single-device run, a
//! checkpoint is written block by block into each tensor's byte range, and it restores onto
//! another sharding (4 -> 2 devices) and onto a single device.

mod train_common;

use std::path::{Path, PathBuf};

use serde_json::json;
use train_common::{args, cpu, step_losses, trainer};
use xlatrain::checkpoint::{
    open_checkpoint, save_checkpoint, CheckpointContents, SaveOptions, TrainerState, Verify,
};
use xlatrain::data::DataCursor;
use xlatrain::train::spmd::ShardedTrainer;
use xlatrain::train::TrainState;

const GLOBAL_BATCH: usize = 64;

fn settings(per_device: usize) -> Vec<String> {
    vec![
        "model=\"mlp\"".into(),
        format!("per_device_train_batch_size={per_device}"),
        "max_steps=10".into(),
        "max_grad_norm=0.5".into(),
    ]
}

fn sharded(devices: usize) -> ShardedTrainer {
    let pairs = settings(GLOBAL_BATCH / devices);
    let pairs: Vec<&str> = pairs.iter().map(String::as_str).collect();
    ShardedTrainer::new(cpu(), &args(&pairs), devices).unwrap()
}

fn relative(a: f64, b: f64) -> f64 {
    (a - b).abs() / b.abs().max(1e-12)
}

fn save(t: &ShardedTrainer, dir: &Path) -> PathBuf {
    let (model, optimizer) = t.checkpoint_sources().unwrap();
    let mut state = TrainerState::at_step(t.global_step());
    state.xlatrain.data_cursor = serde_json::to_value(t.cursor()).unwrap();
    let contents = CheckpointContents {
        step: t.global_step(),
        model: &model,
        optimizer: Some(&optimizer),
        trainer_state: &state,
        training_args: &json!({}),
        config: &json!({}),
    };
    save_checkpoint(dir, &contents, &SaveOptions::default())
        .unwrap()
        .path
}

#[test]
fn sharded_state_trains_like_one_device_and_each_device_holds_only_its_rows() {
    let pairs = settings(GLOBAL_BATCH);
    let pairs: Vec<&str> = pairs.iter().map(String::as_str).collect();
    let mut single = trainer(&pairs);
    let expected = step_losses(&mut single, 6);

    let mut t = sharded(4);
    assert!(t
        .train_step_mlir()
        .contains("mhlo.sharding = \"{devices=[4,1]0,1,2,3}\""));
    let ours: Vec<f64> = (0..6).map(|_| t.step().unwrap()).collect();
    for (step, (a, b)) in ours.iter().zip(&expected).enumerate() {
        assert!(relative(*a, *b) <= 1e-5, "step {}: {a} vs {b}", step + 1);
    }
    // fc0.w is [784, 512]: four blocks of 196 rows; fc2.b is [10]: replicated on 4 devices
    let blocks = t.shards_of("fc0.w").unwrap();
    assert_eq!(blocks.len(), 4);
    for block in blocks {
        assert_eq!(block.dims(), vec![196, 512]);
    }
    let adam = t.shards_of("exp_avg_sq.fc0.w").unwrap();
    assert!(adam.iter().all(|b| b.dims() == vec![196, 512]));
    for copy in t.shards_of("fc2.b").unwrap() {
        assert_eq!(copy.dims(), vec![10]);
    }
}

#[test]
fn a_sharded_checkpoint_restores_onto_two_devices_and_onto_one() {
    let mut uninterrupted = sharded(4);
    let expected: Vec<f64> = (0..8).map(|_| uninterrupted.step().unwrap()).collect();

    let dir = tempfile::tempdir().unwrap();
    let mut first = sharded(4);
    for _ in 0..4 {
        first.step().unwrap();
    }
    let checkpoint = save(&first, dir.path());

    // every row block landed in its own byte range of the stored tensor
    let ck = open_checkpoint(&checkpoint, Verify::Full).unwrap();
    let (_, stored) = ck.model.get("fc0.w").unwrap();
    let row_bytes = 512 * 4;
    for (i, block) in first.shards_of("fc0.w").unwrap().iter().enumerate() {
        let mut bytes = vec![0u8; block.byte_size()];
        block.copy_to_host(&mut bytes).unwrap();
        let range = i * 196 * row_bytes..(i + 1) * 196 * row_bytes;
        assert!(
            stored[range] == bytes[..],
            "block {i} is not at rows {}..",
            i * 196
        );
    }
    let cursor: DataCursor =
        serde_json::from_value(ck.trainer_state.xlatrain.data_cursor.clone()).unwrap();
    let optimizer = ck.optimizer.as_ref().unwrap();

    // onto 2-way sharding
    let mut two = sharded(2);
    two.restore(&ck.model, optimizer, ck.step(), cursor.clone())
        .unwrap();
    assert_eq!(two.shards_of("fc0.w").unwrap()[0].dims(), vec![392, 512]);
    assert_eq!(two.shards_of("fc2.b").unwrap()[0].dims(), vec![5]);
    let tail: Vec<f64> = (0..4).map(|_| two.step().unwrap()).collect();
    for (step, (a, b)) in tail.iter().zip(&expected[4..]).enumerate() {
        assert!(
            relative(*a, *b) <= 1e-5,
            "2 devices, step {}: {a} vs {b}",
            step + 5
        );
    }

    // onto one device, the plain trainer
    let pairs = settings(GLOBAL_BATCH);
    let pairs: Vec<&str> = pairs.iter().map(String::as_str).collect();
    let mut one = trainer(&pairs);
    let descs = one.state().unwrap().descriptors().to_vec();
    let state = TrainState::from_host(one.client(), descs, |d| {
        Ok(ck
            .model
            .get(&d.name)
            .or_else(|| optimizer.get(&d.name))
            .unwrap()
            .1)
    })
    .unwrap();
    let mut progress = one.progress().clone();
    progress.global_step = ck.step();
    progress.cursor = cursor;
    one.restore(state, progress).unwrap();
    let tail = step_losses(&mut one, 4);
    for (step, (a, b)) in tail.iter().zip(&expected[4..]).enumerate() {
        assert!(
            relative(*a, *b) <= 1e-5,
            "1 device, step {}: {a} vs {b}",
            step + 5
        );
    }
}

#[test]
fn a_sharded_gpt_with_embedding_rows_split_over_four_devices_trains_like_one_device() {
    let base = [
        "model=\"gpt\"",
        "d_model=32",
        "n_layers=1",
        "n_heads=2",
        "d_ff=64",
        "seq_len=16",
        "max_steps=6",
        "max_grad_norm=1.0",
    ];
    let mut one: Vec<&str> = base.to_vec();
    one.push("per_device_train_batch_size=8");
    let mut single = trainer(&one);
    let expected = step_losses(&mut single, 4);
    let mut four: Vec<&str> = base.to_vec();
    four.push("per_device_train_batch_size=2");
    let mut t = ShardedTrainer::new(cpu(), &args(&four), 4).unwrap();
    for (step, want) in expected.iter().enumerate() {
        let got = t.step().unwrap();
        assert!(
            relative(got, *want) <= 1e-5,
            "step {}: {got} vs {want}",
            step + 1
        );
    }
    // the token embedding (gathered rows, scatter-added gradient) lives as 4 blocks of 64 rows
    for block in t.shards_of("wte").unwrap() {
        assert_eq!(block.dims(), vec![64, 32]);
    }
    for block in t.shards_of("exp_avg_sq.wte").unwrap() {
        assert_eq!(block.dims(), vec![64, 32]);
    }
}
