//! Shard write and read: `save_checkpoint` (fsync'd, committed) and `open_checkpoint` with full
//! verification of a 64 MiB host state (four 16 MiB f32 tensors), reading one byte per page of
//! every tensor as an upload would. The read runs warm (pages cached): it measures our code, not
//! the disk (`xlatrain bench` measures cold resumes against the disk).

use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use serde_json::json;
use xlatrain::checkpoint::{
    open_checkpoint, save_checkpoint, CheckpointContents, DType, HostTensors, SaveOptions,
    TensorSpec, TrainerState, Verify,
};

const TENSOR_ELEMENTS: usize = 4 << 20;
const TENSORS: usize = 4;

fn host_state() -> HostTensors {
    let mut state = HostTensors::new();
    for t in 0..TENSORS {
        let values = xlatrain::rng::uniform_init(t as u64, TENSOR_ELEMENTS, 0.03);
        let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        let spec = TensorSpec::new(format!("w{t}"), DType::F32, [TENSOR_ELEMENTS]);
        state.push(spec, bytes).expect("valid tensor");
    }
    state
}

fn shard_io(c: &mut Criterion) {
    let state = host_state();
    let dir = tempfile::tempdir().expect("temporary directory");
    let trainer_state = TrainerState::at_step(1);
    let empty = json!({});
    let contents = |step| CheckpointContents {
        step,
        model: &state,
        optimizer: None,
        trainer_state: &trainer_state,
        training_args: &empty,
        config: &empty,
    };
    let mut group = c.benchmark_group("checkpoint_io");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(4))
        .throughput(Throughput::Bytes((TENSORS * TENSOR_ELEMENTS * 4) as u64));
    group.bench_function("save_64MiB_durable", |b| {
        b.iter_custom(|iterations| {
            let mut total = Duration::ZERO;
            for step in 0..iterations {
                let started = Instant::now();
                let saved = save_checkpoint(dir.path(), &contents(step), &SaveOptions::default())
                    .expect("save");
                total += started.elapsed();
                std::fs::remove_dir_all(&saved.path).expect("remove checkpoint");
            }
            total
        })
    });
    let saved = save_checkpoint(dir.path(), &contents(1), &SaveOptions::default()).expect("save");
    group.bench_function("open_full_verify_64MiB_warm", |b| {
        b.iter(|| {
            let checkpoint = open_checkpoint(&saved.path, Verify::Full).expect("open");
            let mut touched = 0u64;
            for (_, bytes) in checkpoint.model.iter() {
                touched += bytes
                    .iter()
                    .step_by(4096)
                    .map(|&b| u64::from(b))
                    .sum::<u64>();
            }
            std::hint::black_box(touched)
        })
    });
    group.finish();
}

criterion_group!(benches, shard_io);
criterion_main!(benches);
