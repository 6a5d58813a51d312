//! Text corpora (`.txt`, `.jsonl`) tokenized once into a token file cached beside the data.
//!
//! - **Documents.** A `.txt` file is one document (its whole text, newlines included). A
//!   `.jsonl` (or `.ndjson`) file has one JSON object per line and its document is the string in
//!   the text column (`--text-column`, default `text`); blank lines are skipped, anything else
//!   that is not an object with a string in that column is an error naming the file and line.
//! - **Joining.** Each document is encoded with the tokenizer's special tokens (its
//!   post-processor, e.g. a Llama tokenizer's BOS; none for GPT-2 or Qwen), as transformers'
//!   `tokenizer(text)` does, and consecutive documents are joined with the EOS id between them
//!   (none after the last). Empty documents contribute nothing.
//! - **Cache.** The ids are written as little-endian `u32` to
//!   `<data file>.<data hash>-<tokenizer hash>.tokens.u32` in the data's directory: the data hash
//!   is xxh3-128 of the file's bytes, the tokenizer hash covers the exact tokenizer.json, the EOS
//!   id, the text column and this format's version. A changed file or tokenizer gets a new name,
//!   so an old cache is never mixed in; an existing cache is reused without tokenizing, and the
//!   token file reader ([`super::tokens`]) maps it, so a resume stays O(1) in the data (its
//!   cursor moves without reading batches). The cache is written to a temporary file, fsynced and
//!   renamed into place, so a crash never leaves a partial cache under the final name.
//! - **Windows** are cut by [`super::tokens`]: the train split into windows of `seq_len + 1`
//!   tokens at stride `seq_len` (inputs the first `seq_len`, targets the last `seq_len`), visited
//!   in a seeded order per epoch; windows may span a document boundary (the EOS marks it), as in
//!   transformers' `run_clm` grouping.

use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use xxhash_rust::xxh3::Xxh3;

use crate::checkpoint::fsync_dir;
use crate::tokenizer::Tokenizer;
use crate::{Error, Result};

/// Bumped when the cache layout or the joining rules change.
const CACHE_VERSION: &str = "xlatrain-text-tokens v1";

/// The text column of a JSONL file when none is given (as in HF `datasets`).
pub const DEFAULT_TEXT_COLUMN: &str = "text";

/// How a text file holds its documents.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextFormat {
    /// The whole file is one document.
    Txt,
    /// One JSON object per line; the document is its text column.
    Jsonl,
}

impl TextFormat {
    /// The format of a data file by its extension: `.txt`, `.jsonl` / `.ndjson`, else `None`.
    pub fn of(path: &Path) -> Option<TextFormat> {
        match path.extension()?.to_str()?.to_ascii_lowercase().as_str() {
            "txt" => Some(TextFormat::Txt),
            "jsonl" | "ndjson" => Some(TextFormat::Jsonl),
            _ => None,
        }
    }
}

/// A tokenized text corpus: its cache file and counts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenizedText {
    /// The `u32` token file (open it with [`super::TokenFormat::U32`]).
    pub path: PathBuf,
    pub tokens: u64,
    /// Documents tokenized (0 when the cache was reused).
    pub documents: u64,
    /// Whether an existing cache was used.
    pub reused: bool,
}

/// The cache file for `data` tokenized by `tokenizer` with `text_column`, tokenizing it first
/// unless the cache exists.
pub fn tokenize_cached(
    data: &Path,
    text_column: &str,
    tokenizer: &Tokenizer,
) -> Result<TokenizedText> {
    let format = TextFormat::of(data).ok_or_else(|| Error::DataFile {
        path: data.to_path_buf(),
        reason: "is not a .txt or .jsonl file".into(),
    })?;
    let cache = cache_path(data, text_column, tokenizer)?;
    if let Ok(meta) = std::fs::metadata(&cache) {
        if meta.is_file() && meta.len() % 4 == 0 && meta.len() > 0 {
            return Ok(TokenizedText {
                path: cache,
                tokens: meta.len() / 4,
                documents: 0,
                reused: true,
            });
        }
    }
    let dir = cache.parent().unwrap_or(Path::new("."));
    let file_name = cache.file_name().unwrap_or_default().to_string_lossy();
    let temporary = dir.join(format!(".{file_name}.tmp-{}", std::process::id()));
    let written = write_tokens(data, format, text_column, tokenizer, &temporary);
    let (tokens, documents) = match written {
        Ok(counts) => counts,
        Err(e) => {
            let _ = std::fs::remove_file(&temporary);
            return Err(e);
        }
    };
    std::fs::rename(&temporary, &cache)
        .map_err(|e| Error::io("cannot move the token cache into place", &cache, e))?;
    fsync_dir(dir)?;
    Ok(TokenizedText {
        path: cache,
        tokens,
        documents,
        reused: false,
    })
}

/// Where the token cache of `data` for this tokenizer and column lives (see the module docs).
pub fn cache_path(data: &Path, text_column: &str, tokenizer: &Tokenizer) -> Result<PathBuf> {
    let data_hash = hash_file(data)?;
    let mut key = Sha256::new();
    for part in [
        CACHE_VERSION,
        tokenizer.sha256(),
        &format!("{:?}", tokenizer.eos_id()),
        text_column,
    ] {
        key.update((part.len() as u64).to_le_bytes());
        key.update(part.as_bytes());
    }
    let tokenizer_hash = crate::pjrt::cache::hex(&key.finalize()[..8]);
    let name = data.file_name().unwrap_or_default().to_string_lossy();
    Ok(data.with_file_name(format!("{name}.{data_hash}-{tokenizer_hash}.tokens.u32")))
}

fn data_error(path: &Path, reason: String) -> Error {
    Error::DataFile {
        path: path.to_path_buf(),
        reason,
    }
}

fn io_error(path: &Path, context: &str, source: std::io::Error) -> Error {
    Error::DataFileIo {
        path: path.to_path_buf(),
        context: context.into(),
        source,
    }
}

/// Writes `bytes` to `path` through a temporary file in the same directory, fsynced and renamed
/// into place, so a crash never leaves a partial file under the final name.
pub(crate) fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let file_name = path.file_name().unwrap_or_default().to_string_lossy();
    let temporary = dir.join(format!(".{file_name}.tmp-{}", std::process::id()));
    let written = (|| -> std::io::Result<()> {
        let mut file = File::create(&temporary)?;
        file.write_all(bytes)?;
        file.sync_all()
    })();
    if let Err(e) = written {
        let _ = std::fs::remove_file(&temporary);
        return Err(Error::io("cannot write", &temporary, e));
    }
    std::fs::rename(&temporary, path).map_err(|e| Error::io("cannot move into place", path, e))?;
    fsync_dir(dir)
}

/// The first 16 bytes of the file's xxh3-128, in hex.
pub(crate) fn hash_file(path: &Path) -> Result<String> {
    if std::fs::metadata(path).is_ok_and(|m| !m.is_file()) {
        return Err(data_error(path, "is not a regular file".into()));
    }
    let mut file = File::open(path).map_err(|e| io_error(path, "cannot open", e))?;
    let mut hasher = Xxh3::new();
    let mut chunk = vec![0u8; 1 << 20];
    loop {
        let n = file
            .read(&mut chunk)
            .map_err(|e| io_error(path, "cannot read", e))?;
        if n == 0 {
            break;
        }
        hasher.update(&chunk[..n]);
    }
    Ok(format!("{:032x}", hasher.digest128())[..16].to_string())
}

/// Tokenizes every document of `data` into `out`; returns (tokens, documents).
fn write_tokens(
    data: &Path,
    format: TextFormat,
    text_column: &str,
    tokenizer: &Tokenizer,
    out: &Path,
) -> Result<(u64, u64)> {
    let file = File::create(out).map_err(|e| Error::io("cannot create", out, e))?;
    let mut writer = BufWriter::with_capacity(1 << 20, file);
    let mut tokens = 0u64;
    let mut documents = 0u64;
    let mut emit = |text: &str, line: Option<usize>| -> Result<()> {
        let ids = tokenizer.encode(text, true).map_err(|e| {
            let at = line.map_or(String::new(), |l| format!("line {l}: "));
            data_error(data, format!("{at}{e}"))
        })?;
        if ids.is_empty() {
            return Ok(());
        }
        if documents > 0 {
            let eos = tokenizer.eos_id().ok_or_else(|| {
                data_error(
                    data,
                    format!(
                        "has several documents, but the tokenizer {} has no EOS token to join \
                         them (give the model's config.json / generation_config.json an \
                         eos_token_id)",
                        tokenizer.origin().display()
                    ),
                )
            })?;
            writer
                .write_all(&eos.to_le_bytes())
                .map_err(|e| Error::io("cannot write", out, e))?;
            tokens += 1;
        }
        for id in &ids {
            writer
                .write_all(&id.to_le_bytes())
                .map_err(|e| Error::io("cannot write", out, e))?;
        }
        tokens += ids.len() as u64;
        documents += 1;
        Ok(())
    };
    match format {
        TextFormat::Txt => {
            let bytes = std::fs::read(data).map_err(|e| io_error(data, "cannot read", e))?;
            let text = String::from_utf8(bytes).map_err(|e| {
                data_error(
                    data,
                    format!("is not UTF-8 text (byte {})", e.utf8_error().valid_up_to()),
                )
            })?;
            emit(&text, None)?;
        }
        TextFormat::Jsonl => {
            let file = File::open(data).map_err(|e| io_error(data, "cannot open", e))?;
            for (index, line) in BufReader::new(file).lines().enumerate() {
                let number = index + 1;
                let line = line
                    .map_err(|e| data_error(data, format!("line {number}: cannot read ({e})")))?;
                if line.trim().is_empty() {
                    continue;
                }
                let text = document_of(&line, text_column)
                    .map_err(|reason| data_error(data, format!("line {number}: {reason}")))?;
                emit(&text, Some(number))?;
            }
        }
    }
    if tokens == 0 {
        return Err(data_error(data, "holds no text to tokenize".into()));
    }
    let file = writer
        .into_inner()
        .map_err(|e| Error::io("cannot write", out, e.into_error()))?;
    file.sync_all()
        .map_err(|e| Error::io("cannot fsync", out, e))?;
    Ok((tokens, documents))
}

/// The text column of one JSONL line.
fn document_of(line: &str, text_column: &str) -> std::result::Result<String, String> {
    let value: serde_json::Value =
        serde_json::from_str(line).map_err(|e| format!("invalid JSON: {e}"))?;
    let object = value
        .as_object()
        .ok_or_else(|| "is not a JSON object".to_string())?;
    match object.get(text_column) {
        Some(serde_json::Value::String(text)) => Ok(text.clone()),
        Some(other) => Err(format!(
            "the `{text_column}` field is {other}, not a string"
        )),
        None => {
            let mut keys: Vec<&str> = object.keys().map(String::as_str).collect();
            keys.sort_unstable();
            Err(format!(
                "no `{text_column}` field (fields: {}); choose the column with --text-column",
                keys.join(", ")
            ))
        }
    }
}
