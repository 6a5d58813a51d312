//! Device buffers as a [`TensorSource`]: saving downloads each PJRT buffer with
//! `Buffer::copy_to_host` straight into its byte range of the writer's I/O window, so a checkpoint costs
//! one device-to-file copy and no host staging copy.
//!
//! [`DeviceTensors`] either owns its buffers (the async writer takes them by move, so the trainer
//! cannot donate or drop them while they are written) or borrows them (a synchronous save).

use std::borrow::Borrow;

use super::source::TensorSource;
use crate::pjrt::Buffer;
use crate::TensorSpec;
use crate::{Error, Result};

/// The checkpoint description of a device buffer called `name`.
pub fn spec_of(name: &str, buffer: &Buffer) -> Result<TensorSpec> {
    let shape = buffer
        .dims()
        .into_iter()
        .map(|d| {
            usize::try_from(d).map_err(|_| Error::InvalidTensor {
                tensor: name.to_string(),
                reason: format!(
                    "device buffer has a negative dimension: {:?}",
                    buffer.dims()
                ),
            })
        })
        .collect::<Result<Vec<usize>>>()?;
    Ok(TensorSpec::new(name, buffer.element_type(), shape))
}

/// Named device buffers in declaration order. `B` is [`Buffer`] (owned) or `&Buffer` (borrowed).
pub struct DeviceTensors<B: Borrow<Buffer> = Buffer> {
    specs: Vec<TensorSpec>,
    buffers: Vec<B>,
}

impl<B: Borrow<Buffer>> std::fmt::Debug for DeviceTensors<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let described: Vec<String> = self
            .specs
            .iter()
            .map(|s| format!("{} {}", s.name, s.describe()))
            .collect();
        f.debug_tuple("DeviceTensors").field(&described).finish()
    }
}

impl<B: Borrow<Buffer>> DeviceTensors<B> {
    /// Pairs names with buffers (same length, names unique: checked when the shards are planned).
    pub fn new(names: impl IntoIterator<Item = String>, buffers: Vec<B>) -> Result<Self> {
        let names: Vec<String> = names.into_iter().collect();
        if names.len() != buffers.len() {
            return Err(Error::InvalidTensor {
                tensor: names.first().cloned().unwrap_or_default(),
                reason: format!("{} names for {} device buffers", names.len(), buffers.len()),
            });
        }
        let specs = names
            .iter()
            .zip(&buffers)
            .map(|(name, buffer)| spec_of(name, buffer.borrow()))
            .collect::<Result<Vec<_>>>()?;
        Ok(DeviceTensors { specs, buffers })
    }

    pub fn len(&self) -> usize {
        self.specs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.specs.is_empty()
    }

    /// Total bytes of all tensors.
    pub fn byte_len(&self) -> u64 {
        self.specs
            .iter()
            .filter_map(TensorSpec::byte_len)
            .map(|n| n as u64)
            .sum()
    }

    pub fn buffers(&self) -> &[B] {
        &self.buffers
    }

    /// Gives the buffers back (e.g. to release device memory after a save).
    pub fn into_buffers(self) -> Vec<B> {
        self.buffers
    }
}

impl<B: Borrow<Buffer>> TensorSource for DeviceTensors<B> {
    fn specs(&self) -> &[TensorSpec] {
        &self.specs
    }

    fn copy_tensor(&self, index: usize, dst: &mut [u8]) -> Result<()> {
        let (spec, buffer) = self
            .specs
            .get(index)
            .zip(self.buffers.get(index))
            .ok_or_else(|| Error::InvalidTensor {
                tensor: format!("#{index}"),
                reason: "index out of range".into(),
            })?;
        let buffer: &Buffer = buffer.borrow();
        if buffer.byte_size() != dst.len() {
            return Err(Error::TensorByteCount {
                tensor: spec.name.clone(),
                expected: dst.len() as u64,
                found: buffer.byte_size() as u64,
            });
        }
        buffer.copy_to_host(dst)
    }
}
