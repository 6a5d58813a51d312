//! Host side of checkpointing: HF-familiar directories of safetensors shards plus JSON state,
//! streamed to disk through reused aligned windows with a crash-safe commit, checked on load.
//!
//! Layout of `<output_dir>/checkpoint-<step>/` (see docs/checkpoint-format.md):
//! `model.safetensors` or `model-0000i-of-0000n.safetensors` + `model.safetensors.index.json`,
//! the same for `optimizer`, `config.json`, `training_args.json`, `trainer_state.json`, and
//! `checkpoint_manifest.json` (xxh3 and size of every other file) written last.
//!
//! The device runtime plugs in through [`TensorSource`] (saving copies each tensor straight into
//! the writer's I/O window) and through [`TensorSet`] (loading borrows each tensor from the
//! read-only mapping, in file order, for upload).

mod async_save;
mod consistency;
mod device;
mod discover;
mod documents;
mod fsutil;
mod layout;
mod load;
mod plan;
mod restore;
mod retention;
mod safetensors;
mod save;
mod size;
mod source;
mod standalone;
mod state;
mod stream;

pub use crate::dtype::DType;
pub use crate::tensor_spec::TensorSpec;
pub use async_save::{CheckpointWriter, SaveJob, SaveReport, WriterOptions};
pub use consistency::check_consistency;
pub use device::{spec_of, DeviceTensors};
pub use discover::{
    inspect, list_checkpoints, newest_valid, verify, CheckpointEntry, InspectedTensor, Inspection,
    NewestValid,
};
pub use documents::{parse_index_bytes, parse_manifest_bytes, parse_trainer_state_bytes};
pub use fsutil::{free_space, fsync_dir, write_durable};
pub use layout::{
    checkpoint_dir_name, index_file_name, parse_checkpoint_dir_name, shard_file_name, FileRecord,
    IndexMetadata, Manifest, ShardIndex, CONFIG_FILE, FORMAT_VERSION, MANIFEST_FILE, MODEL_PREFIX,
    OPTIMIZER_PREFIX, RETIRED_PREFIX, STAGING_PREFIX, TRAINER_STATE_FILE, TRAINING_ARGS_FILE,
};
pub use load::{check_checkpoint, open_checkpoint, Checkpoint, TensorSet, Verify};
pub use restore::{check_architecture, resume_from, upload_verified, ResumeChoice};
pub use retention::{apply_retention, steps_to_delete, RetentionPolicy};
pub use safetensors::{parse_shard, ParsedShard, MAX_HEADER_LEN};
pub use save::{
    cleanup_stale, required_bytes, save_checkpoint, stage_checkpoint, CheckpointContents,
    SaveOptions, SavedCheckpoint, StagedCheckpoint,
};
pub use size::parse_size;
pub use source::{HostTensors, TensorSource};
pub use standalone::write_safetensors_file;
pub use state::{ResumeState, TrainerState};
pub use stream::{create_for_streaming, window_memory, DEFAULT_WINDOW_BYTES};
