//! The `xlatrain` binary: parse the command line, run it, print the error chain, exit with a code.

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
    StderrLog::install();
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

/// The binary's `log` sink: each message as one plain stderr line (warnings and errors prefixed
/// `warning: ` / `error: `), so it reads like the tool's other output.
struct StderrLog;

impl StderrLog {
    fn install() {
        static LOG: StderrLog = StderrLog;
        // fails only when a logger is set already, which cannot happen before main sets it
        let _ = log::set_logger(&LOG);
        log::set_max_level(log::LevelFilter::Info);
    }
}

impl log::Log for StderrLog {
    fn enabled(&self, metadata: &log::Metadata) -> bool {
        metadata.level() <= log::max_level()
    }

    fn log(&self, record: &log::Record) {
        if !self.enabled(record.metadata()) {
            return;
        }
        let prefix = match record.level() {
            log::Level::Error => "error: ",
            log::Level::Warn => "warning: ",
            _ => "",
        };
        eprintln!("{prefix}{}", record.args());
    }

    fn flush(&self) {}
}
