//! `xlatrain eval` and `xlatrain generate`: a Hugging Face model from a local directory or GGUF
//! file, run on the device (see [`crate::infer`]).

use std::path::{Path, PathBuf};

use clap::Args;
use serde_json::json;

use super::GlobalArgs;
use crate::data::TokenFormat;
use crate::hf::HfModel;
use crate::infer::{eval_loss, GenerateOptions, Generator, Sampling, Session};
use crate::pjrt::Client;
use crate::{Error, Result};

#[derive(Debug, Clone, Args)]
pub struct EvalArgs {
    /// A local Hugging Face model directory or a `.gguf` file (nothing is downloaded).
    #[arg(long, value_name = "PATH")]
    pub model_name_or_path: PathBuf,
    /// The data to evaluate on: a token file, or `.txt`/`.jsonl` text (tokenized once with the
    /// model's tokenizer into a token file cached beside it).
    #[arg(long, value_name = "FILE")]
    pub data: PathBuf,
    /// A `tokenizer.json` for text data (default: the model's).
    #[arg(long, value_name = "FILE")]
    pub tokenizer: Option<PathBuf>,
    /// The JSONL field holding each document's text.
    #[arg(long, default_value = crate::data::text::DEFAULT_TEXT_COLUMN)]
    pub text_column: String,
    /// How the token file stores ids: bytes, u16 or u32 (little-endian).
    #[arg(long, default_value = "u16", value_parser = parse_format)]
    pub data_format: TokenFormat,
    /// Tokens of input per window (windows hold seq_len + 1 tokens).
    #[arg(long, default_value_t = 128)]
    pub seq_len: usize,
    /// Print one JSON object instead of text.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Clone, Args)]
pub struct GenerateArgs {
    /// A local Hugging Face model directory or a `.gguf` file (or --model-name-or-path).
    #[arg(value_name = "MODEL")]
    pub model: Option<PathBuf>,
    #[arg(long, value_name = "PATH", conflicts_with = "model")]
    pub model_name_or_path: Option<PathBuf>,
    /// The prompt as text (needs the model's tokenizer).
    #[arg(long, conflicts_with = "prompt_ids")]
    pub prompt: Option<String>,
    /// The prompt as token ids, e.g. `1,2,3`.
    #[arg(long, value_name = "IDS")]
    pub prompt_ids: Option<String>,
    /// A `tokenizer.json` (default: the model's).
    #[arg(long, value_name = "FILE")]
    pub tokenizer: Option<PathBuf>,
    #[arg(long, default_value_t = 32)]
    pub max_new_tokens: usize,
    /// 0 = greedy.
    #[arg(long, default_value_t = 0.0)]
    pub temperature: f64,
    /// Keep only the k most likely tokens (0 = all).
    #[arg(long, default_value_t = 0)]
    pub top_k: usize,
    /// Keep the smallest set of tokens whose probability reaches p (1 = all).
    #[arg(long, default_value_t = 1.0)]
    pub top_p: f64,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Print one JSON object (`prompt_ids`, `ids`, `text`) instead of text.
    #[arg(long)]
    pub json: bool,
}

fn parse_format(text: &str) -> std::result::Result<TokenFormat, String> {
    match text {
        "bytes" => Ok(TokenFormat::Bytes),
        "u16" => Ok(TokenFormat::U16),
        "u32" => Ok(TokenFormat::U32),
        other => Err(format!("{other:?} is not one of bytes, u16, u32")),
    }
}

fn parse_ids(text: &str) -> Result<Vec<u32>> {
    text.split(',')
        .map(|part| {
            part.trim()
                .parse::<u32>()
                .map_err(|_| Error::InvalidArgument {
                    key: "prompt_ids".into(),
                    value: text.into(),
                    reason: format!("{part:?} is not a token id; write ids like 1,2,3"),
                })
        })
        .collect()
}

pub fn eval(global: &GlobalArgs, args: &EvalArgs) -> Result<()> {
    if args.seq_len == 0 {
        return Err(Error::Usage("--seq-len must be at least 1".into()));
    }
    let model = HfModel::open(&args.model_name_or_path)?;
    let (data, data_format) = match crate::data::text::TextFormat::of(&args.data) {
        None => (args.data.clone(), args.data_format),
        Some(_) => {
            let tokenizer = model.tokenizer(args.tokenizer.as_deref())?.ok_or_else(|| {
                Error::Usage(format!(
                    "{} is text, and {} has no tokenizer.json: give --tokenizer FILE",
                    args.data.display(),
                    args.model_name_or_path.display()
                ))
            })?;
            let tokenized =
                crate::data::text::tokenize_cached(&args.data, &args.text_column, &tokenizer)?;
            (tokenized.path, TokenFormat::U32)
        }
    };
    let client = Client::open(&global.client_options())?;
    let session = Session::from_model(&client, model)?;
    let report = eval_loss(&session, &data, data_format, args.seq_len)?;
    if args.json {
        let out = json!({
            "eval_loss": report.eval_loss,
            "eval_perplexity": report.eval_perplexity,
            "eval_tokens": report.eval_tokens,
        });
        say!("{out}");
    } else {
        say!(
            "eval_loss {:.6}  eval_perplexity {:.4}  eval_tokens {}",
            report.eval_loss,
            report.eval_perplexity,
            report.eval_tokens
        );
    }
    Ok(())
}

pub fn generate(global: &GlobalArgs, args: &GenerateArgs) -> Result<()> {
    let path: &Path = args
        .model
        .as_deref()
        .or(args.model_name_or_path.as_deref())
        .ok_or_else(|| Error::Usage("give the model: xlatrain generate MODEL ...".into()))?;
    let sampling = Sampling {
        temperature: args.temperature,
        top_k: args.top_k,
        top_p: args.top_p,
        seed: args.seed,
    };
    sampling.validate()?;
    let model = HfModel::open(path)?;
    let tokenizer = model.tokenizer(args.tokenizer.as_deref())?;
    let prompt = match (&args.prompt, &args.prompt_ids) {
        (Some(text), None) => {
            let tokenizer = tokenizer.as_ref().ok_or_else(|| {
                Error::Usage(format!(
                    "{} has no tokenizer.json: give --tokenizer FILE or --prompt-ids",
                    path.display()
                ))
            })?;
            tokenizer.encode(text, true)?
        }
        (None, Some(ids)) => parse_ids(ids)?,
        _ => {
            return Err(Error::Usage(
                "give --prompt TEXT or --prompt-ids 1,2,3".into(),
            ))
        }
    };
    if prompt.is_empty() {
        return Err(Error::Usage("the prompt has no tokens".into()));
    }
    let limit = model.config.max_position_embeddings;
    if prompt.len() >= limit {
        return Err(Error::Usage(format!(
            "the prompt has {} tokens; the model takes at most {limit} positions",
            prompt.len()
        )));
    }
    let cache_len = (prompt.len() + args.max_new_tokens.max(1) - 1)
        .min(limit)
        .max(prompt.len());
    let client = Client::open(&global.client_options())?;
    let mut session = Session::from_model(&client, model)?;
    if session.hf.eos_token_ids.is_empty() {
        if let Some(t) = &tokenizer {
            session.hf.eos_token_ids = t.eos_ids().to_vec();
        }
    }
    let generator = Generator::new(&session, prompt.len(), cache_len)?;
    let out = generator.generate(
        &prompt,
        &GenerateOptions {
            max_new_tokens: args.max_new_tokens,
            sampling,
        },
    )?;
    let text = match &tokenizer {
        Some(t) => Some(t.decode(&out.ids, true)?),
        None => None,
    };
    if args.json {
        let mut object = json!({"prompt_ids": out.prompt_ids, "ids": out.ids});
        if let Some(text) = &text {
            object["text"] = json!(text);
        }
        say!("{object}");
    } else {
        match &text {
            Some(text) => say!("{text}"),
            None => say!(
                "{}",
                out.ids
                    .iter()
                    .map(u32::to_string)
                    .collect::<Vec<_>>()
                    .join(",")
            ),
        }
    }
    Ok(())
}
