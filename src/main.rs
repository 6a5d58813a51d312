//! The `xlatrain` binary: parse the command line, set up the logger, run it, print the error
//! chain, exit with a code.

#![deny(unsafe_code)]

use std::io::Write as _;
use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = match xlatrain::cli::Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    StderrLogger::install(cli.global.log_level());
    match xlatrain::cli::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            let mut source = std::error::Error::source(&e);
            while let Some(cause) = source {
                eprintln!("  caused by: {cause}");
                source = cause.source();
            }
            ExitCode::from(e.exit_code())
        }
    }
}

/// The `log` sink of the binary: one plain line per record on stderr, with no timestamp or
/// module, so a message reads the same as the tool's other output. Warnings and errors say so
/// (`warning: ...`, `error: ...`); informational messages are printed as they are. Records of
/// other crates (tokenizers, ...) are shown only with `-v`, so they never change the default
/// output.
struct StderrLogger;

impl StderrLogger {
    fn install(level: log::LevelFilter) {
        static LOGGER: StderrLogger = StderrLogger;
        // Only fails when a logger is already set, which cannot happen before `main` sets it.
        let _ = log::set_logger(&LOGGER);
        log::set_max_level(level);
    }
}

impl log::Log for StderrLogger {
    fn enabled(&self, metadata: &log::Metadata) -> bool {
        let ours = metadata.target().split("::").next() == Some("xlatrain");
        metadata.level() <= log::max_level() && (ours || log::max_level() >= log::Level::Debug)
    }

    fn log(&self, record: &log::Record) {
        if !self.enabled(record.metadata()) {
            return;
        }
        let prefix = match record.level() {
            log::Level::Error => "error: ",
            log::Level::Warn => "warning: ",
            log::Level::Info => "",
            log::Level::Debug => "debug: ",
            log::Level::Trace => "trace: ",
        };
        // A closed stderr is not worth a panic.
        let _ = writeln!(std::io::stderr().lock(), "{prefix}{}", record.args());
    }

    fn flush(&self) {
        let _ = std::io::stderr().flush();
    }
}
