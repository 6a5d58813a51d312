//! The command-line interface: argument parsing and the subcommands. `main` is a thin shim that
//! calls [`run`] and turns its result into an exit code.

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "xlatrain",
    version,
    about = "A compiler-backed trainer on XLA through PJRT"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Print the platform, versions and devices of the PJRT plugin.
    Devices,
}

/// Runs a parsed command line.
pub fn run(cli: Cli) -> crate::Result<()> {
    match cli.command {
        Command::Devices => Err(crate::Error::Usage("devices: not built yet".into())),
    }
}
