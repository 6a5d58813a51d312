//! The collective graph ops on the real CPU plugin: `all_reduce_sum` over replica groups,
//! `replica_id`, the all-reduce gradient rule, group validation, and the replicated train step's
//! program (one all-reduce per gradient plus the loss; the single-device program is unchanged).

use xlatrain::graph::{all_replicas, grad, DType, Graph, Precision};
use xlatrain::lower::{to_stablehlo, LowerOptions};
use xlatrain::models::ModelConfig;
use xlatrain::optim::OptimizerSpec;
use xlatrain::pjrt::{Arg, Client, CompileOptions};
use xlatrain::train::{train_step_program, train_step_program_on, Mesh, StateLayout};
use xlatrain::Error;

fn cpu() -> Client {
    Client::cpu().unwrap_or_else(|e| panic!("the CPU PJRT plugin must be available: {e}"))
}

/// Runs a one-argument f32 program on `inputs.len()` replicas; returns each replica's results.
fn run_replicated(mlir: &str, inputs: &[Vec<f32>], dims: &[i64]) -> Vec<Vec<Vec<f32>>> {
    let client = cpu();
    let exe = client
        .compile(mlir, &CompileOptions::replicated(inputs.len()))
        .unwrap();
    let devices = exe.device_indices();
    let buffers: Vec<_> = inputs
        .iter()
        .zip(&devices)
        .map(|(x, &d)| client.upload(x, dims, d).unwrap())
        .collect();
    let args = buffers.iter().map(|b| vec![Arg::Borrowed(b)]).collect();
    exe.execute_replicated(args)
        .unwrap()
        .iter()
        .map(|outs| outs.iter().map(|b| b.to_vec::<f32>().unwrap()).collect())
        .collect()
}

fn replica_inputs(n: usize) -> Vec<Vec<f32>> {
    (0..n)
        .map(|r| (0..3).map(|i| (r * 10 + i) as f32 * 0.25 - 1.0).collect())
        .collect()
}

#[test]
fn all_reduce_sums_over_the_group_and_replica_id_names_the_replica() {
    let mut g = Graph::new();
    let x = g.parameter("x", &[3], DType::F32).unwrap();
    let id = g.replica_id().unwrap();
    let weight = g.convert(id, DType::F32).unwrap();
    let weight = g.add_scalar(weight, 1.0).unwrap();
    let weighted = g.mul(x, weight).unwrap();
    let everyone = g.all_reduce_sum(weighted, &all_replicas(4)).unwrap();
    let pairs = g.all_reduce_sum(x, &[vec![0, 1], vec![2, 3]]).unwrap();
    let mlir = to_stablehlo(&g, &[everyone, pairs], &LowerOptions::default()).unwrap();
    assert!(mlir.contains("replica_groups = dense<[[0, 1, 2, 3]]> : tensor<1x4xi64>"));
    assert!(mlir.contains("replica_groups = dense<[[0, 1], [2, 3]]> : tensor<2x2xi64>"));

    let inputs = replica_inputs(4);
    let out = run_replicated(&mlir, &inputs, &[3]);
    let weighted_sum: Vec<f32> = (0..3)
        .map(|i| (0..4).map(|r| inputs[r][i] * (r + 1) as f32).sum())
        .collect();
    for (r, results) in out.iter().enumerate() {
        assert_eq!(results[0], weighted_sum, "replica {r}: sum over all four");
        let partner = r ^ 1;
        let pair: Vec<f32> = (0..3).map(|i| inputs[r][i] + inputs[partner][i]).collect();
        assert_eq!(results[1], pair, "replica {r}: sum over its pair");
    }
}

#[test]
fn the_gradient_of_an_all_reduce_is_the_all_reduce_of_the_cotangent() {
    // loss_r = sum(all_reduce(x) * x_r): d loss_r / d x_r = all_reduce(x) + all_reduce(x_r)
    // since every replica's loss depends on x_r through the sum, and on x_r directly.
    let mut g = Graph::new();
    let x = g.parameter("x", &[3], DType::F32).unwrap();
    let total = g.all_reduce_sum(x, &all_replicas(2)).unwrap();
    let product = g.mul(total, x).unwrap();
    let loss = g.sum_all(product).unwrap();
    let dx = grad(&mut g, loss, &[x]).unwrap()[0];
    let mlir = to_stablehlo(&g, &[dx], &LowerOptions::default()).unwrap();
    assert_eq!(mlir.matches("stablehlo.all_reduce").count(), 2, "{mlir}");

    let inputs = replica_inputs(2);
    let out = run_replicated(&mlir, &inputs, &[3]);
    let sum: Vec<f32> = (0..3).map(|i| inputs[0][i] + inputs[1][i]).collect();
    for (r, results) in out.iter().enumerate() {
        // all_reduce of the cotangent x_r gives sum again
        let expected: Vec<f32> = sum.iter().map(|s| s + s).collect();
        assert_eq!(results[0], expected, "replica {r}");
    }
}

#[test]
fn replica_groups_must_partition_the_replicas() {
    let mut g = Graph::new();
    let x = g.parameter("x", &[2], DType::F32).unwrap();
    let bad_groups: [&[Vec<usize>]; 4] = [
        &[],
        &[vec![0, 1], vec![1, 2]],
        &[vec![0, 1], vec![2]],
        &[vec![0, 2]],
    ];
    for groups in bad_groups {
        assert!(
            matches!(
                g.all_reduce_sum(x, groups),
                Err(Error::InvalidOpArgument {
                    op: "all_reduce",
                    ..
                })
            ),
            "{groups:?} accepted"
        );
    }
    let flag = g.parameter("flag", &[2], DType::Pred).unwrap();
    assert!(g.all_reduce_sum(flag, &all_replicas(2)).is_err());
}

#[test]
fn the_mesh_step_is_the_global_program_annotated_and_one_device_is_unchanged() {
    let model = ModelConfig::Mlp(xlatrain::models::MlpConfig {
        layers: vec![8, 4, 2],
        init_seed: 1,
    });
    let args = xlatrain::config::TrainingArgs::defaults(xlatrain::config::ModelKind::Mlp);
    let optimizer = OptimizerSpec::from_args(&args, 10);
    let layout = xlatrain::data::BatchLayout {
        x_type: xlatrain::DType::F32,
        x_shape: vec![4, 8],
        y_shape: vec![4],
    };
    let on = |mesh: Mesh| {
        let state = StateLayout::new(&model, &optimizer, mesh, Vec::new()).unwrap();
        train_step_program_on(&model, &optimizer, &layout, 1, &state, Precision::F32).unwrap()
    };
    let single = train_step_program(&model, &optimizer, &layout, 1).unwrap();
    assert_eq!(single.mlir, on(Mesh::single()).mlir);
    assert!(!single.mlir.contains("mhlo.sharding"));
    // data=4: no collective is written by hand; the partitioner adds them from the annotations
    let four = on(Mesh::data(4));
    assert!(!four.mlir.contains("all_reduce"));
    let replicated = four
        .mlir
        .matches("mhlo.sharding = \"{replicated}\"")
        .count();
    let state_tensors = xlatrain::train::state_layout(&model, &optimizer)
        .unwrap()
        .len();
    assert_eq!(
        replicated,
        2 * state_tensors + 3,
        "state in and out, three metrics"
    );
    assert!(four
        .mlir
        .contains("mhlo.sharding = \"{devices=[1,4,1]0,1,2,3}\""));
    cpu().compile(&four.mlir, &CompileOptions::spmd(4)).unwrap();
}
