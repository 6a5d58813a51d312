//! The printer: one StableHLO op (occasionally a helper constant too) per live graph node.
//!
//! Spellings are the pretty forms that the StableHLO 1.13 parser reads, with the generic form
//! (`"stablehlo.gather"(...) <{...}>`) for ops that have no custom syntax. Value names: parameters
//! and named nodes print as their (sanitized, de-duplicated) names, everything else as `%N` with N
//! counting up in print order. Nothing here iterates a hash map, so output is deterministic.

use std::collections::HashSet;
use std::fmt::Write;

use super::literal::{dense, float_literal};
use super::{DotPrecision, LowerOptions};
use crate::graph::{DType, Graph, Op, ReduceKind, Tensor};
use crate::{Error, Result};

/// `tensor<4x3xf32>`, `tensor<f32>`.
fn tensor_type(shape: &[usize], dtype: DType) -> String {
    let mut s = String::from("tensor<");
    for d in shape {
        let _ = write!(s, "{d}x");
    }
    s.push_str(dtype.mlir_name());
    s.push('>');
    s
}

fn list(values: &[usize]) -> String {
    let items: Vec<String> = values.iter().map(|v| v.to_string()).collect();
    format!("[{}]", items.join(", "))
}

fn array_i64(values: &[usize]) -> String {
    let items: Vec<String> = values.iter().map(|v| v.to_string()).collect();
    format!("array<i64: {}>", items.join(", "))
}

/// A legal MLIR value name (letters, digits, `$._-`, not starting with a digit), or None.
fn sanitize(name: &str) -> Option<String> {
    let cleaned: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "._-".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    match cleaned.chars().next() {
        None => None,
        Some(c) if c.is_ascii_digit() => Some(format!("_{cleaned}")),
        Some(_) => Some(cleaned),
    }
}

pub(super) struct Printer<'a> {
    graph: &'a Graph,
    outputs: &'a [Tensor],
    options: &'a LowerOptions,
    live: Vec<bool>,
    /// The SSA reference of each printed node (`%fc0.w`, `%12`, `%7#1`).
    refs: Vec<Option<String>>,
    used_names: HashSet<String>,
    counter: usize,
    body: String,
}

impl<'a> Printer<'a> {
    pub(super) fn new(
        graph: &'a Graph,
        outputs: &'a [Tensor],
        options: &'a LowerOptions,
    ) -> Result<Self> {
        if outputs.is_empty() {
            return Err(Error::Lower {
                reason: "a program needs at least one output".into(),
            });
        }
        let mut live = vec![false; graph.len()];
        for &o in outputs {
            graph.node(o)?;
            live[o.index()] = true;
        }
        for i in (0..graph.len()).rev() {
            if live[i] {
                for operand in graph.nodes[i].op.operands() {
                    live[operand.index()] = true;
                }
            }
        }
        let p = Printer {
            graph,
            outputs,
            options,
            live,
            refs: vec![None; graph.len()],
            used_names: HashSet::new(),
            counter: 0,
            body: String::new(),
        };
        p.check_donations()?;
        Ok(p)
    }

    fn check_donations(&self) -> Result<()> {
        let params = self.graph.parameters();
        let mut args_seen = HashSet::new();
        let mut outs_seen = HashSet::new();
        for d in &self.options.donations {
            let (Some(&arg), Some(&out)) = (params.get(d.argument), self.outputs.get(d.output))
            else {
                return Err(Error::Lower {
                    reason: format!(
                        "donation {d:?} out of range ({} arguments, {} outputs)",
                        params.len(),
                        self.outputs.len()
                    ),
                });
            };
            let (a, o) = (
                &self.graph.nodes[arg.index()],
                &self.graph.nodes[out.index()],
            );
            if a.shape != o.shape || a.dtype != o.dtype {
                return Err(Error::Lower {
                    reason: format!(
                        "donated argument {} is {} but output {} is {}",
                        d.argument,
                        tensor_type(&a.shape, a.dtype),
                        d.output,
                        tensor_type(&o.shape, o.dtype)
                    ),
                });
            }
            if !args_seen.insert(d.argument) || !outs_seen.insert(d.output) {
                return Err(Error::Lower {
                    reason: format!("donation {d:?} repeats an argument or output"),
                });
            }
        }
        Ok(())
    }

    /// A fresh unique name derived from `hint`, or the next number.
    fn fresh(&mut self, hint: Option<&str>) -> String {
        if let Some(base) = hint.and_then(sanitize) {
            let mut name = base.clone();
            let mut k = 1;
            while !self.used_names.insert(name.clone()) {
                name = format!("{base}_{k}");
                k += 1;
            }
            return format!("%{name}");
        }
        let n = self.counter;
        self.counter += 1;
        format!("%{n}")
    }

    fn ty(&self, t: Tensor) -> String {
        let n = &self.graph.nodes[t.index()];
        tensor_type(&n.shape, n.dtype)
    }

    fn r(&self, t: Tensor) -> Result<&str> {
        self.refs[t.index()].as_deref().ok_or_else(|| Error::Lower {
            reason: format!("node %{} used before it was printed", t.index()),
        })
    }

    pub(super) fn print(mut self) -> Result<String> {
        let mut args = Vec::new();
        for (i, &p) in self.graph.parameters().iter().enumerate() {
            let node = &self.graph.nodes[p.index()];
            let name = self.fresh(node.name.as_deref().or(Some("arg")));
            let mut arg = format!("{name}: {}", tensor_type(&node.shape, node.dtype));
            let mut attributes = Vec::new();
            if let Some(Some(sharding)) = self.options.argument_shardings.get(i) {
                attributes.push(format!("mhlo.sharding = \"{sharding}\""));
            }
            if let Some(d) = self.options.donations.iter().find(|d| d.argument == i) {
                attributes.push(format!("tf.aliasing_output = {} : i32", d.output));
            }
            if !attributes.is_empty() {
                let _ = write!(arg, " {{{}}}", attributes.join(", "));
            }
            args.push(arg);
            self.refs[p.index()] = Some(name);
        }
        for i in 0..self.graph.len() {
            if self.live[i] && self.refs[i].is_none() {
                self.node(self.graph.handle(i))?;
            }
        }
        let mut result_types = Vec::new();
        let mut result_decls = Vec::new();
        let mut result_refs = Vec::new();
        for (i, &o) in self.outputs.iter().enumerate() {
            let ty = self.ty(o);
            result_decls.push(match self.options.result_shardings.get(i) {
                Some(Some(sharding)) => format!("{ty} {{mhlo.sharding = \"{sharding}\"}}"),
                _ => ty.clone(),
            });
            result_types.push(ty);
            result_refs.push(self.r(o)?.to_string());
        }
        let module = sanitize(&self.options.module_name).unwrap_or_else(|| "xlatrain".into());
        let mut text = String::new();
        match self.options.num_partitions {
            Some(n) => {
                let _ = writeln!(
                    text,
                    "module @{module} attributes {{mhlo.num_partitions = {n} : i32}} {{"
                );
            }
            None => {
                let _ = writeln!(text, "module @{module} {{");
            }
        }
        let _ = writeln!(
            text,
            "  func.func public @main({}) -> ({}) {{",
            args.join(", "),
            result_decls.join(", ")
        );
        text.push_str(&self.body);
        let _ = writeln!(
            text,
            "    return {} : {}",
            result_refs.join(", "),
            result_types.join(", ")
        );
        text.push_str("  }\n}\n");
        Ok(text)
    }

    fn line(&mut self, s: String) {
        self.body.push_str("    ");
        self.body.push_str(&s);
        self.body.push('\n');
    }

    /// A scalar or splat constant line; returns its name.
    fn aux_constant(&mut self, value: &str, shape: &[usize], dtype: DType) -> String {
        let name = self.fresh(None);
        self.line(format!(
            "{name} = stablehlo.constant dense<{value}> : {}",
            tensor_type(shape, dtype)
        ));
        name
    }

    fn node(&mut self, t: Tensor) -> Result<()> {
        let node = &self.graph.nodes[t.index()];
        let ty = tensor_type(&node.shape, node.dtype);
        // Ops that print nothing: they alias another value.
        match &node.op {
            Op::StopGradient(x) => {
                self.refs[t.index()] = Some(self.r(*x)?.to_string());
                return Ok(());
            }
            Op::RngNextState { rng } => {
                let bits = self.r(*rng)?;
                let base = bits.strip_suffix("#1").unwrap_or(bits).to_string();
                self.refs[t.index()] = Some(format!("{base}#0"));
                return Ok(());
            }
            Op::OptimizationBarrier { inputs, index } => {
                self.barrier(t.index() - index, inputs)?;
                return Ok(());
            }
            _ => {}
        }
        let text = match &node.op {
            Op::Parameter { .. }
            | Op::StopGradient(_)
            | Op::RngNextState { .. }
            | Op::OptimizationBarrier { .. } => {
                return Err(Error::Lower { reason: format!("node %{} has no printed form", t.index()) })
            }
            Op::Constant(lit) => format!("stablehlo.constant {} : {ty}", dense(lit, &node.shape, node.dtype)),
            Op::Iota { dim } => format!("stablehlo.iota dim = {dim} : {ty}"),
            Op::Unary(op, x) => format!("stablehlo.{} {} : {ty}", op.name(), self.r(*x)?),
            Op::Binary(op, a, b) => format!("stablehlo.{} {}, {} : {ty}", op.name(), self.r(*a)?, self.r(*b)?),
            Op::Compare(dir, a, b) => {
                let operand = self.graph.nodes[a.index()].dtype;
                let kind = if operand.is_float() {
                    "FLOAT"
                } else if operand.is_unsigned() {
                    "UNSIGNED"
                } else {
                    "SIGNED"
                };
                let ta = self.ty(*a);
                format!(
                    "stablehlo.compare {}, {}, {}, {kind} : ({ta}, {ta}) -> {ty}",
                    dir.name(),
                    self.r(*a)?,
                    self.r(*b)?
                )
            }
            Op::Select { pred, on_true, on_false } => format!(
                "stablehlo.select {}, {}, {} : ({}, {ty}, {ty}) -> {ty}",
                self.r(*pred)?,
                self.r(*on_true)?,
                self.r(*on_false)?,
                self.ty(*pred)
            ),
            Op::Convert(x) => format!("stablehlo.convert {} : ({}) -> {ty}", self.r(*x)?, self.ty(*x)),
            Op::BroadcastInDim { input, dims } => format!(
                "stablehlo.broadcast_in_dim {}, dims = {} : ({}) -> {ty}",
                self.r(*input)?,
                list(dims),
                self.ty(*input)
            ),
            Op::Reshape(x) => format!("stablehlo.reshape {} : ({}) -> {ty}", self.r(*x)?, self.ty(*x)),
            Op::Transpose { input, perm } => format!(
                "stablehlo.transpose {}, dims = {} : ({}) -> {ty}",
                self.r(*input)?,
                list(perm),
                self.ty(*input)
            ),
            Op::Slice { input, start, limit, stride } => format!(
                "\"stablehlo.slice\"({}) <{{start_indices = {}, limit_indices = {}, strides = {}}}> : ({}) -> {ty}",
                self.r(*input)?,
                array_i64(start),
                array_i64(limit),
                array_i64(stride),
                self.ty(*input)
            ),
            Op::Pad { input, value, low, high, interior } => format!(
                "stablehlo.pad {}, {}, low = {}, high = {}, interior = {} : ({}, {}) -> {ty}",
                self.r(*input)?,
                self.r(*value)?,
                list(low),
                list(high),
                list(interior),
                self.ty(*input),
                self.ty(*value)
            ),
            Op::Concatenate { inputs, axis } => {
                let refs: Vec<String> = inputs.iter().map(|&x| self.r(x).map(str::to_string)).collect::<Result<_>>()?;
                let tys: Vec<String> = inputs.iter().map(|&x| self.ty(x)).collect();
                format!("stablehlo.concatenate {}, dim = {axis} : ({}) -> {ty}", refs.join(", "), tys.join(", "))
            }
            Op::DotGeneral { lhs, rhs, lhs_batch, rhs_batch, lhs_contract, rhs_contract } => {
                let batching = if lhs_batch.is_empty() {
                    String::new()
                } else {
                    format!("batching_dims = {} x {}, ", list(lhs_batch), list(rhs_batch))
                };
                let precision = match self.options.dot_precision {
                    DotPrecision::Default => "",
                    DotPrecision::High => ", precision = [HIGH, HIGH]",
                    DotPrecision::Highest => ", precision = [HIGHEST, HIGHEST]",
                };
                format!(
                    "stablehlo.dot_general {}, {}, {batching}contracting_dims = {} x {}{precision} : ({}, {}) -> {ty}",
                    self.r(*lhs)?,
                    self.r(*rhs)?,
                    list(lhs_contract),
                    list(rhs_contract),
                    self.ty(*lhs),
                    self.ty(*rhs)
                )
            }
            Op::Reduce { input, kind, axes } => {
                let dtype = node.dtype;
                let (init, body) = match kind {
                    ReduceKind::Sum => (zero_literal(dtype), "stablehlo.add"),
                    ReduceKind::Max => (lowest_literal(dtype), "stablehlo.maximum"),
                };
                let init = self.aux_constant(&init, &[], dtype);
                format!(
                    "stablehlo.reduce({} init: {init}) applies {body} across dimensions = {} : ({}, {}) -> {ty}",
                    self.r(*input)?,
                    list(axes),
                    self.ty(*input),
                    tensor_type(&[], dtype)
                )
            }
            Op::GatherRows { table, indices } => format!(
                "\"stablehlo.gather\"({}, {}) <{{dimension_numbers = #stablehlo.gather<offset_dims = [1], \
                 collapsed_slice_dims = [0], start_index_map = [0], index_vector_dim = 1>, \
                 indices_are_sorted = false, slice_sizes = array<i64: 1, {}>}}> : ({}, {}) -> {ty}",
                self.r(*table)?,
                self.r(*indices)?,
                node.shape[1],
                self.ty(*table),
                self.ty(*indices)
            ),
            Op::ScatterAddRows { indices, updates, .. } => {
                let dtype = node.dtype;
                let zeros = self.aux_constant(&zero_literal(dtype), &node.shape, dtype);
                let scalar = tensor_type(&[], dtype);
                let (lhs, rhs, sum) = (self.fresh(None), self.fresh(None), self.fresh(None));
                format!(
                    "\"stablehlo.scatter\"({zeros}, {}, {}) <{{indices_are_sorted = false, \
                     scatter_dimension_numbers = #stablehlo.scatter<update_window_dims = [1], \
                     inserted_window_dims = [0], scatter_dims_to_operand_dims = [0], index_vector_dim = 1>, \
                     unique_indices = false}}> ({{\n      ^bb0({lhs}: {scalar}, {rhs}: {scalar}):\n        \
                     {sum} = stablehlo.add {lhs}, {rhs} : {scalar}\n        stablehlo.return {sum} : {scalar}\n    \
                     }}) : ({ty}, {}, {}) -> {ty}",
                    self.r(*indices)?,
                    self.r(*updates)?,
                    self.ty(*indices),
                    self.ty(*updates)
                )
            }
            Op::AllReduceSum { input, groups } => {
                let scalar = tensor_type(&[], node.dtype);
                let (lhs, rhs, sum) = (self.fresh(None), self.fresh(None), self.fresh(None));
                let rows: Vec<String> = groups
                    .iter()
                    .map(|group| {
                        let ids: Vec<String> = group.iter().map(usize::to_string).collect();
                        format!("[{}]", ids.join(", "))
                    })
                    .collect();
                let group_size = groups.first().map_or(0, Vec::len);
                format!(
                    "\"stablehlo.all_reduce\"({}) ({{\n      ^bb0({lhs}: {scalar}, {rhs}: {scalar}):\n        \
                     {sum} = stablehlo.add {lhs}, {rhs} : {scalar}\n        stablehlo.return {sum} : {scalar}\n    \
                     }}) {{replica_groups = dense<[{}]> : tensor<{}x{group_size}xi64>}} : ({ty}) -> {ty}",
                    self.r(*input)?,
                    rows.join(", "),
                    groups.len()
                )
            }
            Op::ReplicaId => format!("stablehlo.replica_id : {ty}"),
            Op::DynamicUpdateSlice { operand, update, starts } => {
                let mut refs = vec![self.r(*operand)?.to_string(), self.r(*update)?.to_string()];
                let mut tys = vec![self.ty(*operand), self.ty(*update)];
                for &s in starts {
                    refs.push(self.r(s)?.to_string());
                    tys.push(self.ty(s));
                }
                format!("stablehlo.dynamic_update_slice {} : ({}) -> {ty}", refs.join(", "), tys.join(", "))
            }
            Op::RngBits { state } => {
                let name = self.fresh(node.name.as_deref());
                let line = format!(
                    "{name}:2 = stablehlo.rng_bit_generator {}, algorithm = THREE_FRY : ({}) -> ({}, {ty})",
                    self.r(*state)?,
                    self.ty(*state),
                    self.ty(*state)
                );
                self.line(line);
                self.refs[t.index()] = Some(format!("{name}#1"));
                return Ok(());
            }
        };
        let name = self.fresh(node.name.as_deref());
        self.line(format!("{name} = {text}"));
        self.refs[t.index()] = Some(name);
        Ok(())
    }
}

impl Printer<'_> {
    /// One `optimization_barrier` whose results are the nodes `first..first + inputs.len()`
    /// (generic form: `%b:2 = "stablehlo.optimization_barrier"(%x, %y) : (...) -> (...)`).
    fn barrier(&mut self, first: usize, inputs: &[Tensor]) -> Result<()> {
        let refs: Vec<String> = inputs
            .iter()
            .map(|&x| self.r(x).map(str::to_string))
            .collect::<Result<_>>()?;
        let types: Vec<String> = inputs.iter().map(|&x| self.ty(x)).collect();
        let name = self.fresh(None);
        let types = types.join(", ");
        self.line(format!(
            "{name}:{} = \"stablehlo.optimization_barrier\"({}) : ({types}) -> ({types})",
            inputs.len(),
            refs.join(", ")
        ));
        for k in 0..inputs.len() {
            self.refs[first + k] = Some(format!("{name}#{k}"));
        }
        Ok(())
    }
}

fn zero_literal(dtype: DType) -> String {
    match dtype {
        d if d.is_float() => float_literal(0.0, d),
        DType::Pred => "false".into(),
        _ => "0".into(),
    }
}

/// The identity of `max`: -inf for floats, the minimum for integers.
fn lowest_literal(dtype: DType) -> String {
    match dtype {
        d if d.is_float() => float_literal(f64::NEG_INFINITY, d),
        DType::S32 => i32::MIN.to_string(),
        DType::Pred => "false".into(),
        _ => "0".into(),
    }
}
