//! The seam between the checkpoint writer/reader and whoever holds the tensors. Saving asks a
//! [`TensorSource`] to copy each tensor straight into the streaming writer's I/O window (see
//! `stream.rs`), so a device runtime downloads into the bytes that go to disk without a second
//! host copy. [`HostTensors`] is the
//! plain in-memory implementation used by tests, examples and small states.

use crate::TensorSpec;
use crate::{Error, Result};

/// Something that can write tensors, one at a time, into caller-provided buffers.
pub trait TensorSource {
    /// The tensors in declaration order; this order decides shard assignment and file layout.
    fn specs(&self) -> &[TensorSpec];

    /// Writes tensor `index` into `dst`, whose length is exactly `specs()[index].byte_len()`:
    /// little-endian, row-major, no padding. `dst` is a range of an I/O window.
    fn copy_tensor(&self, index: usize, dst: &mut [u8]) -> Result<()>;

    /// Writes bytes `offset..offset + dst.len()` of tensor `index` into `dst`, for tensors larger
    /// than a window. Returns `Ok(false)` (the default) when this source can only copy whole
    /// tensors; the writer then stages the tensor in host memory first.
    fn copy_tensor_part(&self, index: usize, offset: u64, dst: &mut [u8]) -> Result<bool> {
        let _ = (index, offset, dst);
        Ok(false)
    }
}

/// Tensors held in host memory, in insertion order.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct HostTensors {
    specs: Vec<TensorSpec>,
    data: Vec<Vec<u8>>,
}

impl HostTensors {
    pub fn new() -> Self {
        HostTensors::default()
    }

    /// Appends a tensor; `bytes` must be exactly `spec.byte_len()` long and the name new.
    pub fn push(&mut self, spec: TensorSpec, bytes: Vec<u8>) -> Result<()> {
        let expected = spec.byte_len().ok_or_else(|| Error::InvalidTensor {
            tensor: spec.name.clone(),
            reason: format!("shape {:?} overflows", spec.shape),
        })? as u64;
        if expected != bytes.len() as u64 {
            return Err(Error::TensorByteCount {
                tensor: spec.name,
                expected,
                found: bytes.len() as u64,
            });
        }
        if self.specs.iter().any(|s| s.name == spec.name) {
            return Err(Error::InvalidTensor {
                tensor: spec.name,
                reason: "duplicate tensor name".into(),
            });
        }
        self.specs.push(spec);
        self.data.push(bytes);
        Ok(())
    }

    /// The bytes of tensor `index`.
    pub fn bytes(&self, index: usize) -> Option<&[u8]> {
        self.data.get(index).map(Vec::as_slice)
    }

    /// The bytes of the tensor called `name`.
    pub fn get(&self, name: &str) -> Option<&[u8]> {
        let index = self.specs.iter().position(|s| s.name == name)?;
        self.bytes(index)
    }
}

impl TensorSource for HostTensors {
    fn specs(&self) -> &[TensorSpec] {
        &self.specs
    }

    fn copy_tensor(&self, index: usize, dst: &mut [u8]) -> Result<()> {
        let (spec, src) = self
            .specs
            .get(index)
            .zip(self.data.get(index))
            .ok_or_else(|| Error::InvalidTensor {
                tensor: format!("#{index}"),
                reason: "index out of range".into(),
            })?;
        if src.len() != dst.len() {
            return Err(Error::TensorByteCount {
                tensor: spec.name.clone(),
                expected: dst.len() as u64,
                found: src.len() as u64,
            });
        }
        dst.copy_from_slice(src);
        Ok(())
    }

    fn copy_tensor_part(&self, index: usize, offset: u64, dst: &mut [u8]) -> Result<bool> {
        let part = usize::try_from(offset).ok().and_then(|start| {
            self.data
                .get(index)?
                .get(start..start.checked_add(dst.len())?)
        });
        let part = part.ok_or_else(|| Error::InvalidTensor {
            tensor: format!("#{index}"),
            reason: format!("no bytes {offset}..+{} in this tensor", dst.len()),
        })?;
        dst.copy_from_slice(part);
        Ok(true)
    }
}
