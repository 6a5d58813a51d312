//! The one writer of tensor files: each shard is streamed as one byte sequence (header, then
//! every tensor in file order) through a few reused, page-aligned windows. The calling thread
//! downloads tensors straight into one window and hashes them (xxh3) while a writer thread
//! writes the previous window with `O_DIRECT`, so device transfer, hashing and disk I/O overlap
//! and no page of the page cache is zero-filled, mapped or copied.
//!
//! The header is padded so that the data buffer starts on a 4 KiB boundary, every window but a
//! shard's last is a whole number of 4 KiB blocks, and the last one is zero-padded to a block and
//! the file then truncated to its exact length. Where the file system refuses `O_DIRECT` (tmpfs,
//! some FUSE), the same windows are written through the page cache, still in whole pages, so
//! nothing is read back to merge. When every shard is written they are `fdatasync`ed in parallel,
//! together with the checkpoint's small JSON documents.
//!
//! Windows are kept in a process-wide pool between saves: after the first save, a save allocates
//! nothing and takes no page faults for them.

use std::fs::{File, OpenOptions};
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::Mutex;

use memmap2::MmapMut;
use xxhash_rust::xxh3::Xxh3;

use super::layout::FileRecord;
use super::source::TensorSource;
use crate::{mmap, Error, Result};

/// Block size for `O_DIRECT` (offsets, lengths and buffer addresses are multiples of it).
pub const ALIGN: usize = 4096;
/// Default window size.
pub const DEFAULT_WINDOW_BYTES: usize = 64 << 20;
/// Windows in flight: one being filled, one being written.
const WINDOWS: usize = 2;

static POOL: Mutex<Vec<MmapMut>> = Mutex::new(Vec::new());
/// The staging buffer for tensors larger than a window that the source cannot copy in parts,
/// kept between saves (huge pages, touched once) like the windows.
static SPILL: Mutex<Option<MmapMut>> = Mutex::new(None);

/// Windows of `len` bytes from the pool, allocating (and pre-faulting) what is missing.
fn take_windows(len: usize, count: usize) -> Result<Vec<MmapMut>> {
    let mut pool = POOL.lock().unwrap_or_else(|e| e.into_inner());
    pool.retain(|w| w.len() == len);
    let keep = pool.len().min(count);
    let mut out: Vec<MmapMut> = pool.drain(..keep).collect();
    drop(pool);
    while out.len() < count {
        out.push(mmap::map_window(len)?);
    }
    Ok(out)
}

/// Two buffers of at least `len` bytes for a streaming reader: the save windows from the pool
/// when they are large enough (already touched), else fresh huge-page buffers.
pub fn take_read_buffers(len: usize) -> Result<Vec<MmapMut>> {
    let window = round_window(DEFAULT_WINDOW_BYTES);
    if len <= window {
        return take_windows(window, WINDOWS);
    }
    (0..WINDOWS)
        .map(|_| mmap::map_window(round_window(len)))
        .collect()
}

/// Gives buffers back to the pool (those of another size are unmapped).
pub fn return_windows(windows: impl IntoIterator<Item = MmapMut>) {
    let mut pool = POOL.lock().unwrap_or_else(|e| e.into_inner());
    pool.extend(windows);
    pool.truncate(WINDOWS);
}

/// Bytes of the window pool a save uses (the extra host memory of saving).
pub fn window_memory(window_bytes: usize) -> u64 {
    (round_window(window_bytes) * WINDOWS) as u64
}

fn round_window(window_bytes: usize) -> usize {
    window_bytes.max(ALIGN).div_ceil(ALIGN) * ALIGN
}

/// One shard to stream: its header bytes, then the source's tensors `tensors` in that order.
pub struct ShardWrite<'a> {
    pub path: PathBuf,
    pub header: &'a [u8],
    pub tensors: &'a [usize],
    pub source: &'a dyn TensorSource,
}

/// What streaming wrote.
pub struct Streamed {
    /// Size and xxh3 of each shard, in the order given.
    pub records: Vec<FileRecord>,
    /// Whether every shard was written with `O_DIRECT`.
    pub direct: bool,
}

struct Target {
    file: File,
    path: PathBuf,
    direct: bool,
}

/// Creates (or truncates) `path` for writing, with `O_DIRECT` when `direct` is asked for and
/// the file system accepts it; returns the file and whether it is `O_DIRECT`.
pub fn create_for_streaming(path: &Path, direct: bool) -> Result<(File, bool)> {
    create_with(path, direct, |flags| {
        OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .custom_flags(flags)
            .open(path)
    })
}

fn create(path: &Path, direct: bool) -> Result<Target> {
    let (file, direct) = create_for_streaming(path, direct)?;
    Ok(Target {
        file,
        path: path.to_path_buf(),
        direct,
    })
}

/// [`create_for_streaming`] with the `open(2)` call (given its extra flags) passed in.
fn create_with(
    path: &Path,
    direct: bool,
    open: impl Fn(i32) -> std::io::Result<File>,
) -> Result<(File, bool)> {
    if direct {
        match open(rustix::fs::OFlags::DIRECT.bits() as i32) {
            Ok(file) => return Ok((file, true)),
            // File systems without O_DIRECT (tmpfs before Linux 6.6, some FUSE) refuse it with
            // EINVAL, possibly after creating the file, which the buffered open truncates.
            Err(e) if e.raw_os_error() == Some(rustix::io::Errno::INVAL.raw_os_error()) => {}
            Err(e) => return Err(Error::io("cannot create", path, e)),
        }
    }
    let file = open(0).map_err(|e| Error::io("cannot create", path, e))?;
    Ok((file, false))
}

/// A filled window on its way to the writer thread.
struct Chunk {
    shard: usize,
    offset: u64,
    window: MmapMut,
    len: usize,
}

/// Streams every shard, writes the small `documents` (buffered), and makes all of them durable
/// with one parallel round of `fdatasync`; see the module documentation. On error the files are
/// left for the caller to remove.
pub fn write_shards(
    shards: &[ShardWrite],
    documents: &[(PathBuf, &[u8])],
    window_bytes: usize,
    direct: bool,
) -> Result<Streamed> {
    let window_len = round_window(window_bytes);
    let targets = shards
        .iter()
        .map(|s| create(&s.path, direct))
        .collect::<Result<Vec<_>>>()?;
    let windows = take_windows(window_len, WINDOWS)?;
    let (full_tx, full_rx) = channel::<Chunk>();
    let (free_tx, free_rx) = channel::<MmapMut>();
    let (produced, written, leftover) = std::thread::scope(|scope| {
        let targets = &targets;
        let writer = scope.spawn(move || -> Result<()> {
            for chunk in full_rx {
                let target = &targets[chunk.shard];
                target
                    .file
                    .write_all_at(&chunk.window[..chunk.len], chunk.offset)
                    .map_err(|e| Error::io("cannot write shard", &target.path, e))?;
                // The producer may be gone after an error; the window is then unmapped here.
                let _ = free_tx.send(chunk.window);
            }
            Ok(())
        });
        let mut producer = Producer {
            window_len,
            current: None,
            filled: 0,
            offset: 0,
            shard: 0,
            spare: windows,
            full: full_tx,
            free: free_rx,
            hasher: Xxh3::new(),
            spill: None,
        };
        let produced = shards
            .iter()
            .enumerate()
            .map(|(i, shard)| producer.shard(i, shard))
            .collect::<Result<Vec<(u64, u64)>>>();
        let Producer {
            current,
            spare,
            full,
            free,
            spill,
            ..
        } = producer;
        if spill.is_some() {
            *SPILL.lock().unwrap_or_else(|e| e.into_inner()) = spill;
        }
        drop(full);
        let written = writer.join().unwrap_or_else(|_| {
            Err(Error::io(
                "the shard writer thread panicked while writing",
                &targets[0].path,
                std::io::Error::other("panic"),
            ))
        });
        let mut leftover: Vec<MmapMut> = spare.into_iter().chain(current).collect();
        leftover.extend(free.try_iter());
        (produced, written, leftover)
    });
    return_windows(leftover);
    // The writer's own error (ENOSPC, EIO) explains a producer that saw it stop.
    written?;
    let lengths = produced?;
    let hashes: Vec<u64> = lengths.iter().map(|&(_, h)| h).collect();
    let mut lengths: Vec<u64> = lengths.iter().map(|&(l, _)| l).collect();
    let direct = targets.iter().all(|t| t.direct);
    let mut targets = targets;
    for (path, bytes) in documents {
        let mut file = File::create(path).map_err(|e| Error::io("cannot create", path, e))?;
        std::io::Write::write_all(&mut file, bytes)
            .map_err(|e| Error::io("cannot write", path, e))?;
        targets.push(Target {
            file,
            path: path.clone(),
            direct: false,
        });
        lengths.push(bytes.len() as u64);
    }
    finish_files(&targets, &lengths)?;
    Ok(Streamed {
        records: lengths
            .iter()
            .zip(hashes)
            .map(|(&size, hash)| FileRecord {
                size,
                xxh3: format!("{hash:016x}"),
            })
            .collect(),
        direct,
    })
}

/// Cuts each file to its exact length (the last block was padded) and `fdatasync`s all of them
/// in parallel, so their flushes overlap on the device.
fn finish_files(targets: &[Target], lengths: &[u64]) -> Result<()> {
    let finish = |target: &Target, len: u64| -> Result<()> {
        target
            .file
            .set_len(len)
            .map_err(|e| Error::io("cannot set length of", &target.path, e))?;
        target
            .file
            .sync_data()
            .map_err(|e| Error::io("cannot fsync", &target.path, e))
    };
    if targets.len() == 1 {
        return finish(&targets[0], lengths[0]);
    }
    std::thread::scope(|scope| {
        let handles: Vec<_> = targets
            .iter()
            .zip(lengths)
            .map(|(target, &len)| scope.spawn(move || finish(target, len)))
            .collect();
        handles
            .into_iter()
            .zip(targets)
            .map(|(h, target)| {
                h.join().unwrap_or_else(|_| {
                    Err(Error::io(
                        "the fsync thread panicked for",
                        &target.path,
                        std::io::Error::other("panic"),
                    ))
                })
            })
            .collect::<Result<Vec<()>>>()
            .map(drop)
    })
}

/// The calling thread's side: fills windows and hands them to the writer.
struct Producer {
    window_len: usize,
    current: Option<MmapMut>,
    /// Bytes of `current` filled.
    filled: usize,
    /// File offset of `current`'s first byte.
    offset: u64,
    shard: usize,
    spare: Vec<MmapMut>,
    full: Sender<Chunk>,
    free: Receiver<MmapMut>,
    hasher: Xxh3,
    /// Whole-tensor staging for a tensor larger than a window whose source cannot copy parts
    /// (taken from [`SPILL`] when first needed).
    spill: Option<MmapMut>,
}

fn writer_stopped() -> Error {
    Error::io(
        "the shard writer stopped",
        "",
        std::io::Error::from(std::io::ErrorKind::BrokenPipe),
    )
}

impl Producer {
    /// Streams one shard; returns its exact length and xxh3.
    fn shard(&mut self, index: usize, shard: &ShardWrite) -> Result<(u64, u64)> {
        self.shard = index;
        self.offset = 0;
        self.filled = 0;
        self.hasher = Xxh3::new();
        self.push_bytes(shard.header)?;
        let specs = shard.source.specs();
        for &tensor in shard.tensors {
            let spec = specs.get(tensor).ok_or_else(|| Error::InvalidTensor {
                tensor: format!("#{tensor}"),
                reason: "index out of range".into(),
            })?;
            let len = spec.byte_len().ok_or_else(|| Error::InvalidTensor {
                tensor: spec.name.clone(),
                reason: format!("shape {:?} overflows", spec.shape),
            })?;
            self.push_tensor(shard.source, tensor, len)?;
        }
        let length = self.offset + self.filled as u64;
        let padded = self.filled.div_ceil(ALIGN) * ALIGN;
        if padded > 0 {
            let mut window = self.window()?;
            window[self.filled..padded].fill(0);
            self.send(window, padded)?;
        }
        self.filled = 0;
        Ok((length, self.hasher.digest()))
    }

    /// The window being filled (taking a free one if there is none).
    fn window(&mut self) -> Result<MmapMut> {
        match self.current.take() {
            Some(w) => Ok(w),
            None => match self.spare.pop() {
                Some(w) => Ok(w),
                None => self.free.recv().map_err(|_| writer_stopped()),
            },
        }
    }

    fn send(&mut self, window: MmapMut, len: usize) -> Result<()> {
        let chunk = Chunk {
            shard: self.shard,
            offset: self.offset,
            window,
            len,
        };
        self.full.send(chunk).map_err(|_| writer_stopped())?;
        self.offset += len as u64;
        Ok(())
    }

    /// Sends the whole blocks of the current window and carries the partial last block (less
    /// than [`ALIGN`] bytes) into a fresh window.
    fn hand_over(&mut self) -> Result<()> {
        let aligned = self.filled / ALIGN * ALIGN;
        let window = self.window()?;
        let mut next = match self.spare.pop() {
            Some(w) => w,
            None => self.free.recv().map_err(|_| writer_stopped())?,
        };
        let tail = self.filled - aligned;
        next[..tail].copy_from_slice(&window[aligned..self.filled]);
        self.send(window, aligned)?;
        self.current = Some(next);
        self.filled = tail;
        Ok(())
    }

    /// Room left in the current window, handing it over first when it is full.
    fn room(&mut self) -> Result<usize> {
        if self.filled == self.window_len {
            self.hand_over()?;
        }
        Ok(self.window_len - self.filled)
    }

    /// Copies `bytes` into the stream (and the hash).
    fn push_bytes(&mut self, mut bytes: &[u8]) -> Result<()> {
        while !bytes.is_empty() {
            let n = self.room()?.min(bytes.len());
            let mut window = self.window()?;
            let dst = &mut window[self.filled..self.filled + n];
            dst.copy_from_slice(&bytes[..n]);
            self.hasher.update(dst);
            self.current = Some(window);
            self.filled += n;
            bytes = &bytes[n..];
        }
        Ok(())
    }

    /// Has the source write tensor `index` (`len` bytes) straight into the window: whole when it
    /// fits in the rest of the window or in a fresh one, else in window-sized parts where the
    /// source can copy parts, else through the spill buffer.
    fn push_tensor(&mut self, source: &dyn TensorSource, index: usize, len: usize) -> Result<()> {
        if len > self.window_len - self.filled && len + ALIGN <= self.window_len {
            self.hand_over()?;
        }
        if len <= self.window_len - self.filled {
            let mut window = self.window()?;
            let dst = &mut window[self.filled..self.filled + len];
            let copied = source.copy_tensor(index, dst);
            self.hasher.update(dst);
            self.current = Some(window);
            self.filled += len;
            return copied;
        }
        let mut done = 0usize;
        while done < len {
            let n = self.room()?.min(len - done);
            let mut window = self.window()?;
            let dst = &mut window[self.filled..self.filled + n];
            let copied = source.copy_tensor_part(index, done as u64, dst);
            match copied {
                Ok(true) => {
                    self.hasher.update(dst);
                    self.current = Some(window);
                    self.filled += n;
                    done += n;
                }
                Ok(false) if done == 0 => {
                    self.current = Some(window);
                    let mut spill = match self.spill.take() {
                        Some(s) => s,
                        None => SPILL
                            .lock()
                            .unwrap_or_else(|e| e.into_inner())
                            .take()
                            .map_or_else(|| mmap::map_window(round_window(len)), Ok)?,
                    };
                    if spill.len() < len {
                        spill = mmap::map_window(round_window(len))?;
                    }
                    let result = source
                        .copy_tensor(index, &mut spill[..len])
                        .and_then(|()| self.push_bytes(&spill[..len]));
                    self.spill = Some(spill);
                    return result;
                }
                Ok(false) => {
                    return Err(Error::InvalidTensor {
                        tensor: source.specs()[index].name.clone(),
                        reason: "the source stopped copying parts of the tensor".into(),
                    })
                }
                Err(e) => {
                    self.current = Some(window);
                    return Err(e);
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checkpoint::safetensors::{build_header, parse_shard, DATA_ALIGN};
    use crate::checkpoint::{DType, HostTensors, TensorSpec};

    /// Tensors of 0, 3, 5000, 9000 (> one 8 KiB window) and 40000 bytes, distinct bytes each.
    fn tensors() -> HostTensors {
        let mut host = HostTensors::new();
        for (i, n) in [0usize, 3, 5000, 9000, 40000].into_iter().enumerate() {
            let bytes = (0..n).map(|b| (b * 7 + i * 31) as u8).collect();
            host.push(TensorSpec::new(format!("t{i}"), DType::U8, [n]), bytes)
                .unwrap();
        }
        host
    }

    /// Copies whole tensors only, like a device without partial downloads.
    struct WholeOnly(HostTensors);

    impl TensorSource for WholeOnly {
        fn specs(&self) -> &[TensorSpec] {
            self.0.specs()
        }
        fn copy_tensor(&self, index: usize, dst: &mut [u8]) -> Result<()> {
            self.0.copy_tensor(index, dst)
        }
    }

    /// Streams `source` into `dir/name` and checks the file against a reference reader's view:
    /// a valid safetensors file, data on a 4 KiB boundary, every tensor's bytes, the length and
    /// xxh3 the writer reported.
    fn stream_and_check(dir: &Path, source: &dyn TensorSource, direct: bool) -> bool {
        let specs: Vec<&TensorSpec> = source.specs().iter().collect();
        let header = build_header(&specs, &Default::default()).unwrap();
        let tensors: Vec<usize> = (0..specs.len()).collect();
        let path = dir.join("s.safetensors");
        let shard = ShardWrite {
            path: path.clone(),
            header: &header.bytes,
            tensors: &tensors,
            source,
        };
        let streamed = write_shards(&[shard], &[], 8192, direct).unwrap();
        let bytes = std::fs::read(&path).unwrap();
        assert_eq!(header.bytes.len() % DATA_ALIGN, 0);
        assert_eq!(streamed.records[0].size, bytes.len() as u64);
        assert_eq!(
            streamed.records[0].xxh3,
            format!("{:016x}", xxhash_rust::xxh3::xxh3_64(&bytes))
        );
        let parsed = parse_shard(&path, &bytes).unwrap();
        let host = tensors_bytes(source);
        for ((spec, range), expected) in parsed.tensors.iter().zip(host) {
            assert_eq!(&bytes[range.clone()], &expected[..], "{}", spec.name);
        }
        streamed.direct
    }

    fn tensors_bytes(source: &dyn TensorSource) -> Vec<Vec<u8>> {
        (0..source.specs().len())
            .map(|i| {
                let mut v = vec![0; source.specs()[i].byte_len().unwrap()];
                source.copy_tensor(i, &mut v).unwrap();
                v
            })
            .collect()
    }

    fn accepts_direct_io(dir: &Path) -> bool {
        OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .custom_flags(rustix::fs::OFlags::DIRECT.bits() as i32)
            .open(dir.join("probe"))
            .is_ok()
    }

    #[test]
    fn tensors_smaller_and_larger_than_a_window_stream_into_a_valid_shard() {
        let dir = tempfile::tempdir().unwrap();
        let direct = stream_and_check(dir.path(), &tensors(), true);
        assert_eq!(direct, accepts_direct_io(dir.path()));
    }

    #[test]
    fn a_source_without_partial_copies_streams_large_tensors_through_the_spill_buffer() {
        let dir = tempfile::tempdir().unwrap();
        stream_and_check(dir.path(), &WholeOnly(tensors()), true);
    }

    #[test]
    fn a_file_system_that_refuses_o_direct_gets_buffered_writes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s");
        let direct_flag = rustix::fs::OFlags::DIRECT.bits() as i32;
        let refusing = |flags: i32| {
            if flags & direct_flag != 0 {
                return Err(std::io::Error::from_raw_os_error(
                    rustix::io::Errno::INVAL.raw_os_error(),
                ));
            }
            File::create(&path)
        };
        let (file, direct) = create_with(&path, true, refusing).unwrap();
        assert!(!direct);
        file.write_all_at(b"page", 0).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"page");
        // Any other refusal is an error naming the file, not a silent fallback.
        let denied = |_: i32| Err(std::io::Error::from(std::io::ErrorKind::PermissionDenied));
        let err = create_with(&path, true, denied).err().unwrap();
        assert!(err.to_string().contains("cannot create"), "{err}");
    }

    #[test]
    fn tmpfs_shards_stream_too() {
        // tmpfs takes O_DIRECT since Linux 6.6 and refuses it before; either way the file is right.
        let dir = tempfile::tempdir_in("/dev/shm").expect("/dev/shm (tmpfs) must exist");
        let direct = stream_and_check(dir.path(), &tensors(), true);
        assert_eq!(direct, accepts_direct_io(dir.path()));
    }

    #[test]
    fn buffered_writes_can_be_asked_for() {
        let dir = tempfile::tempdir().unwrap();
        assert!(!stream_and_check(dir.path(), &tensors(), false));
    }

    #[test]
    fn several_shards_share_the_windows_and_each_gets_its_own_hash() {
        let dir = tempfile::tempdir().unwrap();
        let source = tensors();
        let specs: Vec<&TensorSpec> = source.specs().iter().collect();
        let (a, b) = (build_header(&specs[..3], &Default::default()).unwrap(), {
            build_header(&specs[3..], &Default::default()).unwrap()
        });
        let (ta, tb) = ([0usize, 1, 2], [3usize, 4]);
        let writes = [
            ShardWrite {
                path: dir.path().join("a"),
                header: &a.bytes,
                tensors: &ta,
                source: &source,
            },
            ShardWrite {
                path: dir.path().join("b"),
                header: &b.bytes,
                tensors: &tb,
                source: &source,
            },
        ];
        let streamed = write_shards(&writes, &[], 8192, true).unwrap();
        for (write, record) in writes.iter().zip(&streamed.records) {
            let bytes = std::fs::read(&write.path).unwrap();
            assert_eq!(record.size, bytes.len() as u64);
            assert_eq!(
                record.xxh3,
                format!("{:016x}", xxhash_rust::xxh3::xxh3_64(&bytes))
            );
            parse_shard(&write.path, &bytes).unwrap();
        }
    }
}
