//! ZeRO/FSDP-style sharding (`fsdp=N`, `--shard-state`) through the SPMD partitioner: the state
//! lives as dim-0 row blocks (replicated where dim 0 does not divide), training follows the
//! single-device run, a checkpoint is written block by block into each tensor's byte range, and
//! it restores onto another sharding (4 -> 2 devices) and onto a single device.

mod train_common;

use train_common::{save_state_checkpoint, step_losses, trainer, TINY_GPT};
use xlatrain::checkpoint::{open_checkpoint, Verify};
use xlatrain::train::Trainer;

const GLOBAL_BATCH: usize = 64;

fn settings(per_device: usize) -> Vec<String> {
    vec![
        "model=\"mlp\"".into(),
        format!("per_device_train_batch_size={per_device}"),
        "max_steps=10".into(),
        "max_grad_norm=0.5".into(),
    ]
}

fn sharded(devices: usize) -> Trainer {
    let mut pairs = settings(GLOBAL_BATCH / devices);
    pairs.push(format!("num_devices={devices}"));
    pairs.push("shard_state=true".into());
    let pairs: Vec<&str> = pairs.iter().map(String::as_str).collect();
    trainer(&pairs)
}

fn shards(t: &Trainer, name: &str) -> Vec<Vec<i64>> {
    t.state()
        .unwrap()
        .shards_of(name)
        .unwrap()
        .iter()
        .map(|b| b.dims())
        .collect()
}

fn relative(a: f64, b: f64) -> f64 {
    (a - b).abs() / b.abs().max(1e-12)
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
    let ours = step_losses(&mut t, 6);
    for (step, (a, b)) in ours.iter().zip(&expected).enumerate() {
        assert!(relative(*a, *b) <= 1e-5, "step {}: {a} vs {b}", step + 1);
    }
    // fc0.w is [784, 512]: four blocks of 196 rows; fc2.b is [10]: replicated on 4 devices
    assert_eq!(shards(&t, "fc0.w"), vec![vec![196, 512]; 4]);
    assert_eq!(shards(&t, "exp_avg_sq.fc0.w"), vec![vec![196, 512]; 4]);
    assert_eq!(shards(&t, "fc2.b"), vec![vec![10]; 4]);
}

#[test]
fn a_sharded_checkpoint_restores_onto_two_devices_and_onto_one() {
    let mut uninterrupted = sharded(4);
    let expected = step_losses(&mut uninterrupted, 8);

    let dir = tempfile::tempdir().unwrap();
    let mut first = sharded(4);
    step_losses(&mut first, 4);
    let checkpoint = save_state_checkpoint(&first, dir.path());

    // every row block landed in its own byte range of the stored tensor
    let ck = open_checkpoint(&checkpoint, Verify::Full).unwrap();
    let (_, stored) = ck.model.get("fc0.w").unwrap();
    let row_bytes = 512 * 4;
    for (i, block) in first
        .state()
        .unwrap()
        .shards_of("fc0.w")
        .unwrap()
        .iter()
        .enumerate()
    {
        let mut bytes = vec![0u8; block.byte_size()];
        block.copy_to_host(&mut bytes).unwrap();
        let range = i * 196 * row_bytes..(i + 1) * 196 * row_bytes;
        assert!(
            stored[range] == bytes[..],
            "block {i} is not at rows {}..",
            i * 196
        );
    }

    // onto 2-way sharding
    let mut two = sharded(2);
    two.restore_checkpoint(&ck, false).unwrap();
    assert_eq!(shards(&two, "fc0.w")[0], vec![392, 512]);
    assert_eq!(shards(&two, "fc2.b")[0], vec![5]);
    assert_eq!(two.progress().global_step, 4);
    let tail = step_losses(&mut two, 4);
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
    one.restore_checkpoint(&ck, false).unwrap();
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
    let mut base = TINY_GPT.to_vec();
    base.extend(["max_steps=6", "max_grad_norm=1.0"]);
    let mut one: Vec<&str> = base.to_vec();
    one.push("per_device_train_batch_size=8");
    let mut single = trainer(&one);
    let expected = step_losses(&mut single, 4);
    let mut four: Vec<&str> = base.to_vec();
    four.push("per_device_train_batch_size=2");
    four.extend(["num_devices=4", "shard_state=true"]);
    let mut t = trainer(&four);
    let got = step_losses(&mut t, 4);
    for (step, (got, want)) in got.iter().zip(&expected).enumerate() {
        assert!(
            relative(*got, *want) <= 1e-5,
            "step {}: {got} vs {want}",
            step + 1
        );
    }
    // the token embedding (gathered rows, scatter-added gradient) lives as 4 blocks of 64 rows
    assert_eq!(shards(&t, "wte"), vec![vec![64, 32]; 4]);
    assert_eq!(shards(&t, "exp_avg_sq.wte"), vec![vec![64, 32]; 4]);
}
