//! TensorBoard event files (`--report-to tensorboard`): one `events.out.tfevents.<time>.<host>`
//! file per run directory, holding `Event` protocol buffers in TFRecord framing, so TensorBoard
//! (and `tensorboard.backend.event_processing`) reads the run while it trains.
//!
//! The file starts with the `file_version: "brain.Event:2"` event; each log event then appends one
//! `Event { wall_time, step, summary }` whose summary has one `simple_value` per numeric metric,
//! and is flushed at once. The few protobuf fields are encoded here by hand (a protobuf crate
//! and generated code would outweigh them); framing: `u64` LE length, masked CRC-32C of the
//! length, the bytes, masked CRC-32C of the bytes.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::{Error, Result};

/// Appends events to one TensorBoard event file.
pub struct EventWriter {
    file: BufWriter<File>,
    path: PathBuf,
}

impl EventWriter {
    /// Creates `dir` (and its parents) and a new event file in it, named as TensorFlow names
    /// them, starting with the file-version event.
    pub fn create(dir: &Path) -> Result<EventWriter> {
        std::fs::create_dir_all(dir)
            .map_err(|e| Error::io("cannot create the TensorBoard log directory", dir, e))?;
        let now = unix_seconds();
        let name = format!(
            "events.out.tfevents.{}.{}.{}.0",
            now as u64,
            hostname(),
            std::process::id()
        );
        let path = dir.join(name);
        let file = std::fs::OpenOptions::new()
            .create_new(true)
            .write(true)
            .open(&path)
            .map_err(|e| Error::io("cannot create the TensorBoard event file", &path, e))?;
        let mut writer = EventWriter {
            file: BufWriter::new(file),
            path,
        };
        let mut event = Vec::new();
        put_double(&mut event, 1, now);
        put_bytes(&mut event, 3, b"brain.Event:2");
        writer.append(&event)?;
        Ok(writer)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// One event at `step` with a scalar per `(tag, value)`, flushed to the file.
    pub fn scalars(&mut self, step: u64, values: &[(String, f64)]) -> Result<()> {
        if values.is_empty() {
            return Ok(());
        }
        let mut summary = Vec::new();
        for (tag, value) in values {
            let mut entry = Vec::new();
            put_bytes(&mut entry, 1, tag.as_bytes());
            // simple_value (field 2) is a 32-bit float, as TensorBoard stores scalars
            put_key(&mut entry, 2, 5);
            entry.extend_from_slice(&(*value as f32).to_le_bytes());
            put_bytes(&mut summary, 1, &entry);
        }
        let mut event = Vec::new();
        put_double(&mut event, 1, unix_seconds());
        put_key(&mut event, 2, 0);
        put_varint(&mut event, step);
        put_bytes(&mut event, 5, &summary);
        self.append(&event)
    }

    fn append(&mut self, record: &[u8]) -> Result<()> {
        let len = (record.len() as u64).to_le_bytes();
        let mut framed = Vec::with_capacity(record.len() + 16);
        framed.extend_from_slice(&len);
        framed.extend_from_slice(&masked_crc32c(&len).to_le_bytes());
        framed.extend_from_slice(record);
        framed.extend_from_slice(&masked_crc32c(record).to_le_bytes());
        self.file
            .write_all(&framed)
            .and_then(|()| self.file.flush())
            .map_err(|e| Error::io("cannot write the TensorBoard event file", &self.path, e))
    }
}

/// TFRecord's checksum: CRC-32C, rotated right by 15 bits, plus a constant.
fn masked_crc32c(data: &[u8]) -> u32 {
    let crc = crc32c::crc32c(data);
    crc.rotate_right(15).wrapping_add(0xa282_ead8)
}

fn put_key(out: &mut Vec<u8>, field: u64, wire_type: u64) {
    put_varint(out, field << 3 | wire_type);
}

fn put_varint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push((value as u8) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

fn put_double(out: &mut Vec<u8>, field: u64, value: f64) {
    put_key(out, field, 1);
    out.extend_from_slice(&value.to_le_bytes());
}

fn put_bytes(out: &mut Vec<u8>, field: u64, bytes: &[u8]) {
    put_key(out, field, 2);
    put_varint(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

fn unix_seconds() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// The machine's name, for file and run-directory names (TensorFlow and HF put it there).
pub(crate) fn hostname() -> String {
    let name = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
    let clean: String = name
        .trim()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '.' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if clean.is_empty() {
        "localhost".into()
    } else {
        clean
    }
}

/// The default run directory, `<output_dir>/runs/<UTC date>_<time>_<host>` (HF's layout).
pub(crate) fn default_run_dir(output_dir: &Path) -> PathBuf {
    let stamp = crate::cli::utc_time(SystemTime::now())
        .replace(' ', "_")
        .replace(':', "-");
    output_dir
        .join("runs")
        .join(format!("{stamp}_{}", hostname()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints_and_crc32c_match_the_protobuf_and_crc_definitions() {
        let mut out = Vec::new();
        put_varint(&mut out, 300);
        assert_eq!(out, [0xac, 0x02], "the protobuf docs' example");
        // CRC-32C of "123456789" is 0xe3069283 (the standard check value); the masking itself
        // is checked by the tensorboard reader in tests/report_tensorboard.rs
        assert_eq!(crc32c::crc32c(b"123456789"), 0xe306_9283);
    }
}
