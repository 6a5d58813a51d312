//! Building, differentiating and lowering the trainer's step programs to StableHLO: pure Rust
//! work that runs before every compile (and decides the executable-cache key). The GPT step is
//! the reference tiny GPT (4 layers, d_model 256, seq 128, batch 16) with AdamW and clipping.

use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use xlatrain::bench::ReferenceRun;
use xlatrain::config::ModelKind;

fn lowering(c: &mut Criterion) {
    let mut group = c.benchmark_group("lowering");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(3));
    for (name, kind) in [
        ("gpt_train_step", ModelKind::Gpt),
        ("mlp_train_step", ModelKind::Mlp),
    ] {
        let run = ReferenceRun::new(kind).expect("reference run");
        group.bench_function(name, |b| b.iter(|| run.step_program().expect("lower")));
    }
    group.finish();
}

criterion_group!(benches, lowering);
criterion_main!(benches);
