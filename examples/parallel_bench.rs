//! Measures the train-step time of one trainer over several device meshes at the same global
//! batch: one device, `data=4`, `fsdp=4`, `data=2,fsdp=2`, `tensor=2,data=2` (and any given
//! on the command line).
//!
//! Usage: cargo run --release --example parallel_bench -- [mlp|gpt] [GLOBAL_BATCH] [STEPS] [MESH..]
//! Defaults: mlp, 128, 40 steps (the first 10 are left out of the median). Each step is timed
//! until its results are on the device (a read of the step counter).
//!
//! On the CPU plugin every device already uses all cores, so more devices share the same cores:
//! expect no speed-up there; the numbers show the collectives' overhead.

use std::time::Instant;

use anyhow::Result;
use xlatrain::config::{TrainingArgs, TrainingArgsPatch};
use xlatrain::pjrt::Client;
use xlatrain::train::{Mesh, Model, Trainer};

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
    let mut meshes: Vec<String> = argv.iter().skip(3).cloned().collect();
    if meshes.is_empty() {
        meshes = [
            "data=1",
            "data=4",
            "fsdp=4",
            "data=2,fsdp=2",
            "tensor=2,data=2",
        ]
        .map(String::from)
        .to_vec();
    }
    let client = Client::cpu()?;
    println!(
        "{model}, global batch {global}, {steps} steps, {} CPU devices available",
        client.device_count()
    );
    for text in meshes {
        let mesh = Mesh::parse(&text).map_err(anyhow::Error::msg)?;
        if !global.is_multiple_of(mesh.batch_ways()) || mesh.devices() > client.device_count() {
            println!("{text}: skipped");
            continue;
        }
        let pairs = vec![
            format!("model=\"{model}\""),
            format!("per_device_train_batch_size={}", global / mesh.batch_ways()),
            format!("mesh=\"{text}\""),
            format!("max_steps={steps}"),
        ];
        let args = TrainingArgs::resolve(TrainingArgsPatch::from_overrides(&pairs)?)?;
        let mut trainer = Trainer::with_client(client.clone(), Model::from_args(&args)?, args)?;
        let mut times = Vec::with_capacity(steps);
        for _ in 0..steps {
            let started = Instant::now();
            trainer.step()?;
            trainer.state()?.step()?;
            times.push(started.elapsed().as_secs_f64() * 1e3);
        }
        let ms = median_ms(times);
        println!(
            "{mesh} ({} devices): {ms:.2} ms/step, {:.1} steps/s",
            mesh.devices(),
            1e3 / ms
        );
    }
    Ok(())
}
