//! A what-if for the save path: the same state streamed into one safetensors file with O_DIRECT
//! through two reused, page-aligned 64 MiB windows (each tensor downloaded straight into a window
//! when it fits and hashed with xxh3 as the real writer does, while a writer thread writes the
//! other window; fsync'd at the end), instead of through a memory-mapped file.
//!
//! On VMs where first-touching a fresh page is expensive (the page-cache pages of a new mapped
//! file are zeroed by the kernel, then written by the copy), this shows how much of the gap to the
//! disk's O_DIRECT rate a different write strategy would close. It is a measurement probe, not a
//! checkpoint: no index, manifest or commit.

use std::fs::OpenOptions;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::sync::mpsc::{Receiver, Sender};
use std::time::Instant;

use serde_json::{json, Map, Value};
use xxhash_rust::xxh3::Xxh3;

use super::state::DeviceState;
use crate::checkpoint::TensorSpec;
use crate::{Error, Result};

const ALIGN: usize = 4096;
const WINDOW: usize = 64 << 20;

/// The safetensors header (length prefix, JSON padded with spaces to 8 bytes) of `specs` laid
/// out back to back in order.
pub fn safetensors_header(specs: &[TensorSpec]) -> Result<Vec<u8>> {
    let mut entries = Map::new();
    let mut offset = 0u64;
    for spec in specs {
        let len = spec.byte_len().ok_or_else(|| Error::InvalidTensor {
            tensor: spec.name.clone(),
            reason: "shape overflows".into(),
        })?;
        entries.insert(
            spec.name.clone(),
            json!({ "dtype": spec.dtype.name(), "shape": spec.shape, "data_offsets": [offset, offset + len] }),
        );
        offset += len;
    }
    let mut text = Value::Object(entries).to_string().into_bytes();
    while !text.len().is_multiple_of(8) {
        text.push(b' ');
    }
    let mut header = (text.len() as u64).to_le_bytes().to_vec();
    header.extend_from_slice(&text);
    Ok(header)
}

/// A page-aligned window of `WINDOW + ALIGN` bytes inside its own allocation (the heap block does
/// not move when the vector is sent to the writer thread, so the alignment holds).
struct Window {
    storage: Vec<u8>,
    start: usize,
}

impl Window {
    fn new() -> Window {
        // Filled with ones, not zeros: every page is touched now, outside the hot loop.
        let mut storage = vec![1u8; WINDOW + 2 * ALIGN];
        let start = storage.as_ptr().align_offset(ALIGN);
        storage.truncate(start + WINDOW + ALIGN);
        Window { storage, start }
    }

    fn bytes(&mut self) -> &mut [u8] {
        &mut self.storage[self.start..]
    }
}

/// Streams `state` into `path`: the calling thread downloads and hashes into one window while a
/// writer thread writes the other with O_DIRECT. Returns (seconds until durable, file length,
/// xxh3 of the file).
pub fn direct_save(state: &DeviceState, path: &Path) -> Result<(f64, u64, u64)> {
    let started = Instant::now();
    let header = safetensors_header(&state.specs)?;
    let mut file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .custom_flags(rustix::fs::OFlags::DIRECT.bits() as i32)
        .open(path)
        .map_err(|e| Error::io("cannot create (O_DIRECT)", path, e))?;
    let (full_tx, full_rx) = std::sync::mpsc::channel::<(Window, usize)>();
    let (free_tx, free_rx) = std::sync::mpsc::channel::<Window>();
    let mut hasher = Xxh3::new();
    let (produced, written) = std::thread::scope(|scope| {
        let writer = scope.spawn(move || -> Result<u64> {
            let mut written = 0u64;
            for (mut window, len) in full_rx {
                file.write_all(&window.bytes()[..len])
                    .map_err(|e| Error::io("cannot write (O_DIRECT)", path, e))?;
                written += len as u64;
                // The producer may be gone after an error; then the window is simply dropped.
                let _ = free_tx.send(window);
            }
            file.sync_all()
                .map_err(|e| Error::io("cannot fsync", path, e))?;
            Ok(written)
        });
        let produced = produce(state, &header, &mut hasher, full_tx, free_rx);
        let written = writer.join().unwrap_or_else(|_| {
            Err(Error::BenchCheck {
                check: "direct save".into(),
                reason: "the writer thread panicked".into(),
            })
        });
        (produced, written)
    });
    let length = produced?;
    written?;
    let file = OpenOptions::new()
        .write(true)
        .open(path)
        .map_err(|e| Error::io("cannot reopen", path, e))?;
    file.set_len(length)
        .map_err(|e| Error::io("cannot set length of", path, e))?;
    file.sync_all()
        .map_err(|e| Error::io("cannot fsync", path, e))?;
    Ok((started.elapsed().as_secs_f64(), length, hasher.digest()))
}

/// The producer side: fills windows with the header and every tensor (downloaded straight into
/// the window when it fits), hands aligned prefixes to the writer, carries the unaligned tail to
/// the next window. Returns the file's exact length.
fn produce(
    state: &DeviceState,
    header: &[u8],
    hasher: &mut Xxh3,
    full: Sender<(Window, usize)>,
    free: Receiver<Window>,
) -> Result<u64> {
    let hung_up = || Error::BenchCheck {
        check: "direct save".into(),
        reason: "the writer thread stopped".into(),
    };
    let mut spare = Some(Window::new());
    let mut current = Window::new();
    let mut filled = 0usize;
    let mut sent = 0u64;
    // Hands the aligned prefix of `current` to the writer and continues in another window.
    let mut hand_over = |current: &mut Window, filled: &mut usize| -> Result<()> {
        let aligned = *filled / ALIGN * ALIGN;
        if aligned == 0 {
            return Ok(());
        }
        let mut next = match spare.take() {
            Some(window) => window,
            None => free.recv().map_err(|_| hung_up())?,
        };
        let tail = *filled - aligned;
        let (from, to) = (current.start, next.start);
        next.storage[to..to + tail]
            .copy_from_slice(&current.storage[from + aligned..from + *filled]);
        let done = std::mem::replace(current, next);
        full.send((done, aligned)).map_err(|_| hung_up())?;
        sent += aligned as u64;
        *filled = tail;
        Ok(())
    };
    let capacity = WINDOW + ALIGN;
    hasher.update(header);
    current.bytes()[..header.len()].copy_from_slice(header);
    filled += header.len();
    let mut spill = Vec::new();
    for buffer in &state.buffers {
        let n = buffer.byte_size();
        if filled + n > capacity {
            hand_over(&mut current, &mut filled)?;
        }
        if filled + n <= capacity {
            let dst = &mut current.bytes()[filled..filled + n];
            buffer.copy_to_host(dst)?;
            hasher.update(dst);
            filled += n;
        } else {
            // Larger than a window: download once into a reused buffer and feed it through.
            spill.resize(n, 0);
            buffer.copy_to_host(&mut spill)?;
            hasher.update(&spill);
            for piece in spill.chunks(WINDOW) {
                if filled + piece.len() > capacity {
                    hand_over(&mut current, &mut filled)?;
                }
                current.bytes()[filled..filled + piece.len()].copy_from_slice(piece);
                filled += piece.len();
            }
        }
    }
    // Pad the tail to a whole block for O_DIRECT; the file is cut to `length` afterwards.
    let length = sent + filled as u64;
    let padded = filled.div_ceil(ALIGN) * ALIGN;
    current.bytes()[filled..padded].fill(0);
    full.send((current, padded)).map_err(|_| hung_up())?;
    Ok(length)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::StateSet;
    use crate::checkpoint::parse_shard;

    #[test]
    fn the_streamed_file_is_a_safetensors_file_holding_every_tensor() {
        let client = crate::pjrt::Client::cpu().expect("the CPU plugin must be available");
        // 70 MiB: one tensor larger than the window goes through the spill path.
        let mut set = StateSet::parse("6MiB").unwrap();
        set.tensors.push(TensorSpec::new(
            "big",
            crate::checkpoint::Dtype::F32,
            [(70u64 << 20) / 4 + 3],
        ));
        let state = DeviceState::upload(&client, &set, 5).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.safetensors");
        let (seconds, length, hash) = direct_save(&state, &path).unwrap();
        let bytes = std::fs::read(&path).unwrap();
        assert!(seconds > 0.0);
        assert_eq!(bytes.len() as u64, length);
        assert_eq!(xxhash_rust::xxh3::xxh3_64(&bytes), hash);
        let parsed = parse_shard(&path, &bytes).unwrap();
        assert_eq!(parsed.tensors.len(), state.specs.len());
        for ((spec, range), expected) in parsed.tensors.iter().zip(&state.checksums) {
            assert_eq!(
                xxhash_rust::xxh3::xxh3_64(&bytes[range.clone()]),
                *expected,
                "{}",
                spec.name
            );
        }
    }
}
