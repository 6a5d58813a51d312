//! Measures the train-step time of one device, data parallelism (replicated state, in-graph
//! all-reduce) and SPMD sharding (state in row blocks) over 1, 2 and 4 CPU devices at the same
//! global batch.
//!
//! Usage: cargo run --release --example parallel_bench -- [mlp|gpt] [GLOBAL_BATCH] [STEPS]
//! Defaults: mlp, 128, 40 steps (the first 10 are left out of the median). Each step is timed
//! until its results are on the device (a read of the step counter or the loss).
//!
//! On the CPU plugin every device already uses all cores, so more devices share the same cores:
//! expect no speed-up there; the numbers show the collectives' overhead.

use std::time::Instant;

use anyhow::{Context, Result};
use xlatrain::config::{TrainingArgs, TrainingArgsPatch};
use xlatrain::pjrt::Client;
use xlatrain::train::spmd::ShardedTrainer;
use xlatrain::train::Trainer;

fn median_ms(mut times: Vec<f64>) -> f64 {
    let warm = times.split_off(times.len().min(10));
    let mut steady = if warm.is_empty() { times } else { warm };
    steady.sort_by(f64::total_cmp);
    steady.get(steady.len() / 2).copied().unwrap_or(f64::NAN)
}

fn main() -> Result<()> {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let model = argv.first().map_or("mlp", String::as_str).to_string();
    let global: usize = argv.get(1).map_or(Ok(128), |s| s.parse())?;
    let steps: usize = argv.get(2).map_or(Ok(40), |s| s.parse())?;
    let client = Client::cpu()?;
    println!(
        "{model}, global batch {global}, {steps} steps, {} CPU devices available",
        client.device_count()
    );
    for devices in [1usize, 2, 4] {
        if !global.is_multiple_of(devices) || devices > client.device_count() {
            continue;
        }
        let pairs = vec![
            format!("model=\"{model}\""),
            format!("per_device_train_batch_size={}", global / devices),
            format!("num_devices={devices}"),
            format!("max_steps={steps}"),
        ];
        let args = TrainingArgs::resolve(TrainingArgsPatch::from_overrides(&pairs)?)?;

        let mut trainer = Trainer::new(client.clone(), args.clone())?;
        let mut times = Vec::with_capacity(steps);
        for _ in 0..steps {
            let started = Instant::now();
            trainer.step()?;
            trainer.state()?.step()?;
            times.push(started.elapsed().as_secs_f64() * 1e3);
        }
        let replicated = median_ms(times);

        let mut sharded =
            ShardedTrainer::new(client.clone(), &args, devices).context("the SPMD step")?;
        let mut times = Vec::with_capacity(steps);
        for _ in 0..steps {
            let started = Instant::now();
            sharded.step()?;
            times.push(started.elapsed().as_secs_f64() * 1e3);
        }
        let spmd = median_ms(times);
        println!(
            "{devices} device(s): replicated {replicated:.2} ms/step, sharded (SPMD) {spmd:.2} \
             ms/step"
        );
    }
    Ok(())
}
