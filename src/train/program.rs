//! The compiled programs of a run, built as graphs and lowered to StableHLO:
//!
//! - the train step: arguments `state..., x, y` where `state` is [`state_layout`] (parameters,
//!   optimizer slots, `step`, `rng_key`), `x`/`y` hold `N` micro-batches stacked on a leading
//!   axis; results `state'..., loss, grad_norm, learning_rate`. Every state argument is donated
//!   into its own result, so one execution is one optimizer step with no host round trip.
//! - the eval step: arguments `params..., x, y`, results `loss, accuracy` of one batch.
//!
//! Gradient accumulation is an in-graph sum: the `N` micro-batches are sliced from `x`/`y`, each
//! gets its own forward pass and loss, and the optimizer sees the gradient of their mean. One
//! program (instead of a grad program plus an apply program) keeps the step a single dispatch
//! with a single donation chain and lets XLA schedule the micro-batches' backward passes; the
//! price is that activations of all micro-batches may be live at once, which is fine for the
//! reference models (a separate accumulate program is the way out when memory binds).

use crate::data::BatchLayout;
use crate::graph::{grad, ComputePolicy, DType, Graph, Precision, Tensor};
use crate::lower::{to_stablehlo, LowerOptions};
use crate::models::{self, ModelConfig};
use crate::optim::{self, OptimizerSpec};
use crate::{Result, TensorSpec};

use super::layout::StateLayout;
pub use super::layout::{state_layout, RNG_KEY, STEP};
use super::mesh::{Mesh, MeshAxis, Sharding};

/// The metric results of the train step, after the state.
pub const STEP_METRICS: [&str; 3] = ["loss", "grad_norm", "learning_rate"];

/// A lowered program with the argument layout the trainer feeds it.
#[derive(Debug, Clone)]
pub struct Program {
    pub mlir: String,
    /// Shapes of `x` and `y` as fed (train step: with the leading micro-batch axis).
    pub x: TensorSpec,
    pub y: TensorSpec,
}

fn batch_descs(layout: &BatchLayout, micro_batches: Option<usize>) -> (TensorSpec, TensorSpec) {
    let lead = |shape: &[usize]| {
        let mut s = Vec::new();
        s.extend(micro_batches);
        s.extend_from_slice(shape);
        s
    };
    (
        TensorSpec::new("x", layout.x_type, lead(&layout.x_shape)),
        TensorSpec::new("y", DType::S32, lead(&layout.y_shape)),
    )
}

fn parameters(g: &mut Graph, descs: &[TensorSpec]) -> Result<Vec<Tensor>> {
    descs
        .iter()
        .map(|d| g.parameter(&d.name, &d.shape, d.dtype))
        .collect()
}

/// The train-step program (see the module docs) for `micro_batches` micro-batches per step on
/// one device.
pub fn train_step_program(
    model: &ModelConfig,
    optimizer: &OptimizerSpec,
    layout: &BatchLayout,
    micro_batches: usize,
) -> Result<Program> {
    let state = StateLayout::new(model, optimizer, Mesh::single(), Vec::new())?;
    train_step_program_on(
        model,
        optimizer,
        layout,
        micro_batches,
        &state,
        Precision::F32,
    )
}

/// The train step of the GLOBAL batch `layout` over `state`'s mesh: with more than one device,
/// every state argument and result carries its [`Sharding`] as an `mhlo.sharding` annotation,
/// the batch is split along its batch axis over `data x fsdp`, and XLA's SPMD partitioner turns
/// the one program into the per-device ones (all-reduces of replicated gradients,
/// all-gathers/reduce-scatters of sharded state, tensor-parallel collectives). `precision` is the
/// matmul policy (see [`Precision`]); the state is f32 under every policy.
pub fn train_step_program_on(
    model: &ModelConfig,
    optimizer: &OptimizerSpec,
    layout: &BatchLayout,
    micro_batches: usize,
    state: &StateLayout,
    precision: impl Into<ComputePolicy>,
) -> Result<Program> {
    let descs = &state.descs;
    let n_params = model.param_specs()?.len();
    let mut g = Graph::new();
    g.set_policy(precision.into());
    let inputs = parameters(&mut g, descs)?;
    let (xd, yd) = batch_descs(layout, Some(micro_batches));
    let x = g.parameter("x", &xd.shape, xd.dtype)?;
    let y = g.parameter("y", &yd.shape, DType::S32)?;
    let params = &inputs[..n_params];
    let slots = &inputs[n_params..inputs.len() - 2];
    let (step, key) = (inputs[inputs.len() - 2], inputs[inputs.len() - 1]);
    // every step moves the key on, whether or not dropout draws from it
    let (mut key, _) = g.rng_bit_generator(key, &[2], DType::U32)?;
    let mut total = None;
    for i in 0..micro_batches {
        let xi = g.slice_axis(x, 0, i, 1)?;
        let xi = g.reshape(xi, &xd.shape[1..])?;
        let yi = g.slice_axis(y, 0, i, 1)?;
        let yi = g.reshape(yi, &yd.shape[1..])?;
        let logits = models::logits(model, &mut g, params, xi, Some(&mut key))?;
        let loss = g.cross_entropy(logits, yi)?;
        total = Some(match total {
            None => loss,
            Some(t) => g.add(t, loss)?,
        });
    }
    let total = total.ok_or_else(|| crate::Error::InvalidArgument {
        key: "gradient_accumulation_steps".into(),
        value: "0".into(),
        reason: "must be at least 1".into(),
    })?;
    let loss = g.scale(total, 1.0 / micro_batches as f64)?;
    g.set_name(loss, "loss")?;
    let grads = grad(&mut g, loss, params)?;
    let update = optim::apply(&mut g, optimizer, params, &grads, slots, step)?;
    let one = g.scalar(1.0, DType::S32)?;
    let next_step = g.add(step, one)?;
    let mut outputs = update.params;
    outputs.extend(update.slots);
    outputs.push(next_step);
    outputs.push(key);
    outputs.extend([loss, update.grad_norm, update.lr]);
    let mut options = LowerOptions {
        module_name: format!("train_step_{}", model.kind_name()),
        ..LowerOptions::default()
    };
    for i in 0..descs.len() {
        options = options.donate(i, i);
    }
    let mesh = &state.mesh;
    if mesh.devices() > 1 {
        let state_shardings: Vec<Option<String>> = state
            .shardings
            .iter()
            .map(|s| Some(s.annotation(mesh)))
            .collect();
        options.argument_shardings = state_shardings.clone();
        for d in [&xd, &yd] {
            options
                .argument_shardings
                .push(Some(batch_sharding(d.shape.len(), mesh).annotation(mesh)));
        }
        options.result_shardings = state_shardings;
        options.result_shardings.extend(
            STEP_METRICS
                .iter()
                .map(|_| Some("{replicated}".to_string())),
        );
        options.num_partitions = Some(mesh.devices());
    }
    Ok(Program {
        mlir: to_stablehlo(&g, &outputs, &options)?,
        x: xd,
        y: yd,
    })
}

/// How a stacked batch `[micro, batch, ..]` lies on the mesh: split along the batch axis over
/// `data x fsdp`, replicated over `tensor`.
pub fn batch_sharding(rank: usize, mesh: &Mesh) -> Sharding {
    Sharding::split(rank, 1, &[MeshAxis::Data, MeshAxis::Fsdp], mesh)
}

/// The eval program: `params..., x, y` -> mean loss and accuracy (fraction of positions whose
/// label has the largest logit) of one batch, with the run's matmul `precision`.
pub fn eval_program(
    model: &ModelConfig,
    layout: &BatchLayout,
    precision: Precision,
) -> Result<Program> {
    eval_program_on(model, layout, &Mesh::single(), &[], precision)
}

/// [`eval_program`] over `mesh`: the parameters lie as `param_shardings` say (as the train step
/// holds them), the held-out batch is replicated on every device.
pub fn eval_program_on(
    model: &ModelConfig,
    layout: &BatchLayout,
    mesh: &Mesh,
    param_shardings: &[Sharding],
    precision: Precision,
) -> Result<Program> {
    let specs = model.param_specs()?;
    let mut g = Graph::new();
    g.set_precision(precision);
    let params: Vec<Tensor> = specs
        .iter()
        .map(|s| g.parameter(&s.name, &s.shape, DType::F32))
        .collect::<Result<_>>()?;
    let (xd, yd) = batch_descs(layout, None);
    let x = g.parameter("x", &xd.shape, xd.dtype)?;
    let y = g.parameter("y", &yd.shape, DType::S32)?;
    let logits = models::logits(model, &mut g, &params, x, None)?;
    let loss = g.cross_entropy(logits, y)?;
    let axis = g.shape(logits)?.len() - 1;
    let classes = g.shape(logits)?[axis];
    let onehot = g.one_hot(y, classes, DType::F32)?;
    let picked = g.mul(logits, onehot)?;
    let picked = g.reduce_sum(picked, &[axis])?;
    let best = g.reduce_max(logits, &[axis])?;
    let hit = g.compare(crate::graph::CompareDir::Ge, picked, best)?;
    let hit = g.convert(hit, DType::F32)?;
    let accuracy = g.mean_all(hit)?;
    let mut options = LowerOptions {
        module_name: format!("eval_step_{}", model.kind_name()),
        ..LowerOptions::default()
    };
    let mut outputs = vec![loss, accuracy];
    outputs.extend(super::metrics::eval_outputs(model, logits));
    if mesh.devices() > 1 {
        options.argument_shardings = param_shardings
            .iter()
            .map(|s| Some(s.annotation(mesh)))
            .collect();
        options.argument_shardings.extend([
            Some("{replicated}".to_string()),
            Some("{replicated}".to_string()),
        ]);
        options.result_shardings = vec![Some("{replicated}".to_string()); outputs.len()];
        options.num_partitions = Some(mesh.devices());
    }
    Ok(Program {
        mlir: to_stablehlo(&g, &outputs, &options)?,
        x: xd,
        y: yd,
    })
}
