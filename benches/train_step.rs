//! One train step on the device: the trainer's step program for the reference MLP (784-512-512-10,
//! batch 128, Adam) from the reference initial state, state donated into the next state, the batch
//! already on the device (as the JAX reference times it).

use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use xlatrain::bench::ReferenceRun;
use xlatrain::config::ModelKind;
use xlatrain::data::Inputs;
use xlatrain::pjrt::{Arg, Client, CompileOptions};
use xlatrain::train::TrainState;

fn train_step(c: &mut Criterion) {
    let client = Client::cpu().expect("the CPU PJRT plugin must be available");
    let run = ReferenceRun::new(ModelKind::Mlp).expect("reference run");
    let program = run.step_program().expect("step program");
    let executable = client
        .compile(&program.mlir, &CompileOptions::default())
        .expect("compile");
    let mut state = Some(
        TrainState::initial(&client, &run.model, &run.optimizer, run.args.seed).expect("state"),
    );
    let batch = run.dataset.batch_at(&run.dataset.start_cursor());
    let x = match &batch.x {
        Inputs::F32(values) => client.upload(values, &program.x.dims(), 0),
        Inputs::I32(values) => client.upload(values, &program.x.dims(), 0),
    }
    .expect("upload x");
    let y = client
        .upload(&batch.y, &program.y.dims(), 0)
        .expect("upload y");

    let mut group = c.benchmark_group("train_step");
    group
        .sample_size(30)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3))
        .throughput(Throughput::Elements(
            run.args.per_device_train_batch_size as u64,
        ));
    group.bench_function("mlp_784_512_512_10_b128_adam", |b| {
        b.iter(|| {
            let (descs, buffers) = state.take().expect("state").into_parts();
            let n = descs.len();
            let mut args: Vec<Arg> = buffers.into_iter().map(Arg::Donated).collect();
            args.push(Arg::Borrowed(&x));
            args.push(Arg::Borrowed(&y));
            let mut outputs = executable.execute(args).expect("execute");
            let metrics = outputs.split_off(n);
            state = Some(TrainState::from_parts(descs, outputs).expect("state"));
            metrics
        })
    });
    group.finish();
    // Steps on one repeated batch must drive its loss down (the benchmark trained for real).
    let (descs, buffers) = state.take().expect("state").into_parts();
    let mut args: Vec<Arg> = buffers.iter().map(Arg::Borrowed).collect();
    args.push(Arg::Borrowed(&x));
    args.push(Arg::Borrowed(&y));
    let outputs = executable.execute(args).expect("execute");
    let loss = outputs[descs.len()].to_vec::<f32>().expect("loss")[0];
    assert!(
        loss < 2.0,
        "training on one batch must reduce its loss, got {loss}"
    );
}

criterion_group!(benches, train_step);
criterion_main!(benches);
