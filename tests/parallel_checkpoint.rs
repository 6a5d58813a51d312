//! Checkpoints of a data-parallel run: written once, from replica 0's buffers (not once per
//! device), and restorable onto any device count at the same global batch, continuing with the
//! results of an uninterrupted run.
//!
//! This test drives the host-side checkpoint API directly: `save_checkpoint` over a
//! `StateSource` of the state (each tensor once, from the first partition holding it),
//! `open_checkpoint` + `Trainer::restore_checkpoint` onto each mesh.

mod train_common;

use std::path::Path;

use train_common::{save_state_checkpoint, trainer};
use xlatrain::checkpoint::{open_checkpoint, Verify};
use xlatrain::data::DataCursor;
use xlatrain::train::{TrainState, Trainer};

const GLOBAL_BATCH: usize = 64;

fn mlp(devices: usize) -> Trainer {
    let per_device = format!("per_device_train_batch_size={}", GLOBAL_BATCH / devices);
    let count = format!("num_devices={devices}");
    trainer(&[
        "model=\"mlp\"",
        &per_device,
        &count,
        "max_steps=10",
        "max_grad_norm=0.5",
    ])
}

fn losses(t: &mut Trainer, steps: usize) -> Vec<f64> {
    (0..steps)
        .map(|_| {
            t.step().unwrap();
            t.log_metrics().unwrap().unwrap()["loss"].as_f64().unwrap()
        })
        .collect()
}

fn resume(t: &mut Trainer, checkpoint: &Path) {
    let ck = open_checkpoint(checkpoint, Verify::Full).unwrap();
    let descs = t.state().unwrap().descriptors().to_vec();
    let optimizer = ck.optimizer.as_ref().unwrap();
    let state = TrainState::from_host(t.client(), descs, |d| {
        Ok(ck
            .model
            .get(&d.name)
            .or_else(|| optimizer.get(&d.name))
            .unwrap()
            .1)
    })
    .unwrap();
    let mut progress = t.progress().clone();
    progress.global_step = ck.step();
    progress.cursor =
        serde_json::from_value::<DataCursor>(ck.trainer_state.xlatrain.data_cursor.clone())
            .unwrap();
    t.restore(state, progress).unwrap();
}

#[test]
fn a_four_device_checkpoint_is_written_once_and_resumes_on_one_two_and_four_devices() {
    let mut uninterrupted = mlp(4);
    let expected = losses(&mut uninterrupted, 10);

    let dir = tempfile::tempdir().unwrap();
    let mut first = mlp(4);
    losses(&mut first, 5);
    let checkpoint = save_state_checkpoint(&first, dir.path());

    // one copy of the state: exactly replica 0's tensors and bytes, whatever the device count
    let ck = open_checkpoint(&checkpoint, Verify::Full).unwrap();
    let state = first.state().unwrap();
    let host = state.to_host().unwrap();
    let stored: Vec<&[u8]> = ck
        .model
        .iter()
        .chain(ck.optimizer.as_ref().unwrap().iter())
        .map(|(_, bytes)| bytes)
        .collect();
    assert_eq!(stored.len(), state.descriptors().len());
    for ((desc, saved), device) in state.descriptors().iter().zip(&stored).zip(&host) {
        assert!(
            *saved == device.as_slice(),
            "{} differs from replica 0",
            desc.name
        );
    }
    drop(ck);

    for devices in [4, 2, 1] {
        let mut resumed = mlp(devices);
        resume(&mut resumed, &checkpoint);
        assert_eq!(resumed.num_devices(), devices);
        for copy in resumed.state().unwrap().shards_of("step").unwrap() {
            assert_eq!(copy.to_vec::<i32>().unwrap(), [5]);
        }
        let tail = losses(&mut resumed, 5);
        for (step, (ours, theirs)) in tail.iter().zip(&expected[5..]).enumerate() {
            if devices == 4 {
                assert_eq!(ours, theirs, "4 devices, step {}: not bit-exact", step + 6);
            }
            let rel = (ours - theirs).abs() / theirs.abs();
            assert!(
                rel <= 1e-5,
                "resumed on {devices} devices, step {}: {ours} vs uninterrupted {theirs}",
                step + 6
            );
        }
    }
}
