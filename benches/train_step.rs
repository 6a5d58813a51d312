//! One train step on the device: the reference MLP (784-512-512-10, batch 128) forward, gradient
//! and SGD update as one compiled program, parameters donated into their updates, the batch
//! already on the device (as the JAX reference times it).

use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use xlatrain::bench::mlp_sgd_step;
use xlatrain::models::{MlpConfig, ModelConfig};
use xlatrain::pjrt::{Arg, Buffer, Client, CompileOptions};

fn train_step(c: &mut Criterion) {
    let client = Client::cpu().expect("the CPU PJRT plugin must be available");
    let config = MlpConfig::default();
    let batch = 128;
    let step = mlp_sgd_step(&config, batch, 0.01).expect("step program");
    let executable = client
        .compile(&step.text, &CompileOptions::replicated(1))
        .expect("compile");
    let initial = ModelConfig::Mlp(config).init_params().expect("init");
    let mut params: Vec<Buffer> = initial
        .iter()
        .zip(&step.params)
        .map(|(values, shape)| {
            let dims: Vec<i64> = shape.iter().map(|&d| d as i64).collect();
            client.upload(values, &dims, 0).expect("upload")
        })
        .collect();
    let x_values = xlatrain::rng::uniform_init(9, batch * step.input_dim, 1.0);
    let x = client
        .upload(&x_values, &[batch as i64, step.input_dim as i64], 0)
        .expect("upload x");
    let labels: Vec<i32> = (0..batch as i32).map(|i| i % 10).collect();
    let y = client
        .upload(&labels, &[batch as i64], 0)
        .expect("upload y");

    let mut group = c.benchmark_group("train_step");
    group
        .sample_size(30)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3))
        .throughput(Throughput::Elements(batch as u64));
    group.bench_function("mlp_784_512_512_10_b128_sgd", |b| {
        b.iter(|| {
            let mut args: Vec<Arg> = params.drain(..).map(Arg::Donated).collect();
            args.push(Arg::Borrowed(&x));
            args.push(Arg::Borrowed(&y));
            let mut outputs = executable.execute(args).expect("execute");
            params = outputs.split_off(1);
            outputs
        })
    });
    group.finish();
    let loss = executable
        .execute(
            params
                .iter()
                .map(Arg::Borrowed)
                .chain([Arg::Borrowed(&x), Arg::Borrowed(&y)])
                .collect(),
        )
        .expect("execute")[0]
        .to_vec::<f32>()
        .expect("loss")[0];
    assert!(
        loss.is_finite() && loss < 2.3,
        "training must reduce the loss, got {loss}"
    );
}

criterion_group!(benches, train_step);
criterion_main!(benches);
