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

use crate::data::{BatchLayout, ElementType as DataType};
use crate::graph::{grad, ComputePolicy, DType, Graph, Precision, Tensor};
use crate::lower::{to_stablehlo, LowerOptions};
use crate::models::{self, ModelConfig};
use crate::optim::{self, OptimizerSpec};
use crate::pjrt::ElementType;
use crate::Result;

/// Name, element type and shape of one tensor of the training state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TensorDesc {
    pub name: String,
    pub element_type: ElementType,
    pub shape: Vec<usize>,
}

impl TensorDesc {
    pub fn new(name: impl Into<String>, element_type: ElementType, shape: Vec<usize>) -> Self {
        TensorDesc {
            name: name.into(),
            element_type,
            shape,
        }
    }

    pub fn numel(&self) -> usize {
        self.shape.iter().product()
    }

    pub fn byte_size(&self) -> usize {
        self.numel() * self.element_type.byte_size()
    }

    pub fn dims(&self) -> Vec<i64> {
        self.shape.iter().map(|&d| d as i64).collect()
    }
}

/// Name of the optimizer-step counter (S32 scalar: updates already done).
pub const STEP: &str = "step";
/// Name of the device PRNG state (u64[2], THREE_FRY).
pub const RNG_KEY: &str = "rng_key";
/// The metric results of the train step, after the state.
pub const STEP_METRICS: [&str; 3] = ["loss", "grad_norm", "learning_rate"];

/// The training state in its fixed order: parameters (spec names), then each optimizer slot
/// prefix over all parameters (`exp_avg.fc0.w`, ..., `exp_avg_sq.fc0.w`, ...), then `step`
/// and `rng_key`.
pub fn state_layout(model: &ModelConfig, optimizer: &OptimizerSpec) -> Result<Vec<TensorDesc>> {
    let specs = model.param_specs()?;
    let mut out: Vec<TensorDesc> = specs
        .iter()
        .map(|s| TensorDesc::new(&s.name, ElementType::F32, s.shape.clone()))
        .collect();
    for prefix in optimizer.slot_prefixes() {
        for s in &specs {
            let name = format!("{prefix}.{}", s.name);
            out.push(TensorDesc::new(name, ElementType::F32, s.shape.clone()));
        }
    }
    out.push(TensorDesc::new(STEP, ElementType::S32, vec![]));
    out.push(TensorDesc::new(RNG_KEY, ElementType::U64, vec![2]));
    Ok(out)
}

/// A lowered program with the argument layout the trainer feeds it.
#[derive(Debug, Clone)]
pub struct Program {
    pub mlir: String,
    /// Shapes of `x` and `y` as fed (train step: with the leading micro-batch axis).
    pub x: TensorDesc,
    pub y: TensorDesc,
}

fn graph_dtype(t: ElementType) -> DType {
    match t {
        ElementType::S32 => DType::S32,
        ElementType::U64 => DType::U64,
        _ => DType::F32,
    }
}

fn batch_descs(layout: &BatchLayout, micro_batches: Option<usize>) -> (TensorDesc, TensorDesc) {
    let lead = |shape: &[usize]| {
        let mut s = Vec::new();
        s.extend(micro_batches);
        s.extend_from_slice(shape);
        s
    };
    let xt = match layout.x_type {
        DataType::F32 => ElementType::F32,
        DataType::I32 => ElementType::S32,
    };
    (
        TensorDesc::new("x", xt, lead(&layout.x_shape)),
        TensorDesc::new("y", ElementType::S32, lead(&layout.y_shape)),
    )
}

fn parameters(g: &mut Graph, descs: &[TensorDesc]) -> Result<Vec<Tensor>> {
    descs
        .iter()
        .map(|d| g.parameter(&d.name, &d.shape, graph_dtype(d.element_type)))
        .collect()
}

/// The train-step program (see the module docs) for `micro_batches` micro-batches per step.
pub fn train_step_program(
    model: &ModelConfig,
    optimizer: &OptimizerSpec,
    layout: &BatchLayout,
    micro_batches: usize,
) -> Result<Program> {
    train_step_program_replicated(model, optimizer, layout, micro_batches, 1, Precision::F32)
}

/// The train step of one replica of a data-parallel run over `replicas` devices (see
/// [`super::parallel`]); `layout` is the per-device batch. With one replica this is exactly
/// [`train_step_program`]. `precision` is the matmul policy (see [`Precision`]), optionally
/// with gradient checkpointing (a [`ComputePolicy`]); the state is
/// f32 under every policy.
pub fn train_step_program_replicated(
    model: &ModelConfig,
    optimizer: &OptimizerSpec,
    layout: &BatchLayout,
    micro_batches: usize,
    replicas: usize,
    precision: impl Into<ComputePolicy>,
) -> Result<Program> {
    build_train_step(
        model,
        optimizer,
        layout,
        micro_batches,
        (replicas, 1),
        precision.into(),
    )
}

/// The train step for the SPMD partitioner over `partitions` devices (see [`super::spmd`]):
/// the program of the global batch `layout`, with `mhlo.sharding` annotations that split every
/// state tensor whose dim 0 divides evenly into row blocks (the rest replicated) and the batch
/// along its batch axis.
pub fn train_step_program_spmd(
    model: &ModelConfig,
    optimizer: &OptimizerSpec,
    layout: &BatchLayout,
    micro_batches: usize,
    partitions: usize,
    precision: impl Into<ComputePolicy>,
) -> Result<Program> {
    build_train_step(
        model,
        optimizer,
        layout,
        micro_batches,
        (1, partitions),
        precision.into(),
    )
}

fn build_train_step(
    model: &ModelConfig,
    optimizer: &OptimizerSpec,
    layout: &BatchLayout,
    micro_batches: usize,
    (replicas, partitions): (usize, usize),
    policy: ComputePolicy,
) -> Result<Program> {
    let descs = state_layout(model, optimizer)?;
    let n_params = model.param_specs()?.len();
    let mut g = Graph::new();
    g.set_policy(policy);
    let state = parameters(&mut g, &descs)?;
    let (xd, yd) = batch_descs(layout, Some(micro_batches));
    let x = g.parameter("x", &xd.shape, graph_dtype(xd.element_type))?;
    let y = g.parameter("y", &yd.shape, DType::S32)?;
    let params = &state[..n_params];
    let slots = &state[n_params..state.len() - 2];
    let (step, key) = (state[state.len() - 2], state[state.len() - 1]);
    // every step moves the key on, whether or not dropout draws from it
    let (mut key, _) = g.rng_bit_generator(key, &[2], DType::U32)?;
    let next_key = key;
    if replicas > 1 {
        key = super::parallel::replica_dropout_key(&mut g, key)?;
    }
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
    let (loss, grads) = if replicas > 1 {
        // replicated state keeps the dropout key's advance independent of the replica
        key = next_key;
        super::parallel::average_over_replicas(&mut g, loss, &grads, replicas)?
    } else {
        (loss, grads)
    };
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
    if partitions > 1 {
        use super::sharded::sharding_annotation;
        let batch_axis = |shape: &[usize]| {
            let mut tiles = vec!["1".to_string(); shape.len()];
            tiles[1] = partitions.to_string();
            let ids: Vec<String> = (0..partitions).map(|d| d.to_string()).collect();
            format!("{{devices=[{}]{}}}", tiles.join(","), ids.join(","))
        };
        let state_shardings: Vec<Option<String>> = descs
            .iter()
            .map(|d| Some(sharding_annotation(&d.shape, partitions)))
            .collect();
        options.argument_shardings = state_shardings.clone();
        options.argument_shardings.push(Some(batch_axis(&xd.shape)));
        options.argument_shardings.push(Some(batch_axis(&yd.shape)));
        options.result_shardings = state_shardings;
        options.result_shardings.extend(
            STEP_METRICS
                .iter()
                .map(|_| Some("{replicated}".to_string())),
        );
        options.num_partitions = Some(partitions);
    }
    Ok(Program {
        mlir: to_stablehlo(&g, &outputs, &options)?,
        x: xd,
        y: yd,
    })
}

/// The eval program: `params..., x, y` -> mean loss and accuracy (fraction of positions whose
/// label has the largest logit) of one batch, with the run's matmul `precision`.
pub fn eval_program(
    model: &ModelConfig,
    layout: &BatchLayout,
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
    let x = g.parameter("x", &xd.shape, graph_dtype(xd.element_type))?;
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
    let options = LowerOptions {
        module_name: format!("eval_step_{}", model.kind_name()),
        ..LowerOptions::default()
    };
    Ok(Program {
        mlir: to_stablehlo(&g, &[loss, accuracy], &options)?,
        x: xd,
        y: yd,
    })
}
