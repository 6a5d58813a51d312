//! Graceful stop on SIGTERM (preemption, `kill`, job schedulers) and SIGINT (Ctrl-C): the first
//! signal only sets a flag; the trainer finishes the step it is in, saves a checkpoint, waits for
//! it to be durable and exits with status 0. A second signal of either kind exits at once with
//! the shell's status for it (143 for SIGTERM, 130 for SIGINT), without saving.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook::SigId;

use crate::{Error, Result};

/// The installed handlers; dropping this restores the previous behaviour.
pub struct StopSignal {
    requested: Arc<AtomicBool>,
    /// The number of the first signal received (0: none).
    which: Arc<AtomicUsize>,
    ids: Vec<SigId>,
}

impl StopSignal {
    /// Installs the handlers for SIGTERM and SIGINT with a new flag.
    pub fn install() -> Result<StopSignal> {
        StopSignal::install_on(Arc::new(AtomicBool::new(false)))
    }

    /// Installs the handlers for SIGTERM and SIGINT setting `requested` (e.g. a trainer's stop
    /// flag). A second signal exits at once only if `requested` was set by the first one (or by
    /// anyone else).
    pub fn install_on(requested: Arc<AtomicBool>) -> Result<StopSignal> {
        let which = Arc::new(AtomicUsize::new(0));
        let mut handlers = StopSignal {
            requested: requested.clone(),
            which: which.clone(),
            ids: Vec::new(),
        };
        for (signal, name) in [(SIGTERM, "SIGTERM"), (SIGINT, "SIGINT")] {
            let failed = |source| Error::SignalHandler {
                signal: name,
                source,
            };
            // Registered first, so on a repeated signal it sees the flag the first one set.
            let second = signal_hook::flag::register_conditional_shutdown(
                signal,
                128 + signal,
                requested.clone(),
            )
            .map_err(failed)?;
            handlers.ids.push(second);
            let kind = signal_hook::flag::register_usize(signal, which.clone(), signal as usize)
                .map_err(failed)?;
            handlers.ids.push(kind);
            let first = signal_hook::flag::register(signal, requested.clone()).map_err(failed)?;
            handlers.ids.push(first);
        }
        Ok(handlers)
    }

    /// Whether a stop was requested.
    pub fn requested(&self) -> bool {
        self.requested.load(Ordering::SeqCst)
    }

    /// `"SIGTERM"` or `"SIGINT"` once a stop was requested.
    pub fn signal_name(&self) -> Option<&'static str> {
        match self.which.load(Ordering::SeqCst) as i32 {
            0 => None,
            SIGTERM => Some("SIGTERM"),
            SIGINT => Some("SIGINT"),
            _ => Some("signal"),
        }
    }

    /// The flag itself, for loops that poll an `AtomicBool`.
    pub fn flag(&self) -> Arc<AtomicBool> {
        self.requested.clone()
    }
}

impl Drop for StopSignal {
    fn drop(&mut self) {
        for id in self.ids.drain(..).rev() {
            signal_hook::low_level::unregister(id);
        }
    }
}
