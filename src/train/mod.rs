//! Training: the compiled train-step and eval programs ([`program`]), the device-resident
//! [`TrainState`], the host-side [`TrainerProgress`], and the [`Trainer`] loop with its console
//! output, its `report_to` sinks (`metrics.jsonl`, TensorBoard events) and the loss plot.

mod checkpointing;
pub mod parallel;
pub mod plot;
mod precision;
pub mod program;
mod progress;
mod report;
pub mod sharded;
mod sharded_run;
mod speed;
pub mod spmd;
mod state;
mod tensorboard;
mod trainer;

pub use checkpointing::{train_with_checkpoints, Checkpointing, LoadedBest, Resumed, RunOutcome};
pub use precision::{compute_policy, saved_precision, MIXED_PRECISION_KEY};
pub use program::{
    eval_program, state_layout, train_step_program, train_step_program_replicated,
    train_step_program_spmd, Program, TensorDesc, RNG_KEY, STEP, STEP_METRICS,
};
pub use progress::TrainerProgress;
pub use report::{Console, ReportTo};
pub use sharded_run::{check_sharded_args, train_sharded, ShardedOutcome};
pub use speed::{known_peak_tflops, SpeedModel};
pub use state::TrainState;
pub use trainer::{EvalMetrics, StepHook, TrainSummary, Trainer, WARMUP_STEPS};
