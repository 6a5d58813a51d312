//! [`TrainState`]: every device buffer a run needs to continue, per mesh partition, in the fixed
//! named order of its [`StateLayout`]: each partition holds its block of every tensor (a full
//! copy where the tensor is replicated). There is one way in for each source of a state (fresh
//! from the model's init or weights, from host bytes, from a checkpoint read once) and one way
//! out to a checkpoint ([`StateSource`]), whatever the mesh.

use std::borrow::Borrow;
use std::collections::HashMap;
use std::sync::Arc;

use crate::checkpoint::{Checkpoint, TensorSource};
use crate::models::ModelConfig;
use crate::optim::OptimizerSpec;
use crate::pjrt::{Buffer, Client};
use crate::{Error, Result};

use super::layout::{StateLayout, RNG_KEY, STEP};
use super::mesh::{block_bytes, contiguous, scatter};
use crate::TensorSpec;

/// The device-resident training state: parameters, optimizer slots, `step`, `rng_key`.
pub struct TrainState {
    layout: Arc<StateLayout>,
    /// `[partition][tensor]`, each buffer on `layout.devices[partition]`.
    buffers: Vec<Vec<Buffer>>,
}

impl std::fmt::Debug for TrainState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TrainState")
            .field("tensors", &self.layout.descs.len())
            .field("mesh", &self.layout.mesh.to_string())
            .finish()
    }
}

/// Where a fresh state's parameters come from.
pub enum InitialParams<'a> {
    /// The models.json spec init (bit-exact with the reference).
    Spec,
    /// A Hugging Face model's weights.
    Pretrained(&'a crate::hf::HfModel),
    /// Given f32 values, one per parameter in spec order (e.g. a peer's initial weights).
    Values(&'a [Vec<f32>]),
}

impl TrainState {
    /// A fresh run on one device: parameters from the spec init (bit-exact with models.json),
    /// zero optimizer slots, step 0 and `rng::root_key(seed)`.
    pub fn initial(
        client: &Client,
        model: &ModelConfig,
        optimizer: &OptimizerSpec,
        seed: u64,
    ) -> Result<TrainState> {
        let layout = StateLayout::new(model, optimizer, super::mesh::Mesh::single(), vec![0])?;
        TrainState::fresh(client, Arc::new(layout), model, InitialParams::Spec, seed)
    }

    /// A fresh run on `layout`: each partition gets its block of the parameters (uploaded one
    /// tensor at a time), zero optimizer slots, step 0 and `rng::root_key(seed)`.
    pub fn fresh(
        client: &Client,
        layout: Arc<StateLayout>,
        model: &ModelConfig,
        params: InitialParams,
        seed: u64,
    ) -> Result<TrainState> {
        let mut tensors = Vec::with_capacity(layout.descs.len());
        let place_values = |values: &[Vec<f32>], tensors: &mut Vec<Vec<Buffer>>| {
            for (i, values) in values.iter().enumerate() {
                let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
                tensors.push(place(client, &layout, i, &bytes)?);
            }
            Ok::<(), Error>(())
        };
        match params {
            InitialParams::Spec => place_values(&model.init_params()?, &mut tensors)?,
            InitialParams::Values(values) => place_values(values, &mut tensors)?,
            InitialParams::Pretrained(weights) => {
                // the run's config: the files' model, or it with the data's label set
                let config = match model {
                    ModelConfig::Hf(config) => config,
                    _ => &weights.config,
                };
                weights.for_each_param(config, |_, bytes| {
                    tensors.push(place(client, &layout, tensors.len(), bytes)?);
                    Ok(())
                })?
            }
        }
        for i in tensors.len()..layout.descs.len() {
            tensors.push(fresh_tensor(client, &layout, i, 0, seed)?);
        }
        TrainState::from_tensors(layout, tensors)
    }

    /// `[tensor][partition]` buffers as a state.
    fn from_tensors(layout: Arc<StateLayout>, tensors: Vec<Vec<Buffer>>) -> Result<TrainState> {
        let mut buffers: Vec<Vec<Buffer>> = (0..layout.partitions())
            .map(|_| Vec::with_capacity(tensors.len()))
            .collect();
        for per_partition in tensors {
            for (list, buffer) in buffers.iter_mut().zip(per_partition) {
                list.push(buffer);
            }
        }
        TrainState::from_partitions(layout, buffers)
    }

    /// Builds a one-device state from host bytes, one little-endian row-major slice per
    /// descriptor.
    pub fn from_host<'a>(
        client: &Client,
        descs: Vec<TensorSpec>,
        bytes_of: impl FnMut(&TensorSpec) -> Result<&'a [u8]>,
    ) -> Result<TrainState> {
        TrainState::from_host_on(client, Arc::new(StateLayout::single(descs)), bytes_of)
    }

    /// A state on `layout` from host bytes of every whole tensor: each partition uploads only
    /// its block.
    pub fn from_host_on<'a>(
        client: &Client,
        layout: Arc<StateLayout>,
        mut bytes_of: impl FnMut(&TensorSpec) -> Result<&'a [u8]>,
    ) -> Result<TrainState> {
        let tensors = (0..layout.descs.len())
            .map(|i| place(client, &layout, i, bytes_of(&layout.descs[i])?))
            .collect::<Result<Vec<_>>>()?;
        TrainState::from_tensors(layout, tensors)
    }

    /// The state a checkpoint holds, on `layout`: the shards are read once, in file order, each
    /// checked against its checksum on the way, and each partition uploads its block of each
    /// tensor straight from the bytes read. Fails before uploading anything if a tensor is
    /// missing, extra, or of another dtype or shape (`open_checkpoint` has checked the `step`
    /// tensor against `trainer_state.json`). A checkpoint without optimizer state
    /// (`--save-only-model`) gets zero slots, the step of `trainer_state.json` and the run's seed
    /// key; the returned flag says so.
    pub fn restore(
        client: &Client,
        layout: Arc<StateLayout>,
        checkpoint: &Checkpoint,
        n_params: usize,
        seed: u64,
    ) -> Result<(TrainState, bool)> {
        TrainState::check_restorable(&layout, checkpoint, n_params)?;
        let position: HashMap<&str, usize> = layout
            .descs
            .iter()
            .enumerate()
            .map(|(i, d)| (d.name.as_str(), i))
            .collect();
        let mut tensors: Vec<Option<Vec<Buffer>>> = layout.descs.iter().map(|_| None).collect();
        let mut upload = |spec: &TensorSpec, bytes: &[u8]| -> Result<()> {
            if let Some(&i) = position.get(spec.name.as_str()) {
                tensors[i] = Some(place(client, &layout, i, bytes)?);
            }
            Ok(())
        };
        let (path, manifest) = (&checkpoint.path, &checkpoint.manifest);
        checkpoint
            .model
            .for_each_verified(path, manifest, &mut upload)?;
        match &checkpoint.optimizer {
            Some(set) => set.for_each_verified(path, manifest, &mut upload)?,
            None => {
                let step = i32::try_from(checkpoint.trainer_state.global_step).map_err(|_| {
                    Error::CheckpointInvalid {
                        path: path.clone(),
                        reason: "global_step does not fit the step counter".into(),
                    }
                })?;
                for (i, slot) in tensors.iter_mut().enumerate().skip(n_params) {
                    *slot = Some(fresh_tensor(client, &layout, i, step, seed)?);
                }
            }
        }
        let tensors = tensors
            .into_iter()
            .zip(&layout.descs)
            .map(|(t, d)| {
                t.ok_or_else(|| Error::InvalidTensor {
                    tensor: d.name.clone(),
                    reason: "not uploaded".into(),
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let model_only = checkpoint.optimizer.is_none();
        Ok((TrainState::from_tensors(layout, tensors)?, model_only))
    }

    /// Fails, naming the tensor, unless `checkpoint` holds exactly the tensors of `layout` (the
    /// first `n_params` in its model set, the rest in its optimizer set when it has one) with
    /// their dtypes and shapes. Reads only the checkpoint's indexes.
    pub fn check_restorable(
        layout: &StateLayout,
        checkpoint: &Checkpoint,
        n_params: usize,
    ) -> Result<()> {
        let specs: Vec<TensorSpec> = layout.descs.clone();
        let n_params = n_params.min(specs.len());
        checkpoint
            .model
            .matching(&checkpoint.path, &specs[..n_params])?;
        if let Some(set) = &checkpoint.optimizer {
            set.matching(&checkpoint.path, &specs[n_params..])?;
        }
        Ok(())
    }

    /// Pairs descriptors with the buffers of one device, checking element types and shapes.
    pub fn from_parts(descs: Vec<TensorSpec>, buffers: Vec<Buffer>) -> Result<TrainState> {
        TrainState::from_partitions(Arc::new(StateLayout::single(descs)), vec![buffers])
    }

    /// Pairs a layout with each partition's buffers, checking element types and block shapes.
    pub fn from_partitions(
        layout: Arc<StateLayout>,
        buffers: Vec<Vec<Buffer>>,
    ) -> Result<TrainState> {
        if buffers.len() != layout.partitions() {
            return Err(Error::BufferShape(format!(
                "{} partitions of buffers for a mesh of {}",
                buffers.len(),
                layout.partitions()
            )));
        }
        for (p, list) in buffers.iter().enumerate() {
            if list.len() != layout.descs.len() {
                return Err(Error::BufferShape(format!(
                    "{} descriptors for {} buffers",
                    layout.descs.len(),
                    list.len()
                )));
            }
            for (i, (d, b)) in layout.descs.iter().zip(list).enumerate() {
                let dims = layout.block_dims(i, p);
                if b.element_type() != d.dtype || b.dims() != dims {
                    return Err(Error::BufferShape(format!(
                        "tensor {}: buffer is {}{:?}, expected {}{:?}",
                        d.name,
                        b.element_type(),
                        b.dims(),
                        d.dtype,
                        dims
                    )));
                }
            }
        }
        Ok(TrainState { layout, buffers })
    }

    /// The layout (tensors, shardings, mesh, devices).
    pub fn layout(&self) -> &Arc<StateLayout> {
        &self.layout
    }

    /// The descriptors (global shapes), in state order.
    pub fn descriptors(&self) -> &[TensorSpec] {
        &self.layout.descs
    }

    /// Partition 0's buffers, in state order (on one device: the whole state).
    pub fn buffers(&self) -> &[Buffer] {
        &self.buffers[0]
    }

    /// Partition `p`'s buffers, in state order.
    pub fn partition(&self, p: usize) -> &[Buffer] {
        &self.buffers[p]
    }

    /// What each partition holds of tensor `name` (its block, or a full copy), in partition order.
    pub fn shards_of(&self, name: &str) -> Option<Vec<&Buffer>> {
        let i = self.index_of(name)?;
        Some(self.buffers.iter().map(|list| &list[i]).collect())
    }

    fn index_of(&self, name: &str) -> Option<usize> {
        self.layout.descs.iter().position(|d| d.name == name)
    }

    /// Partition 0's buffer of the tensor called `name`.
    pub fn buffer(&self, name: &str) -> Option<&Buffer> {
        self.buffers[0].get(self.index_of(name)?)
    }

    /// Descriptors and one device's buffers, by value (a one-device state).
    pub fn into_parts(self) -> (Vec<TensorSpec>, Vec<Buffer>) {
        let descs = self.layout.descs.clone();
        (descs, self.buffers.into_iter().next().unwrap_or_default())
    }

    /// The layout and every partition's buffers, by value.
    pub fn into_partitions(self) -> (Arc<StateLayout>, Vec<Vec<Buffer>>) {
        (self.layout, self.buffers)
    }

    /// Copies tensor `i` whole into `dst` (blocking): each distinct block once, from the first
    /// partition that holds it, straight into its bytes where they are contiguous.
    pub fn copy_tensor(&self, i: usize, dst: &mut [u8]) -> Result<()> {
        let desc = &self.layout.descs[i];
        if Some(dst.len()) != desc.byte_len() {
            return Err(Error::TensorByteCount {
                tensor: desc.name.clone(),
                expected: desc.byte_len().unwrap_or(0) as u64,
                found: dst.len() as u64,
            });
        }
        let elem = desc.dtype.byte_size();
        for p in self.layout.writers(i) {
            let block = self.layout.block(i, p);
            let buffer = &self.buffers[p][i];
            match contiguous(&desc.shape, &block, elem) {
                Some(range) => buffer.copy_to_host(&mut dst[range])?,
                None => {
                    let mut part = vec![0u8; buffer.byte_size()];
                    buffer.copy_to_host(&mut part)?;
                    scatter(dst, &part, &desc.shape, &block, elem)?;
                }
            }
        }
        Ok(())
    }

    /// Copies every tensor whole to the host (blocking), in state order.
    pub fn to_host(&self) -> Result<Vec<Vec<u8>>> {
        (0..self.layout.descs.len())
            .map(|i| {
                let mut bytes = vec![0u8; self.layout.descs[i].byte_len().unwrap_or(0)];
                self.copy_tensor(i, &mut bytes)?;
                Ok(bytes)
            })
            .collect()
    }

    /// The tensor `name` as f32 values, whole (blocking), e.g. a parameter.
    pub fn read_f32(&self, name: &str) -> Result<Vec<f32>> {
        let i = self
            .index_of(name)
            .ok_or_else(|| Error::BufferShape(format!("no tensor {name} in the state")))?;
        let mut bytes = vec![0u8; self.layout.descs[i].byte_len().unwrap_or(0)];
        self.copy_tensor(i, &mut bytes)?;
        Ok(bytes
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect())
    }

    /// The device step counter (blocking read).
    pub fn step(&self) -> Result<u64> {
        let buffer = self
            .buffer(STEP)
            .ok_or_else(|| Error::BufferShape("no step tensor in the state".into()))?;
        let value = buffer.to_vec::<i32>()?;
        Ok(value.first().map_or(0, |&v| v.max(0) as u64))
    }
}

/// Uploads tensor `i` of `layout` (all of it, `bytes`) as each partition's block.
fn place(client: &Client, layout: &StateLayout, i: usize, bytes: &[u8]) -> Result<Vec<Buffer>> {
    let desc = &layout.descs[i];
    if Some(bytes.len()) != desc.byte_len() {
        return Err(Error::BufferShape(format!(
            "tensor {} needs {} bytes ({} {:?}), got {}",
            desc.name,
            desc.byte_len().unwrap_or(0),
            desc.dtype,
            desc.shape,
            bytes.len()
        )));
    }
    let elem = desc.dtype.byte_size();
    (0..layout.partitions())
        .map(|p| {
            let block = layout.block(i, p);
            let part = block_bytes(bytes, &desc.shape, &block, elem)?;
            let dims: Vec<i64> = block.iter().map(|r| r.len() as i64).collect();
            client.buffer_from_bytes(&part, desc.dtype, &dims, layout.devices[p])
        })
        .collect()
}

/// A non-parameter tensor of a fresh optimizer: `step` (as given), `rng_key` (the seed's root
/// key) or a zero slot, of which each partition uploads zeros of its block only.
fn fresh_tensor(
    client: &Client,
    layout: &StateLayout,
    i: usize,
    step: i32,
    seed: u64,
) -> Result<Vec<Buffer>> {
    let desc = &layout.descs[i];
    if desc.name == STEP {
        return place(client, layout, i, &step.to_le_bytes());
    }
    if desc.name == RNG_KEY {
        let key: Vec<u8> = crate::rng::root_key(seed)
            .iter()
            .flat_map(|k| k.to_le_bytes())
            .collect();
        return place(client, layout, i, &key);
    }
    (0..layout.partitions())
        .map(|p| {
            let dims = layout.block_dims(i, p);
            let len = dims.iter().product::<i64>() as usize * desc.dtype.byte_size();
            client.buffer_from_bytes(&vec![0u8; len], desc.dtype, &dims, layout.devices[p])
        })
        .collect()
}

/// A range of a [`TrainState`]'s tensors as a checkpoint [`TensorSource`]: each tensor is
/// downloaded block by block straight into its bytes of the writer's window. `T` is
/// `&TrainState` (a save from the live state) or `Arc<TrainState>` (a background save that owns
/// the kept pre-step state).
pub struct StateSource<T: Borrow<TrainState>> {
    state: T,
    first: usize,
    specs: Vec<TensorSpec>,
}

impl<T: Borrow<TrainState> + Clone> StateSource<T> {
    /// The model (the first `n_params` tensors) and the optimizer set (slots, `step`, `rng_key`).
    pub fn split(state: T, n_params: usize) -> (StateSource<T>, StateSource<T>) {
        let descs = &state.borrow().layout.descs;
        let n = n_params.min(descs.len());
        let specs: Vec<TensorSpec> = descs.clone();
        let model = StateSource {
            state: state.clone(),
            first: 0,
            specs: specs[..n].to_vec(),
        };
        let optimizer = StateSource {
            state,
            first: n,
            specs: specs[n..].to_vec(),
        };
        (model, optimizer)
    }
}

impl<T: Borrow<TrainState>> TensorSource for StateSource<T> {
    fn specs(&self) -> &[TensorSpec] {
        &self.specs
    }

    fn copy_tensor(&self, index: usize, dst: &mut [u8]) -> Result<()> {
        if index >= self.specs.len() {
            return Err(Error::InvalidTensor {
                tensor: format!("#{index}"),
                reason: "index out of range".into(),
            });
        }
        self.state.borrow().copy_tensor(self.first + index, dst)
    }
}
