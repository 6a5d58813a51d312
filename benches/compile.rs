//! Compiling the trainer's MLP train step (reference MLP 784-512-512-10, batch 128, Adam) through
//! PJRT: uncached (XLA compiles every time) against cached (the executable cache finds the
//! serialized executable and only deserializes it).

use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use xlatrain::bench::ReferenceRun;
use xlatrain::config::ModelKind;
use xlatrain::pjrt::{Client, ClientOptions, CompileOptions};

fn compile(c: &mut Criterion) {
    let cache = tempfile::tempdir().expect("temporary directory");
    let client = Client::open(&ClientOptions {
        cache_dir: Some(cache.path().to_path_buf()),
        ..ClientOptions::default()
    })
    .expect("the CPU PJRT plugin must be available");
    let run = ReferenceRun::new(ModelKind::Mlp).expect("reference run");
    let program = run.step_program().expect("step program").mlir;
    let options = CompileOptions::default();
    let mut group = c.benchmark_group("compile_mlp_train_step");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(5));
    group.bench_function("uncached", |b| {
        b.iter(|| {
            client
                .compile_uncached(&program, &options)
                .expect("compile")
        })
    });
    client.compile(&program, &options).expect("compile");
    group.bench_function("cached", |b| {
        b.iter(|| client.compile(&program, &options).expect("compile"))
    });
    group.finish();
    assert!(
        client.cache_stats().hits > 0,
        "the cached runs must hit the cache"
    );
}

criterion_group!(benches, compile);
criterion_main!(benches);
