//! [`TrainState`]: every device buffer a run needs to continue, in a fixed named order with its
//! descriptor (see [`super::state_layout`]), so a checkpoint writer can copy it tensor by tensor
//! and a restore can upload it back.

use crate::models::ModelConfig;
use crate::optim::OptimizerSpec;
use crate::pjrt::{Buffer, Client};
use crate::{Error, Result};

use super::program::{state_layout, TensorDesc, RNG_KEY, STEP};

/// The device-resident training state: parameters, optimizer slots, `step`, `rng_key`.
pub struct TrainState {
    descs: Vec<TensorDesc>,
    buffers: Vec<Buffer>,
}

impl std::fmt::Debug for TrainState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TrainState")
            .field("tensors", &self.descs.len())
            .finish()
    }
}

impl TrainState {
    /// A fresh run: parameters from the spec init (bit-exact with models.json), zero optimizer
    /// slots, step 0 and `rng::root_key(seed)`.
    pub fn initial(
        client: &Client,
        model: &ModelConfig,
        optimizer: &OptimizerSpec,
        seed: u64,
    ) -> Result<TrainState> {
        let mut params = Vec::new();
        for (values, spec) in model.init_params()?.iter().zip(model.param_specs()?) {
            let dims: Vec<i64> = spec.shape.iter().map(|&d| d as i64).collect();
            params.push(client.upload(values, &dims, 0)?);
        }
        TrainState::with_params(client, model, optimizer, seed, params)
    }

    /// A fresh run from a pretrained model: its weights, uploaded one tensor at a time from the
    /// files, are the parameters; the rest is as in [`Self::initial`].
    pub fn pretrained(
        client: &Client,
        model: &ModelConfig,
        optimizer: &OptimizerSpec,
        seed: u64,
        weights: &crate::hf::HfModel,
    ) -> Result<TrainState> {
        let params = weights.upload(client, 0)?;
        TrainState::with_params(client, model, optimizer, seed, params)
    }

    /// `params` (device 0, in spec order) followed by zero optimizer slots, step 0 and
    /// `rng::root_key(seed)`.
    pub fn with_params(
        client: &Client,
        model: &ModelConfig,
        optimizer: &OptimizerSpec,
        seed: u64,
        params: Vec<Buffer>,
    ) -> Result<TrainState> {
        let descs = state_layout(model, optimizer)?;
        let key = crate::rng::root_key(seed);
        let mut buffers = params;
        for d in descs.iter().skip(buffers.len()) {
            let dims = d.dims();
            let buffer = if d.name == STEP {
                client.upload(&[0i32], &dims, 0)?
            } else if d.name == RNG_KEY {
                client.upload(&key, &dims, 0)?
            } else {
                client.upload(&vec![0f32; d.numel()], &dims, 0)?
            };
            buffers.push(buffer);
        }
        TrainState::from_parts(descs, buffers)
    }

    /// Builds a state from host bytes, one little-endian row-major slice per descriptor (the
    /// restore path: tensors are uploaded one by one).
    pub fn from_host<'a>(
        client: &Client,
        descs: Vec<TensorDesc>,
        bytes_of: impl FnMut(&TensorDesc) -> Result<&'a [u8]>,
    ) -> Result<TrainState> {
        TrainState::from_host_on(client, descs, 0, bytes_of)
    }

    /// [`Self::from_host`] onto device `device` (an addressable device index), e.g. one replica
    /// of a data-parallel run.
    pub fn from_host_on<'a>(
        client: &Client,
        descs: Vec<TensorDesc>,
        device: usize,
        mut bytes_of: impl FnMut(&TensorDesc) -> Result<&'a [u8]>,
    ) -> Result<TrainState> {
        let mut buffers = Vec::with_capacity(descs.len());
        for d in &descs {
            let bytes = bytes_of(d)?;
            if bytes.len() != d.byte_size() {
                return Err(Error::BufferShape(format!(
                    "tensor {} needs {} bytes ({} {:?}), got {}",
                    d.name,
                    d.byte_size(),
                    d.element_type,
                    d.shape,
                    bytes.len()
                )));
            }
            buffers.push(client.buffer_from_bytes(bytes, d.element_type, &d.dims(), device)?);
        }
        TrainState::from_parts(descs, buffers)
    }

    /// Pairs descriptors with buffers, checking element types and shapes.
    pub fn from_parts(descs: Vec<TensorDesc>, buffers: Vec<Buffer>) -> Result<TrainState> {
        if descs.len() != buffers.len() {
            return Err(Error::BufferShape(format!(
                "{} descriptors for {} buffers",
                descs.len(),
                buffers.len()
            )));
        }
        for (d, b) in descs.iter().zip(&buffers) {
            if b.element_type() != d.element_type || b.dims() != d.dims() {
                return Err(Error::BufferShape(format!(
                    "tensor {}: buffer is {}{:?}, expected {}{:?}",
                    d.name,
                    b.element_type(),
                    b.dims(),
                    d.element_type,
                    d.shape
                )));
            }
        }
        Ok(TrainState { descs, buffers })
    }

    /// The descriptors, in state order.
    pub fn descriptors(&self) -> &[TensorDesc] {
        &self.descs
    }

    /// The buffers, in state order (borrowed: e.g. for a device-to-host copy).
    pub fn buffers(&self) -> &[Buffer] {
        &self.buffers
    }

    /// The buffer of the tensor called `name`.
    pub fn buffer(&self, name: &str) -> Option<&Buffer> {
        let i = self.descs.iter().position(|d| d.name == name)?;
        self.buffers.get(i)
    }

    /// Descriptors and buffers, by value.
    pub fn into_parts(self) -> (Vec<TensorDesc>, Vec<Buffer>) {
        (self.descs, self.buffers)
    }

    /// Copies every tensor to the host (blocking), in state order.
    pub fn to_host(&self) -> Result<Vec<Vec<u8>>> {
        self.buffers
            .iter()
            .map(|b| {
                let mut bytes = vec![0u8; b.byte_size()];
                b.copy_to_host(&mut bytes)?;
                Ok(bytes)
            })
            .collect()
    }

    /// The tensor `name` as f32 values (blocking), e.g. a parameter.
    pub fn read_f32(&self, name: &str) -> Result<Vec<f32>> {
        self.buffer(name)
            .ok_or_else(|| Error::BufferShape(format!("no tensor {name} in the state")))?
            .to_vec::<f32>()
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
