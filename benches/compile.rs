//! Compiling a train-step program (the reference MLP 784-512-512-10, batch 128, SGD) through
//! PJRT: uncached (XLA compiles every time) against cached (the executable cache finds the
//! serialized executable and only deserializes it).

use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use xlatrain::bench::mlp_sgd_step;
use xlatrain::models::MlpConfig;
use xlatrain::pjrt::{Client, ClientOptions, CompileOptions};

fn compile(c: &mut Criterion) {
    let cache = tempfile::tempdir().expect("temporary directory");
    let client = Client::open(&ClientOptions {
        cache_dir: Some(cache.path().to_path_buf()),
        ..ClientOptions::default()
    })
    .expect("the CPU PJRT plugin must be available");
    let step = mlp_sgd_step(&MlpConfig::default(), 128, 0.01).expect("step program");
    let options = CompileOptions::replicated(1);
    let mut group = c.benchmark_group("compile_mlp_step");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(5));
    group.bench_function("uncached", |b| {
        b.iter(|| {
            client
                .compile_uncached(&step.text, &options)
                .expect("compile")
        })
    });
    client.compile(&step.text, &options).expect("compile");
    group.bench_function("cached", |b| {
        b.iter(|| client.compile(&step.text, &options).expect("compile"))
    });
    group.finish();
    assert!(
        client.cache_stats().hits > 0,
        "the cached runs must hit the cache"
    );
}

criterion_group!(benches, compile);
criterion_main!(benches);
