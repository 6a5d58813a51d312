//! Compile and execute each hand-written fixture on the CPU plugin and check the numbers against
//! values computed here from the inputs.

mod common;

use common::{cpu, fixture, values};
use xlatrain::pjrt::{Arg, CompileOptions};

#[test]
fn elementwise_program_matches_host_arithmetic() {
    let client = cpu();
    let exe = client
        .compile(&fixture("elementwise"), &CompileOptions::default())
        .unwrap();
    let a = values(6, 1);
    let b = values(6, 2);
    let da = client.upload(&a, &[2, 3], 0).unwrap();
    let db = client.upload(&b, &[2, 3], 0).unwrap();
    let out = exe
        .execute(vec![Arg::Borrowed(&da), Arg::Borrowed(&db)])
        .unwrap();
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].dims(), vec![2, 3]);
    let got: Vec<f32> = out[0].to_vec().unwrap();
    let expected: Vec<f32> = a
        .iter()
        .zip(&b)
        .map(|(&x, &y)| ((x + y) * x - 0.5).max(y))
        .collect();
    assert_eq!(got, expected);
}

#[test]
fn dot_general_matches_a_host_matrix_product() {
    let client = cpu();
    let exe = client
        .compile(&fixture("dot_general"), &CompileOptions::default())
        .unwrap();
    let a = values(6, 3);
    let b = values(12, 4);
    let da = client.upload(&a, &[2, 3], 0).unwrap();
    let db = client.upload(&b, &[3, 4], 0).unwrap();
    let out = exe
        .execute(vec![Arg::Borrowed(&da), Arg::Borrowed(&db)])
        .unwrap();
    assert_eq!(out[0].dims(), vec![2, 4]);
    let got: Vec<f32> = out[0].to_vec().unwrap();
    for i in 0..2 {
        for j in 0..4 {
            let expected: f32 = (0..3).map(|k| a[i * 3 + k] * b[k * 4 + j]).sum();
            assert_eq!(got[i * 4 + j], expected, "entry ({i}, {j})");
        }
    }
}

#[test]
fn reduce_gives_row_sums_and_row_maxima() {
    let client = cpu();
    let exe = client
        .compile(&fixture("reduce"), &CompileOptions::default())
        .unwrap();
    assert_eq!(exe.num_outputs(), 2);
    let a = values(20, 5);
    let da = client.upload(&a, &[4, 5], 0).unwrap();
    let out = exe.execute(vec![Arg::Borrowed(&da)]).unwrap();
    let sums: Vec<f32> = out[0].to_vec().unwrap();
    let maxima: Vec<f32> = out[1].to_vec().unwrap();
    for row in 0..4 {
        let cells = &a[row * 5..row * 5 + 5];
        assert_eq!(sums[row], cells.iter().sum::<f32>());
        assert_eq!(
            maxima[row],
            cells.iter().cloned().fold(f32::NEG_INFINITY, f32::max)
        );
    }
}

#[test]
fn all_reduce_over_four_replicas_gives_every_device_the_sum() {
    let client = cpu();
    assert!(client.device_count() >= 4);
    let exe = client
        .compile(&fixture("all_reduce"), &CompileOptions::replicated(4))
        .unwrap();
    assert_eq!(exe.num_devices(), 4);
    let inputs: Vec<Vec<f32>> = (0..4).map(|d| values(4, 10 + d as u32)).collect();
    let devices = exe.device_indices();
    let buffers: Vec<_> = inputs
        .iter()
        .zip(&devices)
        .map(|(x, &device)| client.upload(x, &[4], device).unwrap())
        .collect();
    let args = buffers.iter().map(|b| vec![Arg::Borrowed(b)]).collect();
    let out = exe.execute_replicated(args).unwrap();
    let expected: Vec<f32> = (0..4).map(|i| inputs.iter().map(|x| x[i]).sum()).collect();
    assert_eq!(out.len(), 4);
    for (device, outputs) in out.iter().enumerate() {
        assert_eq!(outputs[0].device(), devices[device]);
        assert_eq!(
            outputs[0].to_vec::<f32>().unwrap(),
            expected,
            "device {device}"
        );
    }
}

#[test]
fn spmd_program_splits_rows_over_two_partitions() {
    let client = cpu();
    let exe = client
        .compile(&fixture("spmd_matmul"), &CompileOptions::spmd(2))
        .unwrap();
    assert_eq!(exe.num_devices(), 2);
    let a = values(32, 6);
    let b = values(12, 7);
    let devices = exe.device_indices();
    let mut held = Vec::new();
    for (partition, &device) in devices.iter().enumerate() {
        let rows = &a[partition * 16..partition * 16 + 16];
        held.push((
            client.upload(rows, &[4, 4], device).unwrap(),
            client.upload(&b, &[4, 3], device).unwrap(),
        ));
    }
    let args = held
        .iter()
        .map(|(x, y)| vec![Arg::Borrowed(x), Arg::Borrowed(y)])
        .collect();
    let out = exe.execute_replicated(args).unwrap();
    let product = |i: usize, j: usize| -> f32 { (0..4).map(|k| a[i * 4 + k] * b[k * 3 + j]).sum() };
    let total: f32 = (0..8)
        .flat_map(|i| (0..3).map(move |j| (i, j)))
        .map(|(i, j)| product(i, j))
        .sum();
    for (partition, outputs) in out.iter().enumerate() {
        assert_eq!(outputs[0].dims(), vec![4, 3]);
        let block: Vec<f32> = outputs[0].to_vec().unwrap();
        for r in 0..4 {
            for j in 0..3 {
                assert_eq!(block[r * 3 + j], product(partition * 4 + r, j));
            }
        }
        let got_total = outputs[1].to_vec::<f32>().unwrap()[0];
        assert!(
            (got_total - total).abs() <= 1e-3 * total.abs().max(1.0),
            "{got_total} vs {total}"
        );
    }
}

#[test]
fn donated_input_is_consumed_and_borrowed_input_survives() {
    let client = cpu();
    let exe = client
        .compile(&fixture("donate_add"), &CompileOptions::default())
        .unwrap();
    let acc = values(4, 8);
    let delta = values(4, 9);
    let d_acc = client.upload(&acc, &[4], 0).unwrap();
    let d_delta = client.upload(&delta, &[4], 0).unwrap();
    let outcome = exe
        .execute_detailed(vec![vec![Arg::Donated(d_acc), Arg::Borrowed(&d_delta)]])
        .unwrap();
    assert!(
        outcome.donated[0][0].is_deleted(),
        "the donated accumulator must be consumed"
    );
    assert!(!d_delta.is_deleted());
    let expected: Vec<f32> = acc.iter().zip(&delta).map(|(x, y)| x + y).collect();
    assert_eq!(outcome.outputs[0][0].to_vec::<f32>().unwrap(), expected);

    // The same aliasing program with a borrowed accumulator must leave it intact.
    let kept = client.upload(&acc, &[4], 0).unwrap();
    let out = exe
        .execute(vec![Arg::Borrowed(&kept), Arg::Borrowed(&d_delta)])
        .unwrap();
    assert!(
        !kept.is_deleted(),
        "a borrowed buffer must never be donated"
    );
    assert_eq!(kept.to_vec::<f32>().unwrap(), acc);
    assert_eq!(out[0].to_vec::<f32>().unwrap(), expected);
}

#[test]
fn serialized_executable_runs_identically_after_deserialize() {
    let client = cpu();
    let exe = client
        .compile_uncached(&fixture("dot_general"), &CompileOptions::default())
        .unwrap();
    let bytes = exe.serialize().unwrap();
    assert!(!bytes.is_empty());
    let restored = client.deserialize(&bytes).unwrap();
    let a = client.upload(&values(6, 11), &[2, 3], 0).unwrap();
    let b = client.upload(&values(12, 12), &[3, 4], 0).unwrap();
    let first = exe
        .execute(vec![Arg::Borrowed(&a), Arg::Borrowed(&b)])
        .unwrap();
    let second = restored
        .execute(vec![Arg::Borrowed(&a), Arg::Borrowed(&b)])
        .unwrap();
    assert_eq!(
        first[0].to_vec::<f32>().unwrap(),
        second[0].to_vec::<f32>().unwrap()
    );
}
