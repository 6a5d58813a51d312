//! `xlatrain predict`: a sequence classifier (a bert or roberta directory, e.g. a checkpoint of
//! `xlatrain train`) over a `.jsonl` file, printing one JSON line per input with the predicted
//! label, its probability and the logits.

use std::path::PathBuf;

use clap::Args;
use serde_json::json;

use super::GlobalArgs;
use crate::data::classification::{check_ids, tokenize_cached, Columns};
use crate::hf::HfModel;
use crate::infer::Session;
use crate::pjrt::Client;
use crate::{Error, Result};

#[derive(Debug, Clone, Args)]
pub struct PredictArgs {
    /// A local bert or roberta model directory (or a checkpoint of one).
    #[arg(value_name = "MODEL")]
    pub model: PathBuf,
    /// The inputs: one JSON object per line with the text column (and the pair column).
    #[arg(long, value_name = "FILE.jsonl")]
    pub data: PathBuf,
    /// A `tokenizer.json` (default: the model's).
    #[arg(long, value_name = "FILE")]
    pub tokenizer: Option<PathBuf>,
    /// The JSONL field of each input's text.
    #[arg(long, default_value = crate::data::text::DEFAULT_TEXT_COLUMN)]
    pub text_column: String,
    /// The JSONL field of the second text of a pair.
    #[arg(long)]
    pub text_pair_column: Option<String>,
    /// Longer inputs are truncated to this many tokens (default: 512 or the model's positions).
    #[arg(long)]
    pub max_seq_length: Option<usize>,
    /// Inputs per device batch.
    #[arg(long, default_value_t = 32)]
    pub batch_size: usize,
}

pub fn run(global: &GlobalArgs, args: &PredictArgs) -> Result<()> {
    if args.batch_size == 0 {
        return Err(Error::Usage("--batch-size must be at least 1".into()));
    }
    let model = HfModel::open(&args.model)?;
    let encoder = model.config.encoder()?.clone();
    let limit = model
        .config
        .max_position_embeddings
        .saturating_sub(encoder.position_offset);
    let max_len = args.max_seq_length.unwrap_or(limit.min(512));
    if max_len == 0 || max_len > limit {
        return Err(Error::Usage(format!(
            "--max-seq-length {max_len}: the model takes 1 to {limit} tokens"
        )));
    }
    let tokenizer = model.tokenizer(args.tokenizer.as_deref())?.ok_or_else(|| {
        Error::Usage(format!(
            "{} has no tokenizer.json: give --tokenizer FILE",
            args.model.display()
        ))
    })?;
    let columns = Columns {
        text: args.text_column.clone(),
        text_pair: args.text_pair_column.clone(),
        label: None,
    };
    let examples = tokenize_cached(&args.data, &columns, &tokenizer, max_len)?;
    check_ids(
        &args.data,
        &examples,
        model.config.vocab_size,
        encoder.type_vocab_size,
    )?;
    let client = Client::open(&global.client_options())?;
    let session = Session::from_model(&client, model)?;
    for p in session.predict(&examples, args.batch_size)? {
        let line = json!({
            "label": p.label,
            "label_id": p.label_id,
            "probability": p.probability,
            "logits": p.logits,
        });
        say!("{line}");
    }
    Ok(())
}
