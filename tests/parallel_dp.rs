//! Data parallelism (`num_devices = N`, the mesh `data=N`): a run over 1, 2 or 4 CPU devices at
//! the same GLOBAL batch follows the single-device run's loss curve within float tolerance, and
//! the replicated state stays bit-identical on every device (the SPMD partitioner all-reduces the
//! gradients before clipping and the optimizer).

mod train_common;

use train_common::{args, cpu, step_losses, trainer};
use xlatrain::config::NumDevices;
use xlatrain::train::{Model, Trainer};
use xlatrain::Error;

/// MLP over a global batch of 64, with clipping that binds, so averaging must come before it.
fn mlp(per_device: usize, devices: usize) -> Vec<String> {
    vec![
        "model=\"mlp\"".into(),
        format!("per_device_train_batch_size={per_device}"),
        format!("num_devices={devices}"),
        "max_steps=10".into(),
        "max_grad_norm=0.5".into(),
        "lr_scheduler_type=\"linear\"".into(),
    ]
}

fn dp_trainer(pairs: &[String]) -> Trainer {
    let pairs: Vec<&str> = pairs.iter().map(String::as_str).collect();
    trainer(&pairs)
}

/// Per-step `(loss, grad_norm)` with metrics read back every step.
fn curve(t: &mut Trainer, steps: usize) -> Vec<(f64, f64)> {
    (0..steps)
        .map(|_| {
            t.step().unwrap();
            let entry = t.log_metrics().unwrap().unwrap();
            (
                entry["loss"].as_f64().unwrap(),
                entry["grad_norm"].as_f64().unwrap(),
            )
        })
        .collect()
}

fn assert_replicas_identical(t: &Trainer) {
    let state = t.state().unwrap();
    for desc in state.descriptors() {
        let copies = state.shards_of(&desc.name).unwrap();
        assert_eq!(copies.len(), t.num_devices());
        let bytes = |b: &xlatrain::pjrt::Buffer| {
            assert_eq!(b.dims(), desc.dims(), "{} is not replicated", desc.name);
            let mut out = vec![0u8; b.byte_size()];
            b.copy_to_host(&mut out).unwrap();
            out
        };
        let first = bytes(copies[0]);
        for (replica, copy) in copies.iter().enumerate().skip(1) {
            assert!(
                bytes(copy) == first,
                "replica {replica} differs from replica 0 in {}",
                desc.name
            );
        }
    }
}

fn relative(a: f64, b: f64) -> f64 {
    (a - b).abs() / b.abs().max(1e-12)
}

#[test]
fn two_and_four_devices_follow_the_single_device_loss_curve_at_the_same_global_batch() {
    let mut single = dp_trainer(&mlp(64, 1));
    assert_eq!(single.num_devices(), 1);
    let reference = curve(&mut single, 10);
    let reference_params = single.state().unwrap().read_f32("fc0.w").unwrap();
    for devices in [2, 4] {
        let mut t = dp_trainer(&mlp(64 / devices, devices));
        assert_eq!(t.num_devices(), devices);
        let ours = curve(&mut t, 10);
        for (step, ((loss, norm), (ref_loss, ref_norm))) in ours.iter().zip(&reference).enumerate()
        {
            assert!(
                relative(*loss, *ref_loss) <= 1e-5,
                "{devices} devices, step {}: loss {loss} vs single-device {ref_loss}",
                step + 1
            );
            assert!(
                relative(*norm, *ref_norm) <= 1e-4,
                "{devices} devices, step {}: grad norm {norm} vs single-device {ref_norm}",
                step + 1
            );
        }
        let params = t.state().unwrap().read_f32("fc0.w").unwrap();
        let worst = params
            .iter()
            .zip(&reference_params)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0f32, f32::max);
        assert!(worst <= 1e-4, "{devices} devices: fc0.w differs by {worst}");
        assert_replicas_identical(&t);
        assert_eq!(t.state().unwrap().step().unwrap(), 10);
    }
}

#[test]
fn each_device_trains_on_its_slice_not_on_the_whole_batch() {
    // The same per-device batch on 2 devices sees twice the data of one device: a different run.
    let mut one = dp_trainer(&mlp(32, 1));
    let mut two = dp_trainer(&mlp(32, 2));
    let a = step_losses(&mut one, 3);
    let b = step_losses(&mut two, 3);
    assert!(
        a.iter().zip(&b).any(|(x, y)| relative(*x, *y) > 1e-4),
        "a global batch of 64 gave the losses of a batch of 32: {a:?} vs {b:?}"
    );
}

const SMALL_GPT: [&str; 8] = [
    "model=\"gpt\"",
    "d_model=32",
    "n_layers=1",
    "n_heads=2",
    "d_ff=64",
    "seq_len=16",
    "max_steps=6",
    "max_grad_norm=1.0",
];

#[test]
fn gpt_without_dropout_matches_one_device_and_with_dropout_stays_replicated() {
    let with = |extra: &[&str]| -> Trainer {
        let mut pairs: Vec<&str> = SMALL_GPT.to_vec();
        pairs.extend_from_slice(extra);
        trainer(&pairs)
    };
    let mut single = with(&["per_device_train_batch_size=8"]);
    let mut two = with(&["per_device_train_batch_size=4", "num_devices=2"]);
    let a = step_losses(&mut single, 4);
    let b = step_losses(&mut two, 4);
    for (step, (x, y)) in a.iter().zip(&b).enumerate() {
        assert!(relative(*y, *x) <= 1e-5, "step {}: {y} vs {x}", step + 1);
    }
    assert_replicas_identical(&two);

    let mut dropout = with(&[
        "per_device_train_batch_size=4",
        "num_devices=\"all\"",
        "dropout=0.1",
    ]);
    assert_eq!(dropout.num_devices(), cpu().device_count());
    let losses = step_losses(&mut dropout, 4);
    assert!(losses.iter().all(|l| l.is_finite()), "{losses:?}");
    assert_replicas_identical(&dropout);
}

#[test]
fn num_devices_accepts_a_count_or_all_and_rejects_more_than_the_client_has() {
    let available = cpu().device_count();
    assert_eq!(NumDevices::All.resolve(available).unwrap(), available);
    assert_eq!(NumDevices::Count(2).resolve(available).unwrap(), 2);
    let too_many = format!("num_devices={}", available + 1);
    let Err(err) = Trainer::with_client(cpu(), Model::mlp(), args(&["model=\"mlp\"", &too_many]))
    else {
        panic!("{too_many} was accepted");
    };
    assert!(
        matches!(&err, Error::InvalidArgument { key, .. } if key == "num_devices"),
        "{err}"
    );
    for bad in ["num_devices=0", "num_devices=\"some\""] {
        let parsed = xlatrain::config::TrainingArgsPatch::from_overrides(&[bad])
            .and_then(xlatrain::config::TrainingArgs::resolve);
        assert!(
            matches!(parsed, Err(Error::InvalidArgument { .. })),
            "{bad} was accepted"
        );
    }
}

fn xlatrain(args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_xlatrain"))
        .args(args)
        .env("TF_CPP_MIN_LOG_LEVEL", "3")
        .output()
        .expect("run xlatrain")
}

#[test]
fn the_cli_trains_over_num_devices_and_rejects_counts_it_cannot_serve() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let common = [
        "--model",
        "mlp",
        "--layers",
        "[16,8,4]",
        "--per-device-train-batch-size",
        "4",
        "--max-steps",
        "3",
        "--logging-steps",
        "1",
        "--set",
        "save_strategy=\"no\"",
    ];
    let mut run: Vec<&str> = vec!["train", "--output-dir", out.to_str().unwrap()];
    run.extend(common);
    run.extend(["--num-devices", "all"]);
    let done = xlatrain(&run);
    assert!(
        done.status.success(),
        "{}",
        String::from_utf8_lossy(&done.stderr)
    );
    let metrics = std::fs::read_to_string(out.join("metrics.jsonl")).unwrap();
    assert_eq!(metrics.matches("\"loss\"").count(), 3, "{metrics}");
    // 4 devices x 4 samples x 3 steps
    assert!(metrics.contains("\"train_samples_per_second\""));

    for (count, key) in [("9", "num_devices"), ("some", "num_devices")] {
        let mut bad: Vec<&str> = vec!["train", "--output-dir", out.to_str().unwrap()];
        bad.extend(common);
        bad.extend(["--num-devices", count]);
        let refused = xlatrain(&bad);
        assert_eq!(refused.status.code(), Some(2), "--num-devices {count}");
        assert!(String::from_utf8_lossy(&refused.stderr).contains(key));
    }

    let mut lower: Vec<&str> = vec!["lower"];
    lower.extend(common);
    lower.extend(["--num-devices", "2"]);
    let printed = xlatrain(&lower);
    assert!(printed.status.success());
    // the global program, the batch split over the data axis and the state replicated
    let mlir = String::from_utf8_lossy(&printed.stdout).into_owned();
    assert!(mlir.contains("mhlo.num_partitions = 2 : i32"), "{mlir}");
    assert!(mlir.contains("mhlo.sharding = \"{devices=[1,2,1]0,1}\""));
    assert!(mlir.contains("mhlo.sharding = \"{replicated}\""));
    lower.pop();
    lower.push("all");
    assert_eq!(xlatrain(&lower).status.code(), Some(2));
}

#[test]
fn accumulation_and_eval_work_per_device_as_on_one_device() {
    let run = |per_device: &str, devices: &str| -> Trainer {
        trainer(&[
            "model=\"mlp\"",
            "layers=[784,64,10]",
            per_device,
            devices,
            "gradient_accumulation_steps=2",
            "eval_strategy=\"steps\"",
            "max_steps=4",
        ])
    };
    let mut one = run("per_device_train_batch_size=32", "num_devices=1");
    let mut two = run("per_device_train_batch_size=16", "num_devices=2");
    let a = step_losses(&mut one, 4);
    let b = step_losses(&mut two, 4);
    for (step, (x, y)) in a.iter().zip(&b).enumerate() {
        assert!(relative(*y, *x) <= 1e-5, "step {}: {y} vs {x}", step + 1);
    }
    let eval_one = one.evaluate().unwrap().unwrap();
    let eval_two = two.evaluate().unwrap().unwrap();
    assert!(relative(eval_two.loss, eval_one.loss) <= 1e-5);
    assert!((eval_two.accuracy - eval_one.accuracy).abs() <= 1e-6);
    assert_replicas_identical(&two);
}

#[test]
fn a_borrowed_step_hands_back_device_zeros_previous_state_and_keeps_replicas_in_step() {
    // the async checkpoint path: the pre-step state of device 0 stays valid after the step
    let mut donated = dp_trainer(&mlp(16, 4));
    let mut borrowed = dp_trainer(&mlp(16, 4));
    donated.step().unwrap();
    borrowed.step().unwrap();
    let before = borrowed.state().unwrap().to_host().unwrap();
    let previous = borrowed.step_keeping_previous().unwrap();
    assert_eq!(previous.to_host().unwrap(), before);
    assert_eq!(previous.step().unwrap(), 1);
    donated.step().unwrap();
    assert_eq!(
        borrowed.state().unwrap().to_host().unwrap(),
        donated.state().unwrap().to_host().unwrap()
    );
    assert_replicas_identical(&borrowed);
}
