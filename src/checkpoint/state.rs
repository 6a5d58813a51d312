//! `trainer_state.json`: the HF Trainer fields under their HF names, so tools that read HF
//! checkpoints find what they expect, plus xlatrain's resume state under one `xlatrain` key.
//! The extra fields are generic JSON so the trainer decides their content. Fields that older HF
//! versions or HF itself do not write default on read, so an HF `trainer_state.json` parses.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainerState {
    pub global_step: u64,
    pub epoch: f64,
    pub max_steps: u64,
    pub logging_steps: u64,
    pub eval_steps: u64,
    pub save_steps: u64,
    pub train_batch_size: u64,
    pub num_train_epochs: u64,
    #[serde(default)]
    pub num_input_tokens_seen: u64,
    pub total_flos: f64,
    /// One JSON object per logged step: `loss`, `learning_rate`, `grad_norm`, `epoch`, `step`...
    pub log_history: Vec<Map<String, Value>>,
    pub best_metric: Option<f64>,
    #[serde(default)]
    pub best_global_step: Option<u64>,
    pub best_model_checkpoint: Option<String>,
    #[serde(default)]
    pub stateful_callbacks: Value,
    /// xlatrain's own resume state.
    #[serde(default)]
    pub xlatrain: ResumeState,
    /// Any other top-level keys (e.g. HF's `is_world_process_zero`), kept verbatim.
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

/// What bit-exact resume needs beyond the tensors, filled by the trainer.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ResumeState {
    /// Version of the checkpoint format that wrote this state.
    pub format_version: u32,
    /// PRNG keys by purpose (e.g. `{"dropout": [hi, lo]}`).
    pub prng_keys: Value,
    /// Where the data stream continues (file, offset, epoch, permutation seed...).
    pub data_cursor: Value,
    /// Hash of the model architecture; a resume onto a different model is refused by the trainer.
    pub architecture_fingerprint: String,
    /// Platform that produced the state (PJRT plugin, device kind, count).
    pub platform: Value,
    /// Program versions (xlatrain, plugin, XLA) by name.
    pub versions: BTreeMap<String, String>,
}

impl TrainerState {
    /// A state at `global_step` with HF defaults elsewhere; the trainer overwrites what it knows.
    pub fn at_step(global_step: u64) -> Self {
        TrainerState {
            global_step,
            epoch: 0.0,
            max_steps: 0,
            logging_steps: 0,
            eval_steps: 0,
            save_steps: 0,
            train_batch_size: 0,
            num_train_epochs: 0,
            num_input_tokens_seen: 0,
            total_flos: 0.0,
            log_history: Vec::new(),
            best_metric: None,
            best_global_step: None,
            best_model_checkpoint: None,
            stateful_callbacks: Value::Object(Map::new()),
            xlatrain: ResumeState {
                format_version: super::layout::FORMAT_VERSION,
                ..ResumeState::default()
            },
            other: Map::new(),
        }
    }
}
