//! One trainer over every mesh of 4 CPU devices: `data=4`, `fsdp=4`, `data=2,fsdp=2` and
//! `tensor=2,data=2` follow the one-device loss curve at the same global batch (1e-5 relative
//! over 10 steps), the tensor axis splits attention and MLP weights Megatron-style, and a
//! checkpoint written on any mesh restores onto any other with the same checks (shapes, missing
//! and extra tensors, `step`) in every layout.

mod train_common;

use std::borrow::Cow;
use train_common::{save_state_checkpoint, step_losses, trainer, TINY_GPT};
use xlatrain::checkpoint::{open_checkpoint, Verify};

use xlatrain::train::{block_bytes, scatter, Mesh, MeshAxis, Sharding, Trainer};
use xlatrain::Error;

const GLOBAL_BATCH: usize = 8;
const MESHES: [&str; 4] = ["data=4", "fsdp=4", "data=2,fsdp=2", "tensor=2,data=2"];

/// A small GPT (no dropout) on `mesh` at the global batch of 8.
fn gpt(mesh: &str, extra: &[&str]) -> Trainer {
    let m = Mesh::parse(mesh).unwrap();
    let per_device = format!(
        "per_device_train_batch_size={}",
        GLOBAL_BATCH / m.batch_ways()
    );
    let mesh = format!("mesh=\"{mesh}\"");
    let mut pairs = TINY_GPT.to_vec();
    pairs.extend(["max_steps=10", "max_grad_norm=1.0", &per_device, &mesh]);
    pairs.extend_from_slice(extra);
    trainer(&pairs)
}

fn relative(a: f64, b: f64) -> f64 {
    (a - b).abs() / b.abs().max(1e-12)
}

fn assert_follows(ours: &[f64], reference: &[f64], what: &str) {
    assert_eq!(ours.len(), reference.len());
    for (step, (a, b)) in ours.iter().zip(reference).enumerate() {
        assert!(
            relative(*a, *b) <= 1e-5,
            "{what}, step {}: {a} vs one device {b}",
            step + 1
        );
    }
}

fn dims(t: &Trainer, name: &str) -> Vec<Vec<i64>> {
    let state = t.state().unwrap();
    let shards = state.shards_of(name).unwrap();
    shards.iter().map(|b| b.dims()).collect()
}

#[test]
fn every_mesh_of_four_devices_follows_the_one_device_loss_curve() {
    let reference = step_losses(&mut gpt("data=1", &[]), 10);
    for mesh in MESHES {
        let mut t = gpt(mesh, &[]);
        assert_eq!(t.num_devices(), 4, "{mesh}");
        assert_follows(&step_losses(&mut t, 10), &reference, mesh);
        assert_eq!(t.state().unwrap().step().unwrap(), 10);
    }
}

#[test]
fn the_tensor_axis_splits_heads_and_mlp_columns_then_rows_and_fsdp_splits_the_rest() {
    let t = gpt("tensor=2,data=2", &[]);
    // q/k/v and the MLP's first layer by output column, the projections back by input row
    assert_eq!(dims(&t, "h.0.attn.c_attn.w"), vec![vec![32, 48]; 4]);
    assert_eq!(dims(&t, "h.0.attn.c_attn.b"), vec![vec![48]; 4]);
    assert_eq!(dims(&t, "h.0.attn.c_proj.w"), vec![vec![16, 32]; 4]);
    assert_eq!(dims(&t, "h.0.mlp.c_fc.w"), vec![vec![32, 32]; 4]);
    assert_eq!(dims(&t, "exp_avg.h.0.mlp.c_proj.w"), vec![vec![32, 32]; 4]);
    assert_eq!(dims(&t, "wte"), vec![vec![256, 32]; 4]);
    assert!(t
        .train_step_mlir()
        .contains("{devices=[1,2,2]0,2,1,3 last_tile_dim_replicate}"));
    // data and tensor partitions hold the same column block on devices 0 and 2
    let state = t.state().unwrap();
    let blocks = state.shards_of("h.0.mlp.c_fc.w").unwrap();
    let bytes = |i: usize| blocks[i].to_vec::<f32>().unwrap();
    assert_eq!(bytes(0), bytes(2));
    assert_ne!(bytes(0), bytes(1));

    let both = gpt("fsdp=2,tensor=2", &[]);
    assert_eq!(dims(&both, "h.0.mlp.c_fc.w"), vec![vec![16, 32]; 4]);
    assert_eq!(dims(&both, "h.0.mlp.c_proj.w"), vec![vec![32, 16]; 4]);
    assert_eq!(dims(&both, "wte"), vec![vec![128, 32]; 4]);
}

#[test]
fn a_checkpoint_of_any_mesh_restores_onto_any_other_and_continues_the_curve() {
    let reference = step_losses(&mut gpt("data=1", &[]), 10);
    let root = tempfile::tempdir().unwrap();
    for (i, from) in ["data=1", "tensor=2,data=2", "fsdp=4"].iter().enumerate() {
        let mut first = gpt(from, &[]);
        step_losses(&mut first, 5);
        let checkpoint = save_state_checkpoint(&first, &root.path().join(i.to_string()));
        let ck = open_checkpoint(&checkpoint, Verify::Full).unwrap();
        // one copy of each tensor, whole, whatever the mesh wrote it
        let whole = first
            .state()
            .unwrap()
            .read_f32("h.0.attn.c_attn.w")
            .unwrap();
        let (_, stored) = ck.model.get("h.0.attn.c_attn.w").unwrap();
        let stored: Vec<f32> = stored
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
        assert_eq!(stored, whole, "from {from}");
        for onto in ["data=1", "data=2,fsdp=2", "tensor=2,data=2"] {
            let mut resumed = gpt(onto, &[]);
            resumed.restore_checkpoint(&ck, false).unwrap();
            assert_eq!(resumed.progress().global_step, 5);
            assert_eq!(resumed.state().unwrap().step().unwrap(), 5);
            let tail = step_losses(&mut resumed, 5);
            assert_follows(&tail, &reference[5..], &format!("{from} -> {onto}"));
        }
    }
}

#[test]
fn every_mesh_refuses_a_checkpoint_with_other_shapes_extra_or_missing_tensors() {
    let root = tempfile::tempdir().unwrap();
    let saved = |extra: &[&str], name: &str| {
        let mut t = gpt("data=1", extra);
        step_losses(&mut t, 1);
        open_checkpoint(
            &save_state_checkpoint(&t, &root.path().join(name)),
            Verify::Full,
        )
        .unwrap()
    };
    let wider = saved(&["d_ff=128"], "wider");
    let deeper = saved(&["n_layers=2"], "deeper");
    for mesh in ["data=1"].into_iter().chain(MESHES) {
        for (checkpoint, what) in [(&wider, "h.0.mlp.c_fc.w"), (&deeper, "h.1.")] {
            let mut t = gpt(mesh, &[]);
            let before = t.state().unwrap().to_host().unwrap();
            let err = t.restore_checkpoint(checkpoint, false).unwrap_err();
            assert!(
                matches!(&err, Error::TensorSpecMismatch { tensor, .. } if tensor.starts_with(what)),
                "{mesh}: {err}"
            );
            // refused before anything was uploaded: the run keeps its own state
            assert_eq!(t.state().unwrap().to_host().unwrap(), before, "{mesh}");
        }
        // a checkpoint of a 1-layer model lacks the second layer of a 2-layer run
        let mut t = gpt(mesh, &["n_layers=2"]);
        let one_layer = saved(&[], &format!("one-{}", mesh.replace([',', '='], "_")));
        let err = t.restore_checkpoint(&one_layer, false).unwrap_err();
        assert!(
            matches!(&err, Error::TensorSpecMismatch { found, .. } if found.contains("no such")),
            "{mesh}: {err}"
        );
    }
}

#[test]
fn meshes_parse_by_maxtext_axis_names_and_refuse_unknown_ones() {
    let m = Mesh::parse("data=2, fsdp=2").unwrap();
    assert_eq!((m.data, m.fsdp, m.tensor, m.devices()), (2, 2, 1, 4));
    assert_eq!(m.batch_ways(), 4);
    assert_eq!(Mesh::parse("tensor=2").unwrap().batch_ways(), 1);
    for bad in ["model=2", "data=0", "data=2,data=2", "data"] {
        assert!(Mesh::parse(bad).is_err(), "{bad}");
    }
}

#[test]
fn annotations_list_devices_in_tile_order_with_a_replication_tile() {
    let fsdp = Mesh::fsdp(4);
    let rows = Sharding::split(2, 0, &[MeshAxis::Fsdp], &fsdp);
    assert_eq!(rows.annotation(&fsdp), "{devices=[4,1]0,1,2,3}");
    let m = Mesh::parse("data=2,tensor=2").unwrap();
    // tile (0, t, r) is the device at tensor=t, data=r
    let cols = Sharding::split(2, 1, &[MeshAxis::Tensor], &m);
    assert_eq!(
        cols.annotation(&m),
        "{devices=[1,2,2]0,2,1,3 last_tile_dim_replicate}"
    );
    let batch = Sharding::split(2, 0, &[MeshAxis::Data, MeshAxis::Fsdp], &m);
    assert_eq!(
        batch.annotation(&m),
        "{devices=[2,1,2]0,1,2,3 last_tile_dim_replicate}"
    );
    assert_eq!(Sharding::replicated(2).annotation(&m), "{replicated}");
}

#[test]
fn blocks_are_read_from_and_written_to_only_their_own_bytes() {
    let m = Mesh::parse("data=2,tensor=2").unwrap();
    let cols = Sharding::split(2, 1, &[MeshAxis::Tensor], &m);
    let shape = [3, 4];
    let whole: Vec<u8> = (0..12u8).collect();
    let mut rebuilt = vec![0u8; 12];
    for p in 0..4 {
        let block = cols.block(&shape, &m, p);
        let part = block_bytes(&whole, &shape, &block, 1).unwrap();
        let first = 2 * m.coordinate(p, MeshAxis::Tensor) as u8;
        assert_eq!(
            &part[..],
            &[first, first + 1, first + 4, first + 5, first + 8, first + 9]
        );
        scatter(&mut rebuilt, &part, &shape, &block, 1).unwrap();
    }
    assert_eq!(rebuilt, whole);
    // a row block is one contiguous range: borrowed, not copied
    let rows = Sharding::split(2, 0, &[MeshAxis::Fsdp], &Mesh::fsdp(3));
    let block = rows.block(&shape, &Mesh::fsdp(3), 1);
    let part = block_bytes(&whole, &shape, &block, 1).unwrap();
    assert!(matches!(part, Cow::Borrowed(_)));
    assert_eq!(&*part, &[4, 5, 6, 7]);
    assert!(block_bytes(&whole[..11], &shape, &block, 1).is_err());
}
