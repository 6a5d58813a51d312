//! The command-line interface: argument parsing and the subcommands. `main` is a thin shim that
//! calls [`run`] and turns its result into an exit code.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use clap::{ArgAction, Args, Parser, Subcommand};

mod train;
pub use train::{SettingFlags, TrainArgs};

use crate::pjrt::signature::{main_argument_types, TensorType};
use crate::pjrt::{Arg, Buffer, Client, ClientOptions, CompileOptions, DType, DeviceKind};
use crate::{Error, Result};

/// `println!` that returns an error instead of panicking when stdout is closed (`| head`).
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        writeln!(std::io::stdout().lock(), $($arg)*)
            .map_err(|e| Error::io("cannot write to standard output", "<stdout>", e))?
    }};
}

mod bench;
mod checkpoints;
pub(crate) use checkpoints::utc_time;
mod export;
mod infer;
mod plot;

#[derive(Debug, Parser)]
#[command(
    name = "xlatrain",
    version,
    about = "A compiler-backed trainer on XLA through PJRT"
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

/// Flags every subcommand understands: which PJRT plugin to run on, how much to say on stderr.
#[derive(Debug, Clone, Args)]
pub struct GlobalArgs {
    /// Say less on stderr: only warnings and errors (-qq: only errors).
    #[arg(short, long, global = true, action = ArgAction::Count, conflicts_with = "verbose")]
    pub quiet: u8,
    /// Say more on stderr: debug messages too (-vv: trace).
    #[arg(short, long, global = true, action = ArgAction::Count)]
    pub verbose: u8,
    /// Accelerator kind; picks the plugin (CPU: fetched from PyPI on first use).
    /// (default: cpu, or `device` of a training config file)
    #[arg(long, global = true, value_enum)]
    pub device: Option<DeviceKind>,
    /// A PJRT plugin file to load instead (also $XLATRAIN_PLUGIN).
    #[arg(long, global = true, value_name = "PATH")]
    pub plugin: Option<PathBuf>,
    /// Number of CPU devices to create (CPU plugin only; default 4).
    #[arg(long, global = true, value_name = "N")]
    pub cpu_devices: Option<i64>,
}

impl GlobalArgs {
    /// The most detailed log level shown: informational messages by default, one level less per
    /// `-q` and one more per `-v`.
    pub fn log_level(&self) -> log::LevelFilter {
        const LEVELS: [log::LevelFilter; 6] = [
            log::LevelFilter::Off,
            log::LevelFilter::Error,
            log::LevelFilter::Warn,
            log::LevelFilter::Info,
            log::LevelFilter::Debug,
            log::LevelFilter::Trace,
        ];
        let info = 3i32;
        let level = (info + i32::from(self.verbose) - i32::from(self.quiet)).clamp(0, 5);
        LEVELS[level as usize]
    }

    /// The client options these flags describe.
    pub fn client_options(&self) -> ClientOptions {
        ClientOptions {
            device: self.device.unwrap_or_default(),
            plugin: self.plugin.clone(),
            cpu_device_count: self.cpu_devices,
            cache_dir: None,
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Print the platform, versions and devices of the PJRT plugin.
    Devices,
    /// Compile a StableHLO file, run it on deterministic inputs, print shapes, checksums, timings.
    RunHlo(RunHloArgs),
    /// Measure device FLOP/s, disk rates, checkpoint save/resume and training speed.
    Bench(bench::BenchArgs),
    /// Train a model (flags override --config; defaults are models.json's reference run).
    Train(TrainArgs),
    /// Print the train-step StableHLO program of a model and settings.
    Lower(TrainArgs),
    /// List, verify or inspect checkpoints.
    Checkpoints {
        #[command(subcommand)]
        command: checkpoints::CheckpointsCommand,
    },
    /// Mean next-token loss of a Hugging Face model on a token file (windows of seq_len + 1).
    Eval(infer::EvalArgs),
    /// Generate tokens from a Hugging Face model (KV cache; greedy unless --temperature > 0).
    Generate(infer::GenerateArgs),
    /// Export a checkpoint as a deploy-ready model directory (GPT: Hugging Face GPT-2 layout).
    Export(export::ExportArgs),
    /// Draw loss_curve.png and loss_curve.svg again from a run's metrics.jsonl.
    Plot(plot::PlotArgs),
    /// Print a shell completion script: `source <(xlatrain completions bash)`, or save it where
    /// the shell loads completions (zsh: a `_xlatrain` file on $fpath; fish:
    /// ~/.config/fish/completions/xlatrain.fish).
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
}

#[derive(Debug, Clone, Args)]
pub struct RunHloArgs {
    /// StableHLO text file whose entry function is `main`.
    pub file: PathBuf,
    /// Number of replicas (one device each; arguments are fed to every replica).
    #[arg(long, default_value_t = 1)]
    pub replicas: usize,
    /// Timed executions after one warm-up run.
    #[arg(long, default_value_t = 10)]
    pub iterations: usize,
    /// Compile without the executable cache.
    #[arg(long)]
    pub no_cache: bool,
}

/// Runs a parsed command line.
pub fn run(cli: Cli) -> Result<()> {
    match &cli.command {
        Command::Devices => devices(&cli.global),
        Command::RunHlo(args) => run_hlo(&cli.global, args),
        Command::Bench(args) => bench::run(&cli.global, args),
        Command::Train(args) => train::train(&cli.global, args),
        Command::Lower(args) => train::lower(args),
        Command::Checkpoints { command } => checkpoints::run(command),
        Command::Export(args) => export::run(args),
        Command::Eval(args) => infer::eval(&cli.global, args),
        Command::Generate(args) => infer::generate(&cli.global, args),
        Command::Plot(args) => plot::run(args),
        Command::Completions { shell } => completions(*shell),
    }
}

/// Writes `shell`'s completion script for the whole command line (every subcommand and flag, as
/// clap knows them) to stdout.
fn completions(shell: clap_complete::Shell) -> Result<()> {
    use clap::CommandFactory as _;
    use std::io::Write as _;
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "xlatrain", &mut script);
    std::io::stdout()
        .lock()
        .write_all(&script)
        .map_err(|e| Error::io("cannot write to standard output", "<stdout>", e))
}

fn devices(global: &GlobalArgs) -> Result<()> {
    let client = Client::open(&global.client_options())?;
    say!("plugin:   {}", client.plugin().path().display());
    say!(
        "platform: {} ({})",
        client.platform_name(),
        client.platform_version()
    );
    for (key, value) in client.plugin_attributes() {
        say!("  {key}: {value}");
    }
    let devices = client.devices();
    say!(
        "devices:  {} ({} addressable)",
        devices.len(),
        client.device_count()
    );
    for device in devices {
        say!(
            "  id {:>3}  kind {:<8} {}{}",
            device.id,
            device.kind,
            device.debug_string,
            if device.addressable {
                ""
            } else {
                "  (not addressable)"
            }
        );
    }
    Ok(())
}

fn ms(duration: Duration) -> String {
    format!("{:.3} ms", duration.as_secs_f64() * 1e3)
}

fn run_hlo(global: &GlobalArgs, args: &RunHloArgs) -> Result<()> {
    let program = read_program(&args.file)?;
    let argument_types = main_argument_types(&program).map_err(|e| match e {
        Error::Usage(message) => Error::Usage(format!("{}: {message}", args.file.display())),
        other => other,
    })?;
    if args.replicas == 0 {
        return Err(Error::Usage("--replicas must be at least 1".into()));
    }
    let client = Client::open(&global.client_options())?;
    if args.replicas > client.device_count() {
        return Err(Error::Usage(format!(
            "--replicas {} needs {} devices, the client has {} (try --cpu-devices {})",
            args.replicas,
            args.replicas,
            client.device_count(),
            args.replicas
        )));
    }
    let options = CompileOptions::replicated(args.replicas);
    let rejected = |e: Error| match e {
        Error::Pjrt { .. } | Error::CompileOptions(_) => {
            Error::Usage(format!("{}: cannot compile: {e}", args.file.display()))
        }
        other => other,
    };

    let started = Instant::now();
    let before = client.cache_stats();
    let executable = if args.no_cache {
        client.compile_uncached(&program, &options)
    } else {
        client.compile(&program, &options)
    }
    .map_err(rejected)?;
    let compile_time = started.elapsed();
    let hit = client.cache_stats().hits > before.hits;
    say!(
        "compile:        {} ({})",
        ms(compile_time),
        if args.no_cache {
            "cache off"
        } else if hit {
            "cache hit"
        } else {
            "compiled, now cached"
        }
    );
    let serialized = executable.serialize()?;
    let started = Instant::now();
    let reloaded = client.deserialize(&serialized)?;
    say!(
        "deserialize:    {} ({} KiB serialized; the cost of a cache hit)",
        ms(started.elapsed()),
        serialized.len() / 1024
    );
    drop(reloaded);

    let devices = executable.device_indices();
    let inputs: Vec<Vec<Buffer>> = devices
        .iter()
        .enumerate()
        .map(|(replica, &device)| {
            argument_types
                .iter()
                .enumerate()
                .map(|(index, ty)| {
                    let bytes = deterministic_bytes(ty, replica * 1000 + index)?;
                    client.buffer_from_bytes(&bytes, ty.element_type, &ty.dims, device)
                })
                .collect()
        })
        .collect::<Result<_>>()?;
    let argument_lists = || -> Vec<Vec<Arg<'_>>> {
        inputs
            .iter()
            .map(|list| list.iter().map(Arg::Borrowed).collect())
            .collect()
    };

    let started = Instant::now();
    let outputs = executable.execute_replicated(argument_lists())?;
    say!("first execute:  {}", ms(started.elapsed()));
    let mut times = Vec::with_capacity(args.iterations);
    for _ in 0..args.iterations {
        let started = Instant::now();
        let repeat = executable.execute_replicated(argument_lists())?;
        times.push(started.elapsed());
        drop(repeat);
    }
    if !times.is_empty() {
        times.sort();
        say!(
            "execute:        median {}  min {}  over {} runs",
            ms(times[times.len() / 2]),
            ms(times[0]),
            times.len()
        );
    }
    for (replica, list) in outputs.iter().enumerate() {
        for (index, buffer) in list.iter().enumerate() {
            let mut bytes = vec![0u8; buffer.byte_size()];
            buffer.copy_to_host(&mut bytes)?;
            say!(
                "output {index} (replica {replica}): {}{:?}  sum {:.6}  xxh3 {:016x}",
                buffer.element_type(),
                buffer.dims(),
                host_sum(buffer.element_type(), &bytes),
                xxhash_rust::xxh3::xxh3_64(&bytes)
            );
        }
    }
    Ok(())
}

fn read_program(path: &Path) -> Result<String> {
    let bytes = std::fs::read(path)
        .map_err(|e| Error::Usage(format!("cannot read {}: {e}", path.display())))?;
    String::from_utf8(bytes)
        .map_err(|_| Error::Usage(format!("{} is not UTF-8 text", path.display())))
}

/// Host bytes for an argument: values `k / 4 - 4` (exact in every float type), small integers,
/// alternating booleans; different per argument and replica via `salt`.
fn deterministic_bytes(ty: &TensorType, salt: usize) -> Result<Vec<u8>> {
    let count = ty
        .dims
        .iter()
        .try_fold(1usize, |n, &d| n.checked_mul(d as usize))
        .filter(|&n| n <= (1 << 30))
        .ok_or_else(|| Error::Usage(format!("argument {ty} is too large to feed")))?;
    let step = |i: usize| ((i * 7 + salt * 13) % 32) as i64;
    let mut out = Vec::with_capacity(count * ty.element_type.byte_size());
    for i in 0..count {
        let float = step(i) as f32 * 0.25 - 4.0;
        let int = step(i) - 16;
        match ty.element_type {
            DType::Pred => out.push((step(i) % 2) as u8),
            DType::S8 => out.extend_from_slice(&(int as i8).to_le_bytes()),
            DType::S16 => out.extend_from_slice(&(int as i16).to_le_bytes()),
            DType::S32 => out.extend_from_slice(&(int as i32).to_le_bytes()),
            DType::S64 => out.extend_from_slice(&int.to_le_bytes()),
            DType::U8 => out.push(step(i) as u8),
            DType::U16 => out.extend_from_slice(&(step(i) as u16).to_le_bytes()),
            DType::U32 => out.extend_from_slice(&(step(i) as u32).to_le_bytes()),
            DType::U64 => out.extend_from_slice(&(step(i) as u64).to_le_bytes()),
            DType::F16 => out.extend_from_slice(&f16_bits(float).to_le_bytes()),
            DType::BF16 => out.extend_from_slice(&((float.to_bits() >> 16) as u16).to_le_bytes()),
            DType::F32 => out.extend_from_slice(&float.to_le_bytes()),
            DType::F64 => out.extend_from_slice(&f64::from(float).to_le_bytes()),
        }
    }
    Ok(out)
}

/// IEEE half bits of a float that is exactly representable in half precision and normal (or
/// zero), which is all [`deterministic_bytes`] produces.
fn f16_bits(value: f32) -> u16 {
    let bits = value.to_bits();
    let sign = ((bits >> 16) & 0x8000) as u16;
    let exponent = ((bits >> 23) & 0xff) as i32;
    if exponent == 0 {
        return sign;
    }
    let half_exponent = (exponent - 127 + 15).clamp(0, 31) as u16;
    sign | (half_exponent << 10) | ((bits >> 13) & 0x3ff) as u16
}

fn f16_value(bits: u16) -> f64 {
    let sign = if bits & 0x8000 != 0 { -1.0 } else { 1.0 };
    let exponent = i32::from((bits >> 10) & 0x1f);
    let mantissa = f64::from(bits & 0x3ff);
    sign * match exponent {
        0 => mantissa * 2f64.powi(-24),
        31 if mantissa == 0.0 => f64::INFINITY,
        31 => f64::NAN,
        _ => (1.0 + mantissa / 1024.0) * 2f64.powi(exponent - 15),
    }
}

/// Sum of all elements as f64, a human-readable checksum.
fn host_sum(ty: DType, bytes: &[u8]) -> f64 {
    let size = ty.byte_size();
    bytes
        .chunks_exact(size)
        .map(|c| match ty {
            DType::Pred | DType::U8 => f64::from(c[0]),
            DType::S8 => f64::from(c[0] as i8),
            DType::S16 => f64::from(i16::from_le_bytes([c[0], c[1]])),
            DType::U16 => f64::from(u16::from_le_bytes([c[0], c[1]])),
            DType::F16 => f16_value(u16::from_le_bytes([c[0], c[1]])),
            DType::BF16 => f64::from(f32::from_bits(
                u32::from(u16::from_le_bytes([c[0], c[1]])) << 16,
            )),
            DType::S32 => f64::from(i32::from_le_bytes([c[0], c[1], c[2], c[3]])),
            DType::U32 => f64::from(u32::from_le_bytes([c[0], c[1], c[2], c[3]])),
            DType::F32 => f64::from(f32::from_le_bytes([c[0], c[1], c[2], c[3]])),
            DType::S64 => {
                i64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]) as f64
            }
            DType::U64 => {
                u64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]) as f64
            }
            DType::F64 => f64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]),
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn half_precision_round_trips_the_fed_values() {
        for k in 0..32 {
            let value = k as f32 * 0.25 - 4.0;
            assert_eq!(f16_value(f16_bits(value)), f64::from(value));
        }
    }
}
