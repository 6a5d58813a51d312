//! Training: one loop for every device layout. The run's [`Mesh`] (one device, `data`, `fsdp`,
//! `tensor` axes) and the [`StateLayout`] place every state tensor; the compiled train-step and
//! eval programs ([`program`]) carry those shardings for XLA's SPMD partitioner; the
//! [`TrainState`] holds each device's blocks; the host-side [`TrainerProgress`] and the
//! [`Trainer`] loop (of a [`Model`]) with its console output, its `report_to` sinks (`metrics.jsonl`, TensorBoard
//! events) and the loss plot; [`Checkpointing`] saves and resumes it on any mesh. As a library,
//! [`Trainer::train`], [`Trainer::save_model`], [`Trainer::save_state`] and
//! [`TrainerCallback`] are the calls of Hugging Face's `Trainer` (see `api.rs`).

mod api;
mod callback;
mod checkpointing;
mod layout;
mod mesh;
pub mod metrics;
mod model;
pub mod plot;
mod precision;
pub mod program;
mod progress;
mod report;
mod speed;
mod state;
mod summary;
mod tensorboard;
mod trainer;

pub use callback::{TrainerCallback, TrainerControl};
pub use checkpointing::{train_with_checkpoints, Checkpointing, LoadedBest, Resumed, RunOutcome};
pub use layout::StateLayout;
pub use mesh::{block_bytes, scatter, Mesh, MeshAxis, Sharding};
pub use model::Model;
pub use precision::{compute_policy, saved_precision, MIXED_PRECISION_KEY};
pub use program::{
    batch_sharding, eval_program, eval_program_on, state_layout, train_step_program,
    train_step_program_on, Program, RNG_KEY, STEP, STEP_METRICS,
};
pub use progress::TrainerProgress;
pub use report::{Console, ReportTo};
pub use speed::{known_peak_tflops, SpeedModel};
pub use state::{InitialParams, StateSource, TrainState};
pub use summary::{EvalMetrics, TrainSummary, WARMUP_STEPS};
pub use trainer::{StepHook, Trainer};
