//! Optimizer and schedule semantics on the device against host computations: AdamW (optax
//! formulas, weight decay only on ndim >= 2), SGD with momentum, the learning-rate schedules at
//! many steps, and gradient accumulation equal to one larger batch.

mod train_common;

use train_common::{args, cpu, trainer};
use xlatrain::config::LrSchedulerType;
use xlatrain::data::{Dataset, Inputs};
use xlatrain::graph::{DType, Graph};
use xlatrain::lower::{to_stablehlo, LowerOptions};
use xlatrain::optim::{OptimizerSpec, Schedule};
use xlatrain::pjrt::{Arg, CompileOptions};
use xlatrain::train::{train_step_program, TrainState};

/// Host gradients of the one-layer softmax classifier `x W + b` (mean cross-entropy).
fn host_grads(
    w: &[f64],
    b: &[f64],
    x: &[f32],
    y: &[i32],
    d: usize,
    c: usize,
) -> (Vec<f64>, Vec<f64>) {
    let n = y.len();
    let (mut gw, mut gb) = (vec![0.0; d * c], vec![0.0; c]);
    for s in 0..n {
        let logits: Vec<f64> = (0..c)
            .map(|k| {
                b[k] + (0..d)
                    .map(|i| f64::from(x[s * d + i]) * w[i * c + k])
                    .sum::<f64>()
            })
            .collect();
        let m = logits.iter().cloned().fold(f64::MIN, f64::max);
        let z: f64 = logits.iter().map(|l| (l - m).exp()).sum();
        for k in 0..c {
            let p = (logits[k] - m).exp() / z;
            let dl = (p - f64::from(u8::from(y[s] as usize == k))) / n as f64;
            gb[k] += dl;
            for i in 0..d {
                gw[i * c + k] += f64::from(x[s * d + i]) * dl;
            }
        }
    }
    (gw, gb)
}

fn batch(dataset: &Dataset, step: u64) -> (Vec<f32>, Vec<i32>) {
    let b = dataset.batch_at(&dataset.cursor_at(step));
    match b.x {
        Inputs::F32(x) => (x, b.y),
        Inputs::I32(_) => unreachable!(),
    }
}

fn assert_all_close(ours: &[f32], host: &[f64], tol: f64, what: &str) {
    for (i, (&a, &b)) in ours.iter().zip(host).enumerate() {
        let err = (f64::from(a) - b).abs() / b.abs().max(1e-3);
        assert!(err < tol, "{what}[{i}]: device {a} vs host {b}");
    }
}

/// Runs `steps` steps of a [6, 3] classifier and the same update rule on the host.
fn check_against_host(
    pairs: &[&str],
    steps: u64,
    mut update: impl FnMut(&mut [f64], &[f64], usize, u64, bool),
) {
    let mut t = trainer(pairs);
    let (d, c) = (6, 3);
    let init = t.model().init_params().unwrap();
    let mut w: Vec<f64> = init[0].iter().map(|&v| f64::from(v)).collect();
    let mut b: Vec<f64> = init[1].iter().map(|&v| f64::from(v)).collect();
    for step in 0..steps {
        let (x, y) = batch(t.dataset(), step);
        let (gw, gb) = host_grads(&w, &b, &x, &y, d, c);
        update(&mut w, &gw, 0, step, true);
        update(&mut b, &gb, 1, step, false);
        t.step().unwrap();
    }
    let state = t.state().unwrap();
    assert_all_close(&state.read_f32("fc0.w").unwrap(), &w, 2e-4, "fc0.w");
    assert_all_close(&state.read_f32("fc0.b").unwrap(), &b, 2e-4, "fc0.b");
}

#[test]
fn adamw_matches_optax_formulas_and_decays_only_matrices() {
    let (lr, b1, b2, eps, wd) = (0.05, 0.9, 0.99, 1e-8, 0.5);
    let mut m = [vec![0.0; 18], vec![0.0; 3]];
    let mut v = [vec![0.0; 18], vec![0.0; 3]];
    check_against_host(
        &[
            "model=\"mlp\"",
            "layers=[6, 3]",
            "per_device_train_batch_size=8",
            "learning_rate=0.05",
            "adam_beta2=0.99",
            "weight_decay=0.5",
            "max_steps=3",
        ],
        3,
        |p, g, slot, step, decays| {
            let t = (step + 1) as i32;
            for i in 0..p.len() {
                m[slot][i] = b1 * m[slot][i] + (1.0 - b1) * g[i];
                v[slot][i] = b2 * v[slot][i] + (1.0 - b2) * g[i] * g[i];
                let mh = m[slot][i] / (1.0 - b1.powi(t));
                let vh = v[slot][i] / (1.0 - b2.powi(t));
                let decay = if decays { wd * p[i] } else { 0.0 };
                p[i] -= lr * (mh / (vh.sqrt() + eps) + decay);
            }
        },
    );
}

#[test]
fn sgd_with_momentum_matches_the_host_update() {
    let (lr, mu) = (0.5, 0.9);
    let mut buf = [vec![0.0; 18], vec![0.0; 3]];
    check_against_host(
        &[
            "model=\"mlp\"",
            "layers=[6, 3]",
            "per_device_train_batch_size=8",
            "optimizer=\"sgd\"",
            "momentum=0.9",
            "learning_rate=0.5",
            "weight_decay=0.0",
            "max_steps=3",
        ],
        3,
        |p, g, slot, _, _| {
            for i in 0..p.len() {
                buf[slot][i] = mu * buf[slot][i] + g[i];
                p[i] -= lr * buf[slot][i];
            }
        },
    );
}

/// Hugging Face's schedule formulas, written out independently of `optim.rs`.
fn hf_lr(kind: LrSchedulerType, base: f64, warmup: u64, total: u64, step: u64) -> f64 {
    let (s, w, t) = (step as f64, warmup as f64, total as f64);
    let f = match kind {
        LrSchedulerType::Constant => 1.0,
        _ if step < warmup => s / w,
        LrSchedulerType::ConstantWithWarmup => 1.0,
        LrSchedulerType::Linear => f64::max(0.0, (t - s) / f64::max(1.0, t - w)),
        LrSchedulerType::Cosine => {
            let progress = (s - w) / f64::max(1.0, t - w);
            f64::max(
                0.0,
                0.5 * (1.0 + (std::f64::consts::PI * 2.0 * 0.5 * progress).cos()),
            )
        }
    };
    base * f
}

#[test]
fn schedules_on_the_device_follow_the_hugging_face_formulas() {
    let client = cpu();
    let steps: Vec<i32> = vec![0, 1, 5, 9, 10, 11, 30, 55, 99, 100, 120];
    for kind in [
        LrSchedulerType::Constant,
        LrSchedulerType::ConstantWithWarmup,
        LrSchedulerType::Linear,
        LrSchedulerType::Cosine,
    ] {
        let schedule = Schedule {
            kind,
            base_lr: 3e-4,
            warmup_steps: 10,
            total_steps: 100,
        };
        let mut g = Graph::new();
        let step = g.parameter("step", &[steps.len()], DType::S32).unwrap();
        let lr = schedule.build(&mut g, step).unwrap();
        let text = to_stablehlo(&g, &[lr], &LowerOptions::default()).unwrap();
        let exe = client.compile(&text, &CompileOptions::default()).unwrap();
        let input = client.upload(&steps, &[steps.len() as i64], 0).unwrap();
        let out = exe.execute(vec![Arg::Borrowed(&input)]).unwrap()[0]
            .to_vec::<f32>()
            .unwrap();
        for (&s, &device) in steps.iter().zip(&out) {
            let want = hf_lr(kind, 3e-4, 10, 100, s as u64);
            assert!(
                (f64::from(device) - want).abs() <= 1e-6 * 3e-4 + 1e-6 * want,
                "{kind:?} step {s}: device {device} vs HF {want}"
            );
            assert!(
                (schedule.lr_at(s as u64) - want).abs() < 1e-15,
                "{kind:?} host formula at {s}"
            );
        }
    }
}

#[test]
fn gradient_accumulation_equals_one_batch_n_times_larger() {
    let client = cpu();
    let settings = args(&[
        "model=\"mlp\"",
        "layers=[784, 32, 10]",
        "optimizer=\"sgd\"",
        "learning_rate=0.5",
        "per_device_train_batch_size=24",
    ]);
    let model = settings.model_config().unwrap();
    let optimizer = OptimizerSpec::from_args(&settings, 10);
    let dataset = Dataset::open(&settings.data_spec().unwrap()).unwrap();
    let (x, y) = batch(&dataset, 0);
    let big = dataset.batch_layout();
    let mut small = big.clone();
    small.x_shape[0] = 8;
    small.y_shape[0] = 8;
    let mut params_after = Vec::new();
    for (layout, micro) in [(&big, 1usize), (&small, 3usize)] {
        let program = train_step_program(&model, &optimizer, layout, micro).unwrap();
        let exe = client
            .compile(&program.mlir, &CompileOptions::default())
            .unwrap();
        let state = TrainState::initial(&client, &model, &optimizer, 42).unwrap();
        let xb = client.upload(&x, &program.x.dims(), 0).unwrap();
        let yb = client.upload(&y, &program.y.dims(), 0).unwrap();
        let mut a: Vec<Arg> = state.buffers().iter().map(Arg::Borrowed).collect();
        a.push(Arg::Borrowed(&xb));
        a.push(Arg::Borrowed(&yb));
        let out = exe.execute(a).unwrap();
        let loss = out[out.len() - 3].to_vec::<f32>().unwrap()[0];
        let params: Vec<Vec<f32>> = out[..4]
            .iter()
            .map(|b| b.to_vec::<f32>().unwrap())
            .collect();
        params_after.push((loss, params));
    }
    let (one, accumulated) = (&params_after[0], &params_after[1]);
    assert!(
        (one.0 - accumulated.0).abs() < 1e-5,
        "losses {} vs {}",
        one.0,
        accumulated.0
    );
    let init = model.init_params().unwrap();
    for (k, (p, q)) in one.1.iter().zip(&accumulated.1).enumerate() {
        let moved = p.iter().zip(&init[k]).any(|(a, b)| a != b);
        assert!(moved || k % 2 == 1, "parameter {k} did not move");
        for (a, b) in p.iter().zip(q) {
            assert!(
                (a - b).abs() <= 1e-5 + 1e-4 * a.abs(),
                "param {k}: {a} vs {b}"
            );
        }
    }
}
