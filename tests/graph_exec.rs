//! Forward values of the ops on the real CPU plugin, compared with straightforward host
//! computations (gradient tests only prove forward and backward agree; these prove the forward
//! is right). Also: random bits are deterministic and threaded, and bf16 programs run.

mod graph_harness;

use graph_harness::{values, Harness, Host};
use xlatrain::graph::{DType, Graph};
use xlatrain::lower::{DotPrecision, LowerOptions};

fn close(a: &[f64], b: &[f64], tol: f64, what: &str) {
    assert_eq!(a.len(), b.len(), "{what}: length");
    for (i, (x, y)) in a.iter().zip(b).enumerate() {
        assert!(
            (x - y).abs() <= tol * (1.0 + y.abs()),
            "{what}[{i}]: got {x}, want {y}"
        );
    }
}

#[test]
fn ops_compute_the_values_a_host_reference_computes() {
    let h = Harness::new();
    let mut g = Graph::new();
    let a = g.parameter("a", &[2, 3], DType::F64).unwrap();
    let b = g.parameter("b", &[3, 4], DType::F64).unwrap();
    let table = g.parameter("table", &[4, 2], DType::F64).unwrap();
    let idx = g.parameter("idx", &[3], DType::S32).unwrap();
    let labels = g.parameter("labels", &[2], DType::S32).unwrap();
    let av = values(1, 6, -1.0, 1.0);
    let bv = values(2, 12, -1.0, 1.0);
    let tv = values(3, 8, -1.0, 1.0);
    let iv = [3, 0, 3];
    let lv = [2, 0];

    let mm = g.matmul(a, b).unwrap();
    let sm = g.softmax(a, 1).unwrap();
    let rows = g.gather_rows(table, idx).unwrap();
    let idx_col = g.reshape(idx, &[3, 1]).unwrap();
    let scattered = g.scatter_add_rows(idx_col, rows, 5).unwrap();
    let tr = g.transpose(b, &[1, 0]).unwrap();
    let sl = g.slice(b, &[0, 1], &[3, 4], &[2, 2]).unwrap();
    let cat = g.concatenate(&[a, a], 0).unwrap();
    let mx = g.reduce_max(b, &[0]).unwrap();
    let ce = g.cross_entropy(a, labels).unwrap();
    let one = g.scalar(1.0, DType::F64).unwrap();
    let zero = g.scalar(0.0, DType::F64).unwrap();
    let ln = g.layer_norm(b, one, zero, 0.0).unwrap();
    let iota = g.iota(&[2, 3], 1, DType::S32).unwrap();
    let outputs = [mm, sm, rows, scattered, tr, sl, cat, mx, ce, ln, iota];
    let exe = h.compile(&g, &outputs, &LowerOptions::default());
    let inputs = [
        Host::F64(av.clone()),
        Host::F64(bv.clone()),
        Host::F64(tv.clone()),
        Host::I32(iv.to_vec()),
        Host::I32(lv.to_vec()),
    ];
    let out = h.run(&exe, &g, &outputs, &inputs);

    let mut want = vec![0.0; 8];
    for i in 0..2 {
        for j in 0..4 {
            want[i * 4 + j] = (0..3).map(|k| av[i * 3 + k] * bv[k * 4 + j]).sum();
        }
    }
    close(&out[0], &want, 1e-12, "matmul");

    let mut softmax = Vec::new();
    let mut ce = 0.0;
    for i in 0..2 {
        let row = &av[i * 3..i * 3 + 3];
        let z: f64 = row.iter().map(|v| v.exp()).sum();
        softmax.extend(row.iter().map(|v| v.exp() / z));
        ce -= row[lv[i] as usize] - z.ln();
    }
    close(&out[1], &softmax, 1e-12, "softmax");
    close(&out[8], &[ce / 2.0], 1e-12, "cross_entropy");

    let picked: Vec<f64> = iv
        .iter()
        .flat_map(|&r| tv[r as usize * 2..r as usize * 2 + 2].to_vec())
        .collect();
    close(&out[2], &picked, 0.0, "gather");
    let mut sums = vec![0.0; 10];
    for &r in &iv {
        for c in 0..2 {
            sums[r as usize * 2 + c] += tv[r as usize * 2 + c];
        }
    }
    close(&out[3], &sums, 1e-15, "scatter-add with a repeated row");

    let transposed: Vec<f64> = (0..12).map(|k| bv[(k % 3) * 4 + k / 3]).collect();
    close(&out[4], &transposed, 0.0, "transpose");
    close(
        &out[5],
        &[bv[1], bv[3], bv[9], bv[11]],
        0.0,
        "strided slice",
    );
    close(
        &out[6],
        &[av.clone(), av.clone()].concat(),
        0.0,
        "concatenate",
    );
    let col_max: Vec<f64> = (0..4)
        .map(|j| (0..3).map(|i| bv[i * 4 + j]).fold(f64::MIN, f64::max))
        .collect();
    close(&out[7], &col_max, 0.0, "reduce max");
    for i in 0..3 {
        let row = &out[9][i * 4..i * 4 + 4];
        let mean: f64 = row.iter().sum::<f64>() / 4.0;
        let var: f64 = row.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / 4.0;
        assert!(
            mean.abs() < 1e-12 && (var - 1.0).abs() < 1e-9,
            "layer norm row {i}: {mean} {var}"
        );
    }
    close(&out[10], &[0.0, 1.0, 2.0, 0.0, 1.0, 2.0], 0.0, "iota");
}

#[test]
fn random_bits_are_deterministic_and_the_state_advances() {
    let h = Harness::new();
    let mut g = Graph::new();
    let state = g.parameter("rng", &[2], DType::U64).unwrap();
    let (next, bits) = g.rng_bit_generator(state, &[1000], DType::U32).unwrap();
    let u = g.uniform_from_bits(bits, DType::F32).unwrap();
    let (after, bits2) = g.rng_bit_generator(next, &[1000], DType::U32).unwrap();
    let outputs = [after, u, bits, bits2];
    let exe = h.compile(&g, &outputs, &LowerOptions::default());
    let seed = Host::U64(vec![42, 0]);
    let first = h.run(&exe, &g, &outputs, std::slice::from_ref(&seed));
    let again = h.run(&exe, &g, &outputs, &[seed]);
    assert_eq!(first, again, "same state, same bits");
    assert_ne!(first[2], first[3], "the threaded state gives new bits");
    assert_ne!(first[0], vec![42.0, 0.0], "the state advanced");
    let u = &first[1];
    assert!(u.iter().all(|&x| (0.0..1.0).contains(&x)));
    let mean = u.iter().sum::<f64>() / u.len() as f64;
    assert!((mean - 0.5).abs() < 0.05, "uniform mean {mean}");
    let other = h.run(&exe, &g, &outputs, &[Host::U64(vec![43, 0])]);
    assert_ne!(first[2], other[2], "another seed, other bits");
}

#[test]
fn bf16_programs_compile_and_compute_to_bf16_precision() {
    let h = Harness::new();
    let mut g = Graph::new();
    let x = g.parameter("x", &[4, 8], DType::F32).unwrap();
    let w = g.parameter("w", &[8, 3], DType::F32).unwrap();
    let xb = g.convert(x, DType::BF16).unwrap();
    let wb = g.convert(w, DType::BF16).unwrap();
    let y = g.matmul(xb, wb).unwrap();
    let y = g.gelu_tanh(y).unwrap();
    assert_eq!(g.dtype(y).unwrap(), DType::BF16);
    let exe = h.compile(&g, &[y], &LowerOptions::default());
    let xv: Vec<f32> = values(5, 32, -1.0, 1.0).iter().map(|&v| v as f32).collect();
    let wv: Vec<f32> = values(6, 24, -1.0, 1.0).iter().map(|&v| v as f32).collect();
    let out = h.run(
        &exe,
        &g,
        &[y],
        &[Host::F32(xv.clone()), Host::F32(wv.clone())],
    );
    for i in 0..4 {
        for j in 0..3 {
            let z: f64 = (0..8)
                .map(|k| f64::from(xv[i * 8 + k]) * f64::from(wv[k * 3 + j]))
                .sum();
            let gelu = 0.5
                * z
                * (1.0 + ((2.0 / std::f64::consts::PI).sqrt() * (z + 0.044715 * z * z * z)).tanh());
            let got = out[0][i * 3 + j];
            assert!(
                (got - gelu).abs() < 0.05 * (1.0 + gelu.abs()),
                "[{i},{j}] {got} vs {gelu}"
            );
            let bits = (got as f32).to_bits();
            assert_eq!(
                bits & 0xFFFF,
                0,
                "a bf16 result widened to f32 has 16 zero low bits"
            );
        }
    }
}

#[test]
fn highest_dot_precision_is_accepted_and_exact_in_f32() {
    let h = Harness::new();
    let mut g = Graph::new();
    let a = g.parameter("a", &[2, 3], DType::F32).unwrap();
    let b = g.parameter("b", &[3, 2], DType::F32).unwrap();
    let y = g.matmul(a, b).unwrap();
    let options = LowerOptions::default().with_dot_precision(DotPrecision::Highest);
    let text = xlatrain::lower::to_stablehlo(&g, &[y], &options).unwrap();
    assert!(text.contains("precision = [HIGHEST, HIGHEST]"), "{text}");
    let exe = h.compile(&g, &[y], &options);
    let av = vec![1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0];
    let out = h.run(&exe, &g, &[y], &[Host::F32(av.clone()), Host::F32(av)]);
    assert_eq!(out[0], vec![22.0, 28.0, 49.0, 64.0]);
}
