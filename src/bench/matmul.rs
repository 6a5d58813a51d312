//! The device's practical FLOP/s limit: one large f32 `dot_general` built with our own graph
//! builder, lowered to StableHLO, compiled and run through PJRT; the median over several runs
//! (after warm-up) of `2 n^3` FLOPs per run.

use std::time::Instant;

use serde::Serialize;

use super::state::f32_bytes;
use super::stats::Summary;
use crate::graph::{DType, Graph};
use crate::lower::{to_stablehlo, LowerOptions};
use crate::pjrt::{Arg, Client, CompileOptions};
use crate::{Error, Result};

/// Result of the matmul probe.
#[derive(Debug, Clone, Serialize)]
pub struct MatmulReport {
    /// Square size: `[n, n] x [n, n]`, f32, backend-default precision.
    pub n: usize,
    pub flops_per_run: f64,
    pub compile_s: f64,
    /// Seconds per execution (waited until complete).
    pub run_s: Summary,
    /// FLOP/s at the median run time: the figure other rates are compared with.
    pub flops_per_s: f64,
    /// FLOP/s of the fastest run.
    pub best_flops_per_s: f64,
}

/// The StableHLO text of `a @ b` for two `[n, n]` f32 arguments.
pub fn matmul_program(n: usize) -> Result<String> {
    let mut g = Graph::new();
    let a = g.parameter("a", &[n, n], DType::F32)?;
    let b = g.parameter("b", &[n, n], DType::F32)?;
    let c = g.matmul(a, b)?;
    to_stablehlo(&g, &[c], &LowerOptions::default())
}

/// Compiles and times the product on device 0: `warmup` untimed runs, then `runs` timed ones.
pub fn measure(client: &Client, n: usize, warmup: usize, runs: usize) -> Result<MatmulReport> {
    if n == 0 || runs == 0 {
        return Err(Error::Usage(
            "the matmul size and run count must be positive".into(),
        ));
    }
    let program = matmul_program(n)?;
    let started = Instant::now();
    let executable = client.compile(&program, &CompileOptions::replicated(1))?;
    let compile_s = started.elapsed().as_secs_f64();
    let values: Vec<f32> = (0..n * n).map(|i| ((i % 17) as f32 - 8.0) / 16.0).collect();
    let bytes = f32_bytes(&values);
    let dims = [n as i64, n as i64];
    let a = client.buffer_from_bytes(&bytes, crate::pjrt::DType::F32, &dims, 0)?;
    let b = client.buffer_from_bytes(&bytes, crate::pjrt::DType::F32, &dims, 0)?;
    for _ in 0..warmup {
        executable.execute(vec![Arg::Borrowed(&a), Arg::Borrowed(&b)])?;
    }
    let mut times = Vec::with_capacity(runs);
    for _ in 0..runs {
        let started = Instant::now();
        let out = executable.execute(vec![Arg::Borrowed(&a), Arg::Borrowed(&b)])?;
        times.push(started.elapsed().as_secs_f64());
        drop(out);
    }
    let run_s = Summary::of(&times).ok_or_else(|| Error::BenchCheck {
        check: "matmul".into(),
        reason: "no timings".into(),
    })?;
    let flops_per_run = 2.0 * (n as f64).powi(3);
    Ok(MatmulReport {
        n,
        flops_per_run,
        compile_s,
        flops_per_s: flops_per_run / run_s.median,
        best_flops_per_s: flops_per_run / run_s.min,
        run_s,
    })
}
