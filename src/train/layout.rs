//! The training state's tensors ([`state_layout`], each a [`TensorSpec`]) and
//! [`StateLayout`]: those tensors with the [`Sharding`] of
//! each over the run's [`Mesh`] and the device of each mesh partition. It is the one place that
//! decides where a tensor lives; the step program, the device state, checkpoint saves and
//! restores all read it.
//!
//! The rule, per parameter (its optimizer slots lie the same way; `step` and `rng_key` are
//! replicated):
//! - `tensor` splits attention and MLP weights Megatron-style: the projections into heads and
//!   the MLP's first layer by output column (q/k/v, gate/up, GPT-2's `c_attn`/`c_fc`, even MLP
//!   layers), the ones back into the residual stream by input row (o, down, `c_proj`, odd MLP
//!   layers). The partitioner then needs one all-reduce per pair.
//! - `fsdp` splits dim 0 (dim 1 when `tensor` took dim 0) when it divides evenly.
//! - `data` never splits state. A dimension that does not divide stays whole.

use crate::models::ModelConfig;
use crate::optim::OptimizerSpec;
use crate::{DType, Result, TensorSpec};

use super::mesh::{Mesh, MeshAxis, Sharding};

/// Name of the optimizer-step counter (S32 scalar: updates already done).
pub const STEP: &str = "step";
/// Name of the device PRNG state (u64[2], THREE_FRY).
pub const RNG_KEY: &str = "rng_key";

/// The training state in its fixed order: parameters (spec names), then each optimizer slot
/// prefix over all parameters (`exp_avg.fc0.w`, ..., `exp_avg_sq.fc0.w`, ...), then `step`
/// and `rng_key`.
pub fn state_layout(model: &ModelConfig, optimizer: &OptimizerSpec) -> Result<Vec<TensorSpec>> {
    let specs = model.param_specs()?;
    let mut out: Vec<TensorSpec> = specs
        .iter()
        .map(|s| TensorSpec::new(&s.name, DType::F32, s.shape.clone()))
        .collect();
    for prefix in optimizer.slot_prefixes() {
        for s in &specs {
            let name = format!("{prefix}.{}", s.name);
            out.push(TensorSpec::new(name, DType::F32, s.shape.clone()));
        }
    }
    out.push(TensorSpec::new(STEP, DType::S32, vec![]));
    out.push(TensorSpec::new(RNG_KEY, DType::U64, vec![2]));
    Ok(out)
}

/// The state's tensors, their shardings and the devices of the mesh's partitions.
#[derive(Debug, Clone, PartialEq)]
pub struct StateLayout {
    pub descs: Vec<TensorSpec>,
    pub shardings: Vec<Sharding>,
    pub mesh: Mesh,
    /// Device index of each partition (`[0]` on one device).
    pub devices: Vec<usize>,
}

impl StateLayout {
    /// The layout of `model` + `optimizer`'s state over `mesh`, on `devices` (empty: device 0).
    pub fn new(
        model: &ModelConfig,
        optimizer: &OptimizerSpec,
        mesh: Mesh,
        devices: Vec<usize>,
    ) -> Result<StateLayout> {
        let descs = state_layout(model, optimizer)?;
        let params = model.param_specs()?;
        let param_shardings: Vec<Sharding> = params
            .iter()
            .map(|p| param_sharding(&p.name, &p.shape, &mesh))
            .collect();
        let shardings = descs
            .iter()
            .enumerate()
            .map(|(i, d)| {
                if i < descs.len() - 2 {
                    param_shardings[i % params.len().max(1)].clone()
                } else {
                    Sharding::replicated(d.shape.len())
                }
            })
            .collect();
        Ok(StateLayout::from_parts(descs, shardings, mesh, devices))
    }

    /// One device, every tensor whole.
    pub fn single(descs: Vec<TensorSpec>) -> StateLayout {
        let shardings = descs
            .iter()
            .map(|d| Sharding::replicated(d.shape.len()))
            .collect();
        StateLayout::from_parts(descs, shardings, Mesh::single(), vec![0])
    }

    fn from_parts(
        descs: Vec<TensorSpec>,
        shardings: Vec<Sharding>,
        mesh: Mesh,
        devices: Vec<usize>,
    ) -> StateLayout {
        let devices = if devices.is_empty() {
            (0..mesh.devices()).collect()
        } else {
            devices
        };
        StateLayout {
            descs,
            shardings,
            mesh,
            devices,
        }
    }

    pub fn partitions(&self) -> usize {
        self.devices.len()
    }

    /// Index ranges of tensor `tensor` held by `partition`.
    pub fn block(&self, tensor: usize, partition: usize) -> Vec<std::ops::Range<usize>> {
        self.shardings[tensor].block(&self.descs[tensor].shape, &self.mesh, partition)
    }

    /// Per-partition dims of tensor `tensor`.
    pub fn block_dims(&self, tensor: usize, partition: usize) -> Vec<i64> {
        self.block(tensor, partition)
            .iter()
            .map(|r| r.len() as i64)
            .collect()
    }

    /// The partitions whose blocks of `tensor` together hold it once: the first holder of each
    /// distinct block.
    pub fn writers(&self, tensor: usize) -> Vec<usize> {
        let mut seen = Vec::new();
        let mut writers = Vec::new();
        for p in 0..self.partitions() {
            let block = self.block(tensor, p);
            if !seen.contains(&block) {
                seen.push(block);
                writers.push(p);
            }
        }
        writers
    }
}

/// Whether a weight is split by output column (`Some(true)`), by input row (`Some(false)`) under
/// the tensor axis, and which of its dims holds that feature axis.
fn tensor_split(name: &str, rank: usize) -> Option<usize> {
    let is = |suffixes: &[&str]| suffixes.iter().any(|s| name.ends_with(s));
    // HF llama-style [out, in] weights
    if is(&[
        "q_proj.weight",
        "k_proj.weight",
        "v_proj.weight",
        "gate_proj.weight",
        "up_proj.weight",
        "q_proj.bias",
        "k_proj.bias",
        "v_proj.bias",
    ]) {
        return Some(0);
    }
    if is(&["o_proj.weight", "down_proj.weight"]) {
        return Some(1);
    }
    // GPT-2 style [in, out] weights (ours and HF's Conv1D)
    if is(&["c_attn.w", "c_fc.w", "c_attn.weight", "c_fc.weight"]) {
        return Some(1);
    }
    if is(&["c_attn.b", "c_fc.b", "c_attn.bias", "c_fc.bias"]) {
        return Some(0);
    }
    if is(&["c_proj.w", "c_proj.weight"]) && rank == 2 {
        return Some(0);
    }
    // the MLP: fc{even} by column, fc{odd} by row
    let layer: usize = name.strip_prefix("fc")?.split('.').next()?.parse().ok()?;
    match (layer % 2, name.ends_with(".w")) {
        (0, true) => Some(1),
        (0, false) => Some(0),
        (_, true) => Some(0),
        _ => None,
    }
}

fn param_sharding(name: &str, shape: &[usize], mesh: &Mesh) -> Sharding {
    let rank = shape.len();
    let mut sharding = Sharding::replicated(rank);
    let divides = |dim: usize, axis: MeshAxis| shape[dim].is_multiple_of(mesh.size(axis));
    let mut tensor_dim = None;
    if mesh.tensor > 1 {
        if let Some(dim) = tensor_split(name, rank).filter(|&d| d < rank) {
            if divides(dim, MeshAxis::Tensor) {
                sharding.dims[dim].push(MeshAxis::Tensor);
                tensor_dim = Some(dim);
            }
        }
    }
    if mesh.fsdp > 1 && rank > 0 {
        let dim = if tensor_dim == Some(0) { 1 } else { 0 };
        if dim < rank && shape[dim] > 0 && divides(dim, MeshAxis::Fsdp) {
            sharding.dims[dim].insert(0, MeshAxis::Fsdp);
        }
    }
    sharding
}
