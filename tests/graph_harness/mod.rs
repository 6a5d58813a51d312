//! Test harness for running graphs on the real CPU plugin: host values in, f64 values out, and a
//! finite-difference gradient checker (one compiled program per check: the program returns the
//! loss and the gradients, and the loss output is re-evaluated at perturbed inputs).
#![allow(dead_code)]

use xlatrain::graph::{grad, DType, Graph, Tensor};
use xlatrain::lower::{to_stablehlo, LowerOptions};
use xlatrain::pjrt::{Arg, Buffer, Client, CompileOptions, Executable};

/// A host array for one parameter.
#[derive(Clone, Debug)]
pub enum Host {
    F64(Vec<f64>),
    F32(Vec<f32>),
    I32(Vec<i32>),
    U64(Vec<u64>),
}

/// Deterministic values in `[lo, hi)` (splitmix64), so failures reproduce.
pub fn values(seed: u64, n: usize, lo: f64, hi: f64) -> Vec<f64> {
    (0..n)
        .map(|i| {
            let mut z = seed
                .wrapping_add((i as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15))
                .wrapping_add(0x632B_E59B_D9B4_E019);
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^= z >> 31;
            lo + (hi - lo) * ((z >> 11) as f64 / (1u64 << 53) as f64)
        })
        .collect()
}

pub struct Harness {
    pub client: Client,
}

impl Harness {
    /// The CPU plugin; a missing plugin fails the test (tests never skip).
    pub fn new() -> Self {
        Harness {
            client: Client::cpu().expect("the CPU PJRT plugin must be available"),
        }
    }

    pub fn compile(&self, g: &Graph, outputs: &[Tensor], options: &LowerOptions) -> Executable {
        let text = to_stablehlo(g, outputs, options).unwrap();
        match self.client.compile(&text, &CompileOptions::default()) {
            Ok(exe) => exe,
            Err(e) => panic!("plugin rejected the program: {e}\n{text}"),
        }
    }

    pub fn upload(&self, g: &Graph, param: Tensor, value: &Host) -> Buffer {
        let dims: Vec<i64> = g.shape(param).unwrap().iter().map(|&d| d as i64).collect();
        let dtype = g.dtype(param).unwrap();
        let buffer = match (value, dtype) {
            (Host::F64(v), DType::F64) => self.client.upload(v, &dims, 0),
            (Host::F32(v), DType::F32) => self.client.upload(v, &dims, 0),
            (Host::I32(v), DType::S32) => self.client.upload(v, &dims, 0),
            (Host::U64(v), DType::U64) => self.client.upload(v, &dims, 0),
            _ => panic!("host value {value:?} does not fit parameter of type {dtype}"),
        };
        buffer.unwrap()
    }

    /// Runs `exe` (lowered from `g` with `outputs`) on one host value per parameter and returns
    /// every output as f64.
    pub fn run(
        &self,
        exe: &Executable,
        g: &Graph,
        outputs: &[Tensor],
        inputs: &[Host],
    ) -> Vec<Vec<f64>> {
        assert_eq!(
            inputs.len(),
            g.parameters().len(),
            "one host value per parameter"
        );
        let buffers: Vec<Buffer> = g
            .parameters()
            .iter()
            .zip(inputs)
            .map(|(&p, v)| self.upload(g, p, v))
            .collect();
        let args = buffers.iter().map(Arg::Borrowed).collect();
        let outs = exe.execute(args).unwrap();
        outs.iter()
            .zip(outputs)
            .map(|(b, &t)| download(g, t, b))
            .collect()
    }
}

pub fn download(g: &Graph, t: Tensor, b: &Buffer) -> Vec<f64> {
    match g.dtype(t).unwrap() {
        DType::F64 => b.to_vec::<f64>().unwrap(),
        DType::BF16 => {
            let mut bytes = vec![0u8; b.byte_size()];
            b.copy_to_host(&mut bytes).unwrap();
            bytes
                .chunks_exact(2)
                .map(|c| {
                    f64::from(f32::from_bits(
                        u32::from(u16::from_le_bytes([c[0], c[1]])) << 16,
                    ))
                })
                .collect()
        }
        DType::F32 => b
            .to_vec::<f32>()
            .unwrap()
            .into_iter()
            .map(f64::from)
            .collect(),
        DType::S32 => b
            .to_vec::<i32>()
            .unwrap()
            .into_iter()
            .map(f64::from)
            .collect(),
        DType::U32 => b
            .to_vec::<u32>()
            .unwrap()
            .into_iter()
            .map(f64::from)
            .collect(),
        DType::U64 => b
            .to_vec::<u64>()
            .unwrap()
            .into_iter()
            .map(|v| v as f64)
            .collect(),
        other => panic!("download of {other} not supported in tests"),
    }
}

/// `sum(y * W)` for fixed pseudo-random weights `W` in [-1, 1): a scalar loss whose upstream
/// gradient differs per element, so a misplaced axis cannot hide behind a uniform cotangent.
pub fn weighted_sum(g: &mut Graph, y: Tensor, seed: u64) -> Tensor {
    let shape = g.shape(y).unwrap().to_vec();
    let dtype = g.dtype(y).unwrap();
    let n: usize = shape.iter().product();
    let w = g
        .constant_f64(&values(seed, n, -1.0, 1.0), &shape, dtype)
        .unwrap();
    let p = g.mul(y, w).unwrap();
    let all: Vec<usize> = (0..shape.len()).collect();
    g.reduce_sum(p, &all).unwrap()
}

/// Finite-difference settings.
#[derive(Clone, Copy)]
pub struct Tolerance {
    pub step: f64,
    /// Allowed error relative to the larger of the two values.
    pub rtol: f64,
    /// Allowed error relative to the largest gradient entry of the tensor (for entries near 0).
    pub atol: f64,
    /// Checked elements per tensor at most (spread evenly over the tensor).
    pub max_elements: usize,
}

pub const F64_TOLERANCE: Tolerance = Tolerance {
    step: 1e-5,
    rtol: 1e-5,
    atol: 1e-6,
    max_elements: 64,
};

/// Checks the gradients of `loss` with respect to each of `wrt` (float parameters of `g`) against
/// central differences at `inputs` (one per parameter). Panics listing every mismatch.
pub fn check_gradients(
    h: &Harness,
    mut g: Graph,
    loss: Tensor,
    wrt: &[Tensor],
    inputs: &[Host],
    tol: Tolerance,
) {
    let grads = grad(&mut g, loss, wrt).unwrap();
    let mut outputs = vec![loss];
    outputs.extend(&grads);
    let exe = h.compile(&g, &outputs, &LowerOptions::default());
    let analytic = h.run(&exe, &g, &outputs, inputs);
    let mut failures = Vec::new();
    for (k, &p) in wrt.iter().enumerate() {
        let name = g.node(p).unwrap().name.clone().unwrap_or_default();
        let index = g
            .parameters()
            .iter()
            .position(|&q| q == p)
            .expect("wrt must be parameters");
        let Host::F64(base) = &inputs[index] else {
            panic!("{name}: gradient checks need f64 inputs")
        };
        let a = &analytic[k + 1];
        assert_eq!(a.len(), base.len(), "{name}: gradient size");
        let scale = a.iter().fold(0.0f64, |m, v| m.max(v.abs())).max(1e-3);
        let stride = base.len().div_ceil(tol.max_elements).max(1);
        for j in (0..base.len()).step_by(stride) {
            let eval = |delta: f64| {
                let mut moved = inputs.to_vec();
                let Host::F64(v) = &mut moved[index] else {
                    unreachable!()
                };
                v[j] += delta;
                h.run(&exe, &g, &outputs[..1], &moved)[0][0]
            };
            let numeric = (eval(tol.step) - eval(-tol.step)) / (2.0 * tol.step);
            let err = (a[j] - numeric).abs();
            if err > tol.rtol * a[j].abs().max(numeric.abs()) + tol.atol * scale {
                failures.push(format!(
                    "{name}[{j}]: autodiff {} vs finite difference {numeric}",
                    a[j]
                ));
            }
        }
        assert!(
            a.iter().all(|v| v.is_finite()),
            "{name}: non-finite gradient"
        );
    }
    assert!(
        failures.is_empty(),
        "gradient mismatches:\n{}",
        failures.join("\n")
    );
}
