//! Text to token ids and back through a Hugging Face `tokenizer.json`, with the model's special
//! token ids.
//!
//! The tokenization itself is the `tokenizers` crate's (the library transformers' fast tokenizers
//! run on), so ids equal transformers' for the same file. This wrapper adds what a trainer needs
//! around it: loading from a file or a JSON string with errors that name the file (a bad file is
//! an [`Error::Tokenizer`], exit code 2, never a panic), a fingerprint of the exact JSON (the text
//! data cache is keyed by it), and the BOS/EOS ids.
//!
//! Special ids, first found wins: `generation_config.json`, then `config.json` (`bos_token_id`,
//! `eos_token_id`, an id or a list of ids), then `tokenizer_config.json` (`bos_token`,
//! `eos_token`, a string or `{"content": ...}`), all read from the model directory (or the
//! directory holding the tokenizer); without any of them, the EOS is the first special token of
//! the tokenizer named like an end-of-text token (`<|endoftext|>`, `</s>`, `<|end_of_text|>`,
//! `<eos>`, `<|im_end|>`).

use std::path::{Path, PathBuf};

use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::{Error, Result};

/// The file name of a Hugging Face fast tokenizer.
pub const TOKENIZER_FILE: &str = "tokenizer.json";

/// Special-token names recognised as end-of-text when no config names the EOS, in order.
const EOS_NAMES: [&str; 5] = [
    "<|endoftext|>",
    "</s>",
    "<|end_of_text|>",
    "<eos>",
    "<|im_end|>",
];

/// A loaded tokenizer with its special ids.
pub struct Tokenizer {
    inner: tokenizers::Tokenizer,
    origin: PathBuf,
    json: String,
    sha256: String,
    bos: Option<u32>,
    eos: Vec<u32>,
}

impl std::fmt::Debug for Tokenizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tokenizer")
            .field("origin", &self.origin)
            .field("sha256", &self.sha256)
            .field("bos", &self.bos)
            .field("eos", &self.eos)
            .finish_non_exhaustive()
    }
}

impl Tokenizer {
    /// Loads a `tokenizer.json` file, or the `tokenizer.json` of a directory (special ids from
    /// the configs next to it), or the tokenizer a `.gguf` file's metadata describes.
    pub fn from_file(path: &Path) -> Result<Tokenizer> {
        if path.is_file()
            && path
                .extension()
                .is_some_and(|e| e.eq_ignore_ascii_case("gguf"))
        {
            return crate::hf::gguf::read(path)?.tokenizer();
        }
        let file = if path.is_dir() {
            path.join(TOKENIZER_FILE)
        } else {
            path.to_path_buf()
        };
        let json = std::fs::read_to_string(&file).map_err(|e| Error::Tokenizer {
            path: file.clone(),
            reason: format!("cannot read: {e}"),
        })?;
        let mut tokenizer = Tokenizer::from_json(&json, &file)?;
        if let Some(dir) = file.parent() {
            tokenizer.read_special_ids(dir)?;
        }
        Ok(tokenizer)
    }

    /// The tokenizer of a model directory: `explicit` (a file or directory) if given, else the
    /// directory's own `tokenizer.json`; special ids from the model directory's configs first.
    pub fn for_model(model_dir: &Path, explicit: Option<&Path>) -> Result<Tokenizer> {
        let mut tokenizer = Tokenizer::from_file(explicit.unwrap_or(model_dir))?;
        if explicit.is_some() {
            tokenizer.read_special_ids(model_dir)?;
        }
        Ok(tokenizer)
    }

    /// Parses a `tokenizer.json` text; `origin` names it in errors. Special ids: only the
    /// tokenizer's own end-of-text token (see the module docs); see [`Tokenizer::with_special_ids`].
    pub fn from_json(json: &str, origin: &Path) -> Result<Tokenizer> {
        let bad = |reason: String| Error::Tokenizer {
            path: origin.to_path_buf(),
            reason,
        };
        // The crate reports malformed files as errors; a panic on a file it did not foresee
        // becomes one too.
        let parsed = std::panic::catch_unwind(|| json.parse::<tokenizers::Tokenizer>())
            .map_err(|_| bad("the tokenizers library panicked while reading it".into()))?
            .map_err(|e| bad(format!("not a valid tokenizer.json: {e}")))?;
        let mut tokenizer = Tokenizer {
            inner: parsed,
            origin: origin.to_path_buf(),
            json: json.to_string(),
            sha256: crate::pjrt::cache::hex(&Sha256::digest(json.as_bytes())),
            bos: None,
            eos: Vec::new(),
        };
        tokenizer.eos = tokenizer.named_eos().into_iter().collect();
        Ok(tokenizer)
    }

    /// Sets the special ids (e.g. from a GGUF file's metadata); `eos` empty keeps the current.
    pub fn with_special_ids(mut self, bos: Option<u32>, eos: Vec<u32>) -> Tokenizer {
        self.bos = bos.or(self.bos);
        if !eos.is_empty() {
            self.eos = eos;
        }
        self
    }

    fn named_eos(&self) -> Option<u32> {
        let specials = self.inner.get_added_tokens_decoder();
        EOS_NAMES.iter().find_map(|name| {
            let id = self.inner.token_to_id(name)?;
            specials.get(&id).filter(|t| t.special).map(|_| id)
        })
    }

    /// Fills in BOS/EOS from the configs in `dir` (see the module docs); found ids replace the
    /// tokenizer's own guess.
    fn read_special_ids(&mut self, dir: &Path) -> Result<()> {
        let mut bos = None;
        let mut eos = Vec::new();
        for name in ["generation_config.json", "config.json"] {
            let Some(config) = read_json(&dir.join(name))? else {
                continue;
            };
            if bos.is_none() {
                bos = ids_of(&dir.join(name), &config, "bos_token_id")?
                    .first()
                    .copied();
            }
            if eos.is_empty() {
                eos = ids_of(&dir.join(name), &config, "eos_token_id")?;
            }
        }
        let tokenizer_config = dir.join("tokenizer_config.json");
        if let Some(config) = read_json(&tokenizer_config)? {
            if bos.is_none() {
                bos = self.token_named(&tokenizer_config, &config, "bos_token")?;
            }
            if eos.is_empty() {
                eos = self
                    .token_named(&tokenizer_config, &config, "eos_token")?
                    .into_iter()
                    .collect();
            }
        }
        self.bos = bos.or(self.bos);
        if !eos.is_empty() {
            self.eos = eos;
        }
        Ok(())
    }

    fn token_named(&self, file: &Path, config: &Value, key: &str) -> Result<Option<u32>> {
        let name = match config.get(key) {
            None | Some(Value::Null) => return Ok(None),
            Some(Value::String(s)) => s.as_str(),
            Some(Value::Object(o)) => match o.get("content") {
                Some(Value::String(s)) => s.as_str(),
                _ => {
                    return Err(config_error(
                        file,
                        key,
                        "an object without a string `content`",
                    ))
                }
            },
            Some(other) => {
                return Err(config_error(file, key, &format!("{other} is not a token")));
            }
        };
        self.inner
            .token_to_id(name)
            .map(Some)
            .ok_or_else(|| config_error(file, key, &format!("{name:?} is not in the vocabulary")))
    }

    /// Token ids of `text`; `add_special_tokens` applies the tokenizer's post-processor (e.g. a
    /// Llama tokenizer's BOS), as transformers' `tokenizer(text)` does by default.
    pub fn encode(&self, text: &str, add_special_tokens: bool) -> Result<Vec<u32>> {
        self.inner
            .encode_fast(text, add_special_tokens)
            .map(|encoding| encoding.get_ids().to_vec())
            .map_err(|e| self.error(format!("cannot encode: {e}")))
    }

    /// This tokenizer truncating its encodings longest-first to `max_length` tokens in all
    /// (special tokens included), as transformers' `truncation=True, max_length=N`.
    pub fn truncating(&self, max_length: usize) -> Result<Tokenizer> {
        let mut inner = self.inner.clone();
        inner
            .with_truncation(Some(tokenizers::TruncationParams {
                max_length,
                strategy: tokenizers::TruncationStrategy::LongestFirst,
                ..Default::default()
            }))
            .map_err(|e| self.error(format!("cannot truncate to {max_length} tokens: {e}")))?;
        Ok(Tokenizer {
            inner,
            origin: self.origin.clone(),
            json: self.json.clone(),
            sha256: self.sha256.clone(),
            bos: self.bos,
            eos: self.eos.clone(),
        })
    }

    /// Token ids and token type ids of `text` (and `pair`, the second segment) with the
    /// special tokens of the post-processor: BERT's `[CLS] a [SEP] b [SEP]`, RoBERTa's
    /// `<s> a </s></s> b </s>`, as transformers' `tokenizer(text, pair)`.
    pub fn encode_with_types(
        &self,
        text: &str,
        pair: Option<&str>,
    ) -> Result<(Vec<u32>, Vec<u32>)> {
        let input = match pair {
            None => tokenizers::EncodeInput::Single(text.into()),
            Some(p) => tokenizers::EncodeInput::Dual(text.into(), p.into()),
        };
        let encoding = self
            .inner
            .encode_fast(input, true)
            .map_err(|e| self.error(format!("cannot encode: {e}")))?;
        Ok((
            encoding.get_ids().to_vec(),
            encoding.get_type_ids().to_vec(),
        ))
    }

    /// The text of `ids`; unknown ids are an error.
    pub fn decode(&self, ids: &[u32], skip_special_tokens: bool) -> Result<String> {
        let size = self.vocab_size();
        if let Some(bad) = ids.iter().find(|&&id| id as usize >= size) {
            return Err(self.error(format!("id {bad} is outside the vocabulary of {size}")));
        }
        self.inner
            .decode(ids, skip_special_tokens)
            .map_err(|e| self.error(format!("cannot decode: {e}")))
    }

    /// The id of a token string, if it is in the vocabulary.
    pub fn token_to_id(&self, token: &str) -> Option<u32> {
        self.inner.token_to_id(token)
    }

    /// Vocabulary size including added tokens.
    pub fn vocab_size(&self) -> usize {
        self.inner.get_vocab_size(true)
    }

    pub fn bos_id(&self) -> Option<u32> {
        self.bos
    }

    /// The EOS id (the first, where the model lists several).
    pub fn eos_id(&self) -> Option<u32> {
        self.eos.first().copied()
    }

    /// Every id that ends a generation.
    pub fn eos_ids(&self) -> &[u32] {
        &self.eos
    }

    /// The hex sha256 of the tokenizer.json text.
    pub fn sha256(&self) -> &str {
        &self.sha256
    }

    /// The tokenizer.json text as loaded (what an export writes).
    pub fn json(&self) -> &str {
        &self.json
    }

    /// Where the tokenizer came from.
    pub fn origin(&self) -> &Path {
        &self.origin
    }

    fn error(&self, reason: String) -> Error {
        Error::Tokenizer {
            path: self.origin.clone(),
            reason,
        }
    }
}

fn read_json(path: &Path) -> Result<Option<Value>> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(Error::Tokenizer {
                path: path.to_path_buf(),
                reason: format!("cannot read: {e}"),
            })
        }
    };
    serde_json::from_str(&text)
        .map(Some)
        .map_err(|e| Error::Tokenizer {
            path: path.to_path_buf(),
            reason: format!("invalid JSON: {e}"),
        })
}

/// `key` of a config as token ids: absent or null = none, an id, or a list of ids.
fn ids_of(file: &Path, config: &Value, key: &str) -> Result<Vec<u32>> {
    let id = |v: &Value| {
        v.as_u64()
            .and_then(|n| u32::try_from(n).ok())
            .ok_or_else(|| config_error(file, key, &format!("{v} is not a token id")))
    };
    match config.get(key) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => items.iter().map(id).collect(),
        Some(v) => Ok(vec![id(v)?]),
    }
}

fn config_error(file: &Path, key: &str, reason: &str) -> Error {
    Error::Tokenizer {
        path: file.to_path_buf(),
        reason: format!("`{key}`: {reason}"),
    }
}
