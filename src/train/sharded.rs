//! Device state as checkpoint tensors, whether replicated or sharded along dim 0, without
//! gathering a tensor on one device or in one host buffer first.
//!
//! A dim-0 block of rows of a row-major tensor is one contiguous byte range, so saving copies
//! each device's block straight from its buffer into that range of the writer's I/O window
//! (a replicated tensor is written once, from the first device that holds it), and restoring
//! uploads each device exactly the byte range of the mapped file that it needs, whatever sharding
//! or device count wrote the file.
//!
//! The placement rule (used by the SPMD step in `spmd.rs`): a tensor is split into `N` equal row
//! blocks when its dim 0 is divisible by `N`, and replicated otherwise (scalars, the PRNG key).

use std::ops::Range;

use crate::checkpoint::{TensorSource, TensorSpec};
use crate::pjrt::{Buffer, Client};
use crate::{Error, Result};

use super::TrainState;

/// The dim-0 row block of each of `devices` devices, or `None` when the tensor is replicated
/// (rank 0, or dim 0 not divisible by `devices`, or one device).
pub fn row_blocks(shape: &[usize], devices: usize) -> Option<Vec<Range<usize>>> {
    let rows = *shape.first()?;
    if devices < 2 || rows == 0 || !rows.is_multiple_of(devices) {
        return None;
    }
    let per = rows / devices;
    Some((0..devices).map(|d| d * per..(d + 1) * per).collect())
}

/// The GSPMD sharding of a tensor under [`row_blocks`]: `{devices=[N,1,..]0,1,..}` or
/// `{replicated}`.
pub fn sharding_annotation(shape: &[usize], devices: usize) -> String {
    if row_blocks(shape, devices).is_none() {
        return "{replicated}".into();
    }
    let mut tiles = vec![devices.to_string()];
    tiles.extend(std::iter::repeat_n("1".to_string(), shape.len() - 1));
    let ids: Vec<String> = (0..devices).map(|d| d.to_string()).collect();
    format!("{{devices=[{}]{}}}", tiles.join(","), ids.join(","))
}

/// Bytes of one dim-0 row (the whole tensor for a scalar).
fn row_bytes(desc: &TensorSpec) -> usize {
    desc.shape.get(1..).map_or(1, |rest| rest.iter().product()) * desc.dtype.byte_size()
}

/// One device's part of a tensor: rows `rows` of dim 0 (all rows when replicated).
pub struct Shard<'a> {
    pub rows: Range<usize>,
    pub buffer: &'a Buffer,
}

/// A tensor as its devices hold it: row blocks that tile dim 0 in order, or one full copy.
pub struct DeviceTensor<'a> {
    pub desc: TensorSpec,
    pub shards: Vec<Shard<'a>>,
}

/// A [`TensorSource`] over device tensors: each shard is downloaded straight into its byte
/// range of the destination (a mapped checkpoint file).
pub struct DeviceSource<'a> {
    specs: Vec<TensorSpec>,
    tensors: Vec<DeviceTensor<'a>>,
}

impl<'a> DeviceSource<'a> {
    /// Checks that every tensor's shards tile its rows and have the block's shape.
    pub fn new(tensors: Vec<DeviceTensor<'a>>) -> Result<DeviceSource<'a>> {
        let mut specs = Vec::with_capacity(tensors.len());
        for t in &tensors {
            let rows = t.desc.shape.first().copied().unwrap_or(1);
            let mut next = 0;
            for shard in &t.shards {
                let mut dims = t.desc.dims();
                if let Some(first) = dims.first_mut() {
                    *first = shard.rows.len() as i64;
                }
                if shard.rows.start != next
                    || shard.buffer.dims() != dims
                    || shard.buffer.element_type() != t.desc.dtype
                {
                    return Err(Error::BufferShape(format!(
                        "tensor {}: shard of rows {:?} is {}{:?}, expected rows from {next} as \
                         {}{dims:?}",
                        t.desc.name,
                        shard.rows,
                        shard.buffer.element_type(),
                        shard.buffer.dims(),
                        t.desc.dtype
                    )));
                }
                next = shard.rows.end;
            }
            if next != rows {
                return Err(Error::BufferShape(format!(
                    "tensor {}: shards cover {next} of {rows} rows",
                    t.desc.name
                )));
            }
            specs.push(TensorSpec::new(
                &t.desc.name,
                t.desc.dtype,
                t.desc.shape.clone(),
            ));
        }
        Ok(DeviceSource { specs, tensors })
    }

    /// Every tensor of a (replicated) state as one full copy on its device, split into the
    /// model (the first `n_params` tensors) and the optimizer set (slots, `step`, `rng_key`).
    pub fn from_state(
        state: &'a TrainState,
        n_params: usize,
    ) -> Result<(DeviceSource<'a>, DeviceSource<'a>)> {
        let whole = |(desc, buffer): (&TensorSpec, &'a Buffer)| DeviceTensor {
            desc: desc.clone(),
            shards: vec![Shard {
                rows: 0..desc.shape.first().copied().unwrap_or(1),
                buffer,
            }],
        };
        let mut all: Vec<DeviceTensor> = state
            .descriptors()
            .iter()
            .zip(state.buffers())
            .map(whole)
            .collect();
        let optimizer = all.split_off(n_params.min(all.len()));
        Ok((DeviceSource::new(all)?, DeviceSource::new(optimizer)?))
    }
}

impl TensorSource for DeviceSource<'_> {
    fn specs(&self) -> &[TensorSpec] {
        &self.specs
    }

    fn copy_tensor(&self, index: usize, dst: &mut [u8]) -> Result<()> {
        let tensor = self
            .tensors
            .get(index)
            .ok_or_else(|| Error::InvalidTensor {
                tensor: format!("#{index}"),
                reason: "index out of range".into(),
            })?;
        let row = row_bytes(&tensor.desc);
        for shard in &tensor.shards {
            let range = shard.rows.start * row..shard.rows.end * row;
            let slot = dst
                .get_mut(range.clone())
                .ok_or_else(|| Error::TensorByteCount {
                    tensor: tensor.desc.name.clone(),
                    expected: range.end as u64,
                    found: 0,
                })?;
            shard.buffer.copy_to_host(slot)?;
        }
        Ok(())
    }
}

/// Uploads a stored tensor (`bytes`: all of it, as mapped from a checkpoint) onto `devices`:
/// device `i` gets row block `i` when `sharded` and the tensor splits evenly, otherwise a full
/// copy. Only the byte ranges a device needs are read.
pub fn upload_placed(
    client: &Client,
    desc: &TensorSpec,
    bytes: &[u8],
    devices: &[usize],
    sharded: bool,
) -> Result<Vec<Buffer>> {
    if Some(bytes.len()) != desc.byte_len() {
        return Err(Error::BufferShape(format!(
            "tensor {} needs {} bytes, the checkpoint holds {}",
            desc.name,
            desc.byte_len().unwrap_or(usize::MAX),
            bytes.len()
        )));
    }
    let blocks = if sharded {
        row_blocks(&desc.shape, devices.len())
    } else {
        None
    };
    let row = row_bytes(desc);
    devices
        .iter()
        .enumerate()
        .map(|(i, &device)| match &blocks {
            Some(blocks) => {
                let rows = blocks[i].clone();
                let mut dims = desc.dims();
                dims[0] = rows.len() as i64;
                let range = rows.start * row..rows.end * row;
                client.buffer_from_bytes(&bytes[range], desc.dtype, &dims, device)
            }
            None => client.buffer_from_bytes(bytes, desc.dtype, &desc.dims(), device),
        })
        .collect()
}
