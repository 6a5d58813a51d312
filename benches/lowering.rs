//! Building, differentiating and lowering step programs to StableHLO text: pure Rust work that
//! runs before every compile (and decides the executable-cache key).

use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use xlatrain::bench::mlp_sgd_step;
use xlatrain::models::MlpConfig;

fn lowering(c: &mut Criterion) {
    let mut group = c.benchmark_group("lowering");
    group
        .sample_size(20)
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(2));
    group.bench_function("mlp_784_512_512_10_sgd_step", |b| {
        b.iter(|| mlp_sgd_step(&MlpConfig::default(), 128, 0.01).expect("lower"))
    });
    group.finish();
}

criterion_group!(benches, lowering);
criterion_main!(benches);
