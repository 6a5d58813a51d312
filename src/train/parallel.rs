//! Data parallelism with XLA's own collectives: the train step is compiled for `N` replicas
//! (`CompileOptions::replicated(N)`), each device trains on its slice of the global batch, and
//! the gradients are averaged in the program with one `all_reduce` per tensor BEFORE clipping and
//! the optimizer, so every replica applies the identical update and the replicated state stays
//! bit-identical without ever leaving the devices.
//!
//! Why averaging per-replica means is the global mean: every replica holds `B / N` samples of the
//! global batch `B`, so the mean of the `N` replica means is the mean over all `B` samples, and
//! the gradient of a mean is the mean of the gradients. The loss metric is averaged the same way.
//!
//! This file holds the in-graph pieces (gradient averaging, per-replica dropout keys) and the
//! host-side ones (splitting a global batch, copying a state onto other devices).

use crate::data::{Batch, Inputs};
use crate::graph::{all_replicas, DType, Graph, Literal, Tensor};
use crate::pjrt::Client;
use crate::{Error, Result};

use super::TrainState;

/// The loss and gradients of the global batch from one replica's own: each is summed over all
/// `replicas` by an `all_reduce` and divided by `replicas`.
pub fn average_over_replicas(
    g: &mut Graph,
    loss: Tensor,
    grads: &[Tensor],
    replicas: usize,
) -> Result<(Tensor, Vec<Tensor>)> {
    let groups = all_replicas(replicas);
    let scale = 1.0 / replicas as f64;
    let mean = |g: &mut Graph, t: Tensor| -> Result<Tensor> {
        let sum = g.all_reduce_sum(t, &groups)?;
        g.scale(sum, scale)
    };
    let loss = mean(g, loss)?;
    g.set_name(loss, "loss")?;
    let mut averaged = Vec::with_capacity(grads.len());
    for &gr in grads {
        averaged.push(mean(g, gr)?);
    }
    Ok((loss, averaged))
}

/// Odd 64-bit constant (the golden ratio's fraction) that spreads replica ids over key space.
const KEY_SPREAD: u64 = 0x9E37_79B9_7F4A_7C15;

/// The dropout key of this replica: the replicated key with `replica_id * KEY_SPREAD` added to
/// its key word, so replicas draw independent masks (replica 0 keeps the key unchanged). The
/// counter word is untouched, and the key carried to the next step is the un-folded one, so the
/// state stays identical on every replica. With dropout the masks differ from a single-device
/// run's (each replica draws for its own slice), so only dropout-free runs match one device.
pub fn replica_dropout_key(g: &mut Graph, key: Tensor) -> Result<Tensor> {
    let id = g.replica_id()?;
    let id = g.convert(id, DType::U64)?;
    let spread = g.constant(Literal::UInt(vec![KEY_SPREAD]), &[], DType::U64)?;
    let offset = g.mul(id, spread)?;
    let offset = g.reshape(offset, &[1])?;
    let zero = g.zeros(&[1], DType::U64)?;
    let offsets = g.concatenate(&[offset, zero], 0)?;
    g.add(key, offsets)
}

/// Rows `[device * rows, (device + 1) * rows)` of a global batch whose leading axis is the batch
/// axis, for `devices` equal slices.
pub fn batch_slice(batch: &Batch, device: usize, devices: usize) -> Result<Batch> {
    let bad = |what: &str, len: usize| {
        Error::BufferShape(format!(
            "a global batch's {what} has {len} values, not divisible into {devices} device slices"
        ))
    };
    let slice_of = |len: usize, what: &str| -> Result<std::ops::Range<usize>> {
        if devices == 0 || !len.is_multiple_of(devices) {
            return Err(bad(what, len));
        }
        let per = len / devices;
        Ok(device * per..(device + 1) * per)
    };
    let x = match &batch.x {
        Inputs::F32(v) => Inputs::F32(v[slice_of(v.len(), "x")?].to_vec()),
        Inputs::I32(v) => Inputs::I32(v[slice_of(v.len(), "x")?].to_vec()),
    };
    let y = batch.y[slice_of(batch.y.len(), "y")?].to_vec();
    Ok(Batch { x, y })
}

/// Copies of `state` (on its device) onto each of `devices`, through host memory.
pub fn replicate_state(
    client: &Client,
    state: &TrainState,
    devices: &[usize],
) -> Result<Vec<TrainState>> {
    let host = state.to_host()?;
    let descs = state.descriptors().to_vec();
    devices
        .iter()
        .map(|&device| {
            let mut tensors = host.iter();
            TrainState::from_host_on(client, descs.clone(), device, |d| {
                tensors
                    .next()
                    .map(Vec::as_slice)
                    .ok_or_else(|| Error::BufferShape(format!("no host copy of tensor {}", d.name)))
            })
        })
        .collect()
}
