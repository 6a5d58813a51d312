//! Training: the compiled train-step and eval programs ([`program`]), the device-resident
//! [`TrainState`], the host-side [`TrainerProgress`], and the [`Trainer`] loop with its console
//! output, `metrics.jsonl` and `loss_curve.png`.

pub mod plot;
pub mod program;
mod progress;
mod report;
mod state;
mod trainer;

pub use program::{
    eval_program, state_layout, train_step_program, Program, TensorDesc, RNG_KEY, STEP,
    STEP_METRICS,
};
pub use progress::TrainerProgress;
pub use report::Console;
pub use state::TrainState;
pub use trainer::{EvalMetrics, StepHook, TrainSummary, Trainer, WARMUP_STEPS};
