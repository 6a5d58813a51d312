//! Opening a checkpoint: every file is validated before any tensor is handed out. JSON documents
//! must parse, shard headers must pass the strict safetensors checks, the index must agree with
//! the shards both ways, and (at [`Verify::Full`]) every file must match the manifest's xxh3.
//! Tensors are then borrowed straight from the read-only mappings, one at a time.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fs::{self, File};
use std::io::{ErrorKind, Read};
use std::ops::Range;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{channel, sync_channel, Receiver, SyncSender};

use memmap2::{Mmap, MmapMut};
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::documents::{
    parse_index_bytes, parse_json_bytes, parse_manifest_bytes, parse_trainer_state_bytes,
};
use xxhash_rust::xxh3::Xxh3;

use super::consistency::check_consistency;
use super::layout::*;
use super::safetensors::parse_shard;
use super::state::TrainerState;
use super::stream::{return_windows, take_read_buffers};
use crate::TensorSpec;
use crate::{mmap, Error, Result};

/// Bytes of a shard the one-pass reader asks the kernel to read ahead of the tensor it reads.
const READ_AHEAD: u64 = 256 << 20;

/// How much of a checkpoint to check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verify {
    /// The manifest parses and every file it lists exists with the recorded size.
    Quick,
    /// Quick, plus all JSON, every shard header and the index/shard agreement.
    Structure,
    /// Structure, plus every file's xxh3 against the manifest (reads every byte).
    Full,
}

/// One tensor file set (`model` or `optimizer`), mapped and validated.
pub struct TensorSet {
    shards: Vec<MappedShard>,
    entries: Vec<Entry>,
    by_name: HashMap<String, usize>,
    metadata: BTreeMap<String, BTreeMap<String, String>>,
}

struct MappedShard {
    file_name: String,
    map: Mmap,
    /// The open file, for the one-pass verified read ([`TensorSet::for_each_verified`]).
    file: File,
}

struct Entry {
    spec: TensorSpec,
    shard: usize,
    range: Range<usize>,
}

impl TensorSet {
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Tensor `index` in file order (shard by shard, by offset: the saving source's declaration
    /// order for checkpoints xlatrain wrote), borrowed from the mapping.
    pub fn tensor(&self, index: usize) -> Option<(&TensorSpec, &[u8])> {
        let entry = self.entries.get(index)?;
        let bytes = self.shards.get(entry.shard)?.map.get(entry.range.clone())?;
        Some((&entry.spec, bytes))
    }

    /// The tensor called `name`.
    pub fn get(&self, name: &str) -> Option<(&TensorSpec, &[u8])> {
        self.tensor(*self.by_name.get(name)?)
    }

    /// All tensors in file order.
    pub fn iter(&self) -> impl Iterator<Item = (&TensorSpec, &[u8])> + '_ {
        (0..self.len()).filter_map(|i| self.tensor(i))
    }

    pub fn specs(&self) -> impl Iterator<Item = &TensorSpec> + '_ {
        self.entries.iter().map(|e| &e.spec)
    }

    /// The file holding tensor `index`.
    pub fn file_of(&self, index: usize) -> Option<&str> {
        let entry = self.entries.get(index)?;
        Some(self.shards.get(entry.shard)?.file_name.as_str())
    }

    /// Byte range of tensor `index` inside its file.
    pub fn byte_range(&self, index: usize) -> Option<Range<usize>> {
        self.entries.get(index).map(|e| e.range.clone())
    }

    /// `__metadata__` of each shard file, by file name.
    pub fn metadata(&self) -> &BTreeMap<String, BTreeMap<String, String>> {
        &self.metadata
    }

    /// Hands every tensor to `visit` in file order, reading each byte of each shard once: a
    /// reader thread `pread`s the next tensor into one of two reused buffers and hashes it while
    /// `visit` (an upload) works on the other, and drops each shard from the page cache once
    /// it is read. Each shard's xxh3 (header first, then every tensor) is checked against
    /// `manifest` after its last tensor, so a damaged shard fails with
    /// [`Error::ChecksumMismatch`] before this returns. Extra host memory: two buffers of the
    /// largest tensor.
    pub fn for_each_verified(
        &self,
        dir: &Path,
        manifest: &Manifest,
        mut visit: impl FnMut(&TensorSpec, &[u8]) -> Result<()>,
    ) -> Result<()> {
        let largest = self
            .entries
            .iter()
            .map(|e| e.range.len())
            .max()
            .unwrap_or(0);
        let (full_tx, full_rx) = sync_channel::<(usize, MmapMut)>(1);
        let (free_tx, free_rx) = channel::<MmapMut>();
        for buffer in take_read_buffers(largest)? {
            let _ = free_tx.send(buffer);
        }
        std::thread::scope(|scope| {
            let reader = scope.spawn(move || self.read_verified(dir, manifest, full_tx, free_rx));
            let mut visited = Ok(());
            for (index, bytes) in full_rx.iter() {
                let len = self.entries[index].range.len();
                visited = visit(&self.entries[index].spec, &bytes[..len]);
                if visited.is_err() {
                    break;
                }
                let _ = free_tx.send(bytes);
            }
            drop(full_rx);
            drop(free_tx);
            let read = reader.join().map(|(read, buffers)| {
                return_windows(buffers);
                read
            });
            let read = read.unwrap_or_else(|_| {
                Err(Error::CheckpointInvalid {
                    path: dir.to_path_buf(),
                    reason: "the shard reader thread panicked".into(),
                })
            });
            // A checksum mismatch explains whatever the visit saw.
            read.and(visited)
        })
    }

    /// The reader side of [`Self::for_each_verified`].
    fn read_verified(
        &self,
        dir: &Path,
        manifest: &Manifest,
        full: SyncSender<(usize, MmapMut)>,
        free: Receiver<MmapMut>,
    ) -> (Result<()>, Vec<MmapMut>) {
        let read = self.read_shards(dir, manifest, &full, &free);
        drop(full);
        // The visitor has returned or will return every buffer it got; collect them for reuse.
        (read, free.iter().collect())
    }

    fn read_shards(
        &self,
        dir: &Path,
        manifest: &Manifest,
        full: &SyncSender<(usize, MmapMut)>,
        free: &Receiver<MmapMut>,
    ) -> Result<()> {
        let mut entries = self.entries.iter().enumerate().peekable();
        for (shard_index, shard) in self.shards.iter().enumerate() {
            let path = dir.join(&shard.file_name);
            let expected =
                manifest
                    .files
                    .get(&shard.file_name)
                    .ok_or_else(|| Error::CheckpointInvalid {
                        path: path.clone(),
                        reason: "the manifest does not list this shard".into(),
                    })?;
            let file = &shard.file;
            let _ = rustix::fs::fadvise(file, 0, None, rustix::fs::Advice::Sequential);
            let read_at = |buf: &mut [u8], range: Range<usize>| -> Result<()> {
                file.read_exact_at(buf, range.start as u64)
                    .map_err(|e| Error::io("cannot read shard", &path, e))
            };
            let mut hasher = Xxh3::new();
            let mut hashed = 0usize;
            let mut scratch = Vec::new();
            while let Some((index, entry)) = entries.next_if(|(_, e)| e.shard == shard_index) {
                // Offsets are contiguous (checked when opened): before the first tensor this is
                // the header, later nothing.
                if entry.range.start > hashed {
                    scratch.resize(entry.range.start - hashed, 0);
                    read_at(&mut scratch, hashed..entry.range.start)?;
                    hasher.update(&scratch);
                }
                // Keep the disk busy while the visitor uploads: ask for the next bytes ahead
                // (asynchronous readahead), not only the ones read next.
                let _ = rustix::fs::fadvise(
                    file,
                    entry.range.start as u64,
                    std::num::NonZeroU64::new(READ_AHEAD),
                    rustix::fs::Advice::WillNeed,
                );
                let Ok(mut buf) = free.recv() else {
                    return Ok(()); // the visitor stopped
                };
                let bytes = &mut buf[..entry.range.len()];
                read_at(bytes, entry.range.clone())?;
                hasher.update(bytes);
                hashed = entry.range.end;
                if full.send((index, buf)).is_err() {
                    return Ok(());
                }
            }
            if shard.map.len() > hashed {
                scratch.resize(shard.map.len() - hashed, 0);
                read_at(&mut scratch, hashed..shard.map.len())?;
                hasher.update(&scratch);
            }
            // Read once: the page cache need not keep the shard (one call per shard: each
            // DONTNEED drains the LRU caches of every CPU).
            let _ = rustix::fs::fadvise(file, 0, None, rustix::fs::Advice::DontNeed);
            let found = format!("{:016x}", hasher.digest());
            if found != expected.xxh3 {
                return Err(Error::ChecksumMismatch {
                    path,
                    expected: expected.xxh3.clone(),
                    found,
                });
            }
        }
        Ok(())
    }

    /// Returns the tensors in the order of `expected`, failing on the first tensor that is
    /// missing, unexpected, or has another dtype or shape than declared.
    pub fn matching<'a>(
        &'a self,
        checkpoint: &Path,
        expected: &[TensorSpec],
    ) -> Result<Vec<&'a [u8]>> {
        let mut out = Vec::with_capacity(expected.len());
        for want in expected {
            let Some((found, bytes)) = self.get(&want.name) else {
                return Err(Error::TensorSpecMismatch {
                    path: checkpoint.to_path_buf(),
                    tensor: want.name.clone(),
                    expected: want.describe(),
                    found: "no such tensor".into(),
                });
            };
            if found != want {
                return Err(Error::TensorSpecMismatch {
                    path: checkpoint.to_path_buf(),
                    tensor: want.name.clone(),
                    expected: want.describe(),
                    found: found.describe(),
                });
            }
            out.push(bytes);
        }
        if let Some(extra) = self
            .specs()
            .find(|s| !expected.iter().any(|e| e.name == s.name))
        {
            return Err(Error::TensorSpecMismatch {
                path: checkpoint.to_path_buf(),
                tensor: extra.name.clone(),
                expected: "no such tensor".into(),
                found: extra.describe(),
            });
        }
        Ok(out)
    }
}

/// An opened, validated checkpoint.
pub struct Checkpoint {
    pub path: PathBuf,
    pub manifest: Manifest,
    pub model: TensorSet,
    pub optimizer: Option<TensorSet>,
    pub trainer_state: TrainerState,
    pub training_args: Value,
    pub config: Value,
}

impl Checkpoint {
    pub fn step(&self) -> u64 {
        self.manifest.step
    }

    /// Checks the xxh3 of every file the manifest lists except the tensor shards (whose hashes
    /// [`TensorSet::for_each_verified`] checks while they are read for upload).
    pub fn verify_documents(&self) -> Result<()> {
        let shards: BTreeSet<&str> = std::iter::once(&self.model)
            .chain(self.optimizer.as_ref())
            .flat_map(|s| s.shards.iter().map(|m| m.file_name.as_str()))
            .collect();
        for (name, record) in &self.manifest.files {
            if shards.contains(name.as_str()) {
                continue;
            }
            let file_path = self.path.join(name);
            let found = xxh3_hex(&read_file(&file_path)?);
            if found != record.xxh3 {
                return Err(Error::ChecksumMismatch {
                    path: file_path,
                    expected: record.xxh3.clone(),
                    found,
                });
            }
        }
        Ok(())
    }
}

/// Opens the checkpoint directory `path`, checking it to the given level (Quick is treated as
/// Structure: opening always parses everything it hands out). Every level above Quick also
/// checks that the parts agree (`consistency.rs`): a checkpoint that opens is one that loads.
pub fn open_checkpoint(path: &Path, verify: Verify) -> Result<Checkpoint> {
    let manifest = read_manifest(path)?;
    check_listed_sizes(path, &manifest, true)?;
    let config = read_json(&path.join(CONFIG_FILE))?;
    let training_args = read_json(&path.join(TRAINING_ARGS_FILE))?;
    let trainer_state_path = path.join(TRAINER_STATE_FILE);
    let trainer_state =
        parse_trainer_state_bytes(&trainer_state_path, &read_file(&trainer_state_path)?)?;
    let model = open_tensor_set(path, &manifest, MODEL_PREFIX)?.ok_or_else(|| {
        Error::CheckpointFileMissing {
            path: path.join(single_file_name(MODEL_PREFIX)),
        }
    })?;
    let optimizer = open_tensor_set(path, &manifest, OPTIMIZER_PREFIX)?;
    if verify == Verify::Full {
        let sets = std::iter::once(&model).chain(optimizer.as_ref());
        let mapped: HashMap<&str, &[u8]> = sets
            .flat_map(|s| s.shards.iter().map(|m| (m.file_name.as_str(), &m.map[..])))
            .collect();
        for (name, record) in &manifest.files {
            let file_path = path.join(name);
            let found = match mapped.get(name.as_str()) {
                Some(bytes) => xxh3_hex(bytes),
                None => xxh3_hex(&read_file(&file_path)?),
            };
            if found != record.xxh3 {
                return Err(Error::ChecksumMismatch {
                    path: file_path,
                    expected: record.xxh3.clone(),
                    found,
                });
            }
        }
    }
    let checkpoint = Checkpoint {
        path: path.to_path_buf(),
        manifest,
        model,
        optimizer,
        trainer_state,
        training_args,
        config,
    };
    check_consistency(&checkpoint)?;
    Ok(checkpoint)
}

/// Checks a checkpoint without keeping it open; `Verify::Quick` reads only the manifest and
/// file sizes.
pub fn check_checkpoint(path: &Path, verify: Verify) -> Result<Manifest> {
    match verify {
        Verify::Quick => {
            let manifest = read_manifest(path)?;
            check_listed_sizes(path, &manifest, false)?;
            Ok(manifest)
        }
        _ => Ok(open_checkpoint(path, verify)?.manifest),
    }
}

/// Opens `path` for reading if it is a regular file (symlinks followed). A checkpoint holds only
/// regular files; a FIFO planted in one would block the open forever and a device would never
/// end, so both are refused before opening.
fn open_regular(path: &Path, context: &str) -> Result<File> {
    let not_found_or = |e: std::io::Error, context: &str| match e.kind() {
        ErrorKind::NotFound => Error::CheckpointFileMissing {
            path: path.to_path_buf(),
        },
        _ => Error::io(context, path, e),
    };
    let meta = fs::metadata(path).map_err(|e| not_found_or(e, "cannot stat"))?;
    if !meta.is_file() {
        return Err(Error::CheckpointInvalid {
            path: path.to_path_buf(),
            reason: format!("not a regular file but {}", file_kind(meta.file_type())),
        });
    }
    File::open(path).map_err(|e| not_found_or(e, context))
}

fn file_kind(kind: fs::FileType) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    if kind.is_dir() {
        "a directory"
    } else if kind.is_fifo() {
        "a FIFO"
    } else if kind.is_char_device() || kind.is_block_device() {
        "a device"
    } else if kind.is_socket() {
        "a socket"
    } else {
        "a special file"
    }
}

fn read_file(path: &Path) -> Result<Vec<u8>> {
    let mut bytes = Vec::new();
    open_regular(path, "cannot open")?
        .read_to_end(&mut bytes)
        .map_err(|e| Error::io("cannot read", path, e))?;
    Ok(bytes)
}

fn read_json<T: DeserializeOwned>(path: &Path) -> Result<T> {
    parse_json_bytes(path, &read_file(path)?)
}

pub(crate) fn read_manifest(dir: &Path) -> Result<Manifest> {
    if !dir.is_dir() {
        return Err(Error::CheckpointInvalid {
            path: dir.to_path_buf(),
            reason: "not a directory".into(),
        });
    }
    let path = dir.join(MANIFEST_FILE);
    parse_manifest_bytes(&path, &read_file(&path)?)
}

/// Checks that every file the manifest lists exists with its recorded size (JSON documents are
/// skipped when `shards_only`, so that a damaged document is reported by its parse error).
fn check_listed_sizes(dir: &Path, manifest: &Manifest, shards_only: bool) -> Result<()> {
    for (name, record) in &manifest.files {
        let is_shard = name.ends_with(".safetensors");
        if shards_only && !is_shard {
            continue;
        }
        let path = dir.join(name);
        let found = match fs::metadata(&path) {
            Ok(meta) => meta.len(),
            Err(e) if e.kind() == ErrorKind::NotFound => {
                return Err(Error::CheckpointFileMissing { path })
            }
            Err(e) => return Err(Error::io("cannot stat", &path, e)),
        };
        if found == record.size {
            continue;
        }
        return Err(if is_shard {
            Error::SafetensorsLength {
                path,
                expected: record.size,
                found,
            }
        } else {
            Error::ChecksumMismatch {
                path,
                expected: format!("{} bytes", record.size),
                found: format!("{found} bytes"),
            }
        });
    }
    Ok(())
}

fn open_tensor_set(dir: &Path, manifest: &Manifest, prefix: &str) -> Result<Option<TensorSet>> {
    let index_name = index_file_name(prefix);
    let single = single_file_name(prefix);
    if manifest.files.contains_key(&index_name) {
        let index_path = dir.join(&index_name);
        let index = parse_index_bytes(&index_path, &read_file(&index_path)?)?;
        // A set, not a list: a hostile index can name millions of distinct files, and checking
        // each against a list made opening quadratic (minutes for a few MB of index).
        let mut files: BTreeSet<&String> = index.weight_map.values().collect();
        // Shards of this set that the manifest lists but no index entry names must be opened
        // too, so that their tensors are reported as unlisted instead of silently ignored.
        files.extend(
            manifest
                .files
                .keys()
                .filter(|name| is_shard_of(name, prefix)),
        );
        for file in &files {
            if !manifest.files.contains_key(file.as_str()) {
                return Err(Error::IndexInvalid {
                    index: index_path,
                    reason: format!("shard {file:?} is not covered by the checkpoint manifest"),
                });
            }
        }
        let files: Vec<&String> = files.into_iter().collect();
        let set = map_shards(dir, &files)?;
        for entry in &set.entries {
            let shard = &set.shards[entry.shard].file_name;
            if index.weight_map.get(&entry.spec.name) != Some(shard) {
                return Err(Error::IndexTensorUnlisted {
                    index: index_path,
                    tensor: entry.spec.name.clone(),
                    shard: dir.join(shard),
                });
            }
        }
        for (tensor, file) in &index.weight_map {
            let present = set.get(tensor).is_some();
            if !present {
                return Err(Error::IndexTensorMissing {
                    index: index_path,
                    tensor: tensor.clone(),
                    shard: dir.join(file),
                });
            }
        }
        let total: u64 = set.entries.iter().map(|e| e.range.len() as u64).sum();
        if total != index.metadata.total_size {
            return Err(Error::IndexInvalid {
                index: index_path,
                reason: format!(
                    "metadata.total_size is {} but the shards hold {total} bytes of tensors",
                    index.metadata.total_size
                ),
            });
        }
        Ok(Some(set))
    } else if manifest.files.contains_key(&single) {
        Ok(Some(map_shards(dir, &[&single])?))
    } else {
        Ok(None)
    }
}

fn map_shards(dir: &Path, files: &[&String]) -> Result<TensorSet> {
    let mut set = TensorSet {
        shards: Vec::new(),
        entries: Vec::new(),
        by_name: HashMap::new(),
        metadata: BTreeMap::new(),
    };
    for file_name in files {
        let path = dir.join(file_name);
        let file = open_regular(&path, "cannot open shard")?;
        let map = mmap::map_read(&file, &path)?;
        let parsed = parse_shard(&path, &map)?;
        let shard = set.shards.len();
        for (spec, range) in parsed.tensors {
            if set
                .by_name
                .insert(spec.name.clone(), set.entries.len())
                .is_some()
            {
                return Err(Error::SafetensorsTensor {
                    path,
                    tensor: spec.name,
                    reason: "also present in another shard".into(),
                });
            }
            set.entries.push(Entry { spec, shard, range });
        }
        set.metadata.insert(file_name.to_string(), parsed.metadata);
        set.shards.push(MappedShard {
            file_name: file_name.to_string(),
            map,
            file,
        });
    }
    Ok(set)
}

/// Whether `name` is a numbered shard of the set `prefix` (`<prefix>-NNNNN-of-NNNNN.safetensors`).
fn is_shard_of(name: &str, prefix: &str) -> bool {
    let Some(rest) = name
        .strip_prefix(prefix)
        .and_then(|r| r.strip_prefix('-'))
        .and_then(|r| r.strip_suffix(".safetensors"))
    else {
        return false;
    };
    let mut parts = rest.split("-of-");
    let digits =
        |p: Option<&str>| p.is_some_and(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
    digits(parts.next()) && digits(parts.next()) && parts.next().is_none()
}
