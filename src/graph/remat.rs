//! Gradient checkpointing (`--gradient-checkpointing`, HF's flag): the activations inside each
//! marked block (a transformer layer) are recomputed in the backward pass instead of kept from
//! the forward pass, so only the blocks' inputs stay alive between the two.
//!
//! A model marks its blocks with [`Graph::checkpoint_block`]; when the graph's policy is on
//! ([`Graph::set_gradient_checkpointing`]), the block's node range is recorded. [`super::grad`]
//! then, on reaching a block from above, passes the block's inputs and the cotangents flowing
//! into it through one `stablehlo.optimization_barrier`, rebuilds the block on the barrier's
//! outputs and runs the block's gradient rules on the copy. The barrier is what makes this
//! real: without it XLA's CSE would merge the copy with the forward nodes (and the forward
//! activations would be kept after all); because the copy also depends on the cotangents, it
//! cannot run before the backward pass reaches the block. This is what `jax.checkpoint` does
//! (`prevent_cse=True`). The copy computes the same ops on the same values, so gradients and
//! losses are bit-identical to the run without checkpointing.

use std::ops::Range;

use super::builder::Graph;
use super::types::{Op, Tensor};
use crate::{Error, Result};

impl Graph {
    /// Turns gradient checkpointing on or off for the blocks marked from now on.
    pub fn set_gradient_checkpointing(&mut self, on: bool) {
        self.gradient_checkpointing = on;
    }

    pub fn gradient_checkpointing(&self) -> bool {
        self.gradient_checkpointing
    }

    /// Builds one block with `build` and, under gradient checkpointing, records its nodes as a
    /// unit that the backward pass recomputes. Blocks do not nest (an inner mark is part of the
    /// outer block).
    pub fn checkpoint_block<T>(
        &mut self,
        build: impl FnOnce(&mut Graph) -> Result<T>,
    ) -> Result<T> {
        let start = self.nodes.len();
        let nested = self
            .checkpoint_blocks
            .last()
            .is_some_and(|b| b.end == usize::MAX);
        let record = self.gradient_checkpointing && !nested;
        if record {
            self.checkpoint_blocks.push(start..usize::MAX);
        }
        let out = build(self);
        if record {
            let end = self.nodes.len();
            match (&out, end > start) {
                (Ok(_), true) => {
                    if let Some(last) = self.checkpoint_blocks.last_mut() {
                        last.end = end;
                    }
                }
                _ => {
                    self.checkpoint_blocks.pop();
                }
            }
        }
        out
    }

    /// The recorded checkpointed blocks (node ranges, in order).
    pub fn checkpoint_blocks(&self) -> &[Range<usize>] {
        &self.checkpoint_blocks
    }

    /// One `optimization_barrier` over `inputs`: returns one identity of each, which XLA may
    /// not move, fuse or CSE across.
    pub fn optimization_barrier(&mut self, inputs: &[Tensor]) -> Result<Vec<Tensor>> {
        if inputs.is_empty() {
            return Err(Error::Lower {
                reason: "optimization_barrier needs at least one operand".into(),
            });
        }
        let mut typed = Vec::with_capacity(inputs.len());
        for &x in inputs {
            let node = self.node(x)?;
            typed.push((node.shape.clone(), node.dtype));
        }
        Ok(typed
            .into_iter()
            .enumerate()
            .map(|(index, (shape, dtype))| {
                let op = Op::OptimizationBarrier {
                    inputs: inputs.to_vec(),
                    index,
                };
                self.push(op, shape, dtype)
            })
            .collect())
    }
}

/// The backward pass's view of the checkpointed blocks below the loss: which block each node
/// belongs to, and each block's recomputed copy once it is built.
pub(super) struct Recompute {
    blocks: Vec<Range<usize>>,
    block_of: Vec<Option<usize>>,
    /// Per block: the copy of each of its nodes (by offset from the block's start).
    copies: Vec<Option<Vec<Tensor>>>,
}

impl Recompute {
    /// The blocks of `g` that lie wholly before node `end` (the loss's successor).
    pub(super) fn new(g: &Graph, end: usize) -> Recompute {
        let blocks: Vec<Range<usize>> = g
            .checkpoint_blocks
            .iter()
            .filter(|b| b.end <= end)
            .cloned()
            .collect();
        let mut block_of = vec![None; end];
        for (k, b) in blocks.iter().enumerate() {
            for slot in &mut block_of[b.clone()] {
                *slot = Some(k);
            }
        }
        let copies = vec![None; blocks.len()];
        Recompute {
            blocks,
            block_of,
            copies,
        }
    }

    /// The node whose gradient rule the backward pass applies for node `i`: `i` itself, or its
    /// recomputed copy if `i` is in a checkpointed block. The first call for a block builds the
    /// copy and puts the block's incoming cotangents (`grads` of the block's nodes that `needs`)
    /// through the barrier too, so `grads` is updated in place.
    pub(super) fn node_for_rule(
        &mut self,
        g: &mut Graph,
        i: usize,
        needs: &[bool],
        grads: &mut [Option<Tensor>],
    ) -> Result<Tensor> {
        let Some(k) = self.block_of.get(i).copied().flatten() else {
            return Ok(g.handle(i));
        };
        let block = self.blocks[k].clone();
        if self.copies[k].is_none() {
            self.copies[k] = Some(recompute_block(g, block.clone(), needs, grads)?);
        }
        Ok(self.copies[k]
            .as_ref()
            .map_or(g.handle(i), |c| c[i - block.start]))
    }
}

/// Builds the barrier and the copy of `block` (see the module docs); returns the copies.
fn recompute_block(
    g: &mut Graph,
    block: Range<usize>,
    needs: &[bool],
    grads: &mut [Option<Tensor>],
) -> Result<Vec<Tensor>> {
    let mut inputs: Vec<Tensor> = Vec::new();
    for j in block.clone() {
        if matches!(g.nodes[j].op, Op::Parameter { .. }) {
            continue;
        }
        for o in g.nodes[j].op.operands() {
            // Weights go through the barrier too (as in JAX), so nothing the copy computes
            // from them alone is merged with the forward pass either.
            if o.index() < block.start && !inputs.contains(&o) {
                inputs.push(o);
            }
        }
    }
    let incoming: Vec<usize> = block
        .clone()
        .filter(|&j| needs[j] && grads[j].is_some())
        .collect();
    let mut barrier_operands = inputs.clone();
    barrier_operands.extend(incoming.iter().filter_map(|&j| grads[j]));
    let through = g.optimization_barrier(&barrier_operands)?;
    let (fresh_inputs, fresh_grads) = through.split_at(inputs.len());
    for (&j, &ct) in incoming.iter().zip(fresh_grads) {
        grads[j] = Some(ct);
    }
    let mut copies: Vec<Tensor> = Vec::with_capacity(block.len());
    for j in block.clone() {
        let node = g.nodes[j].clone();
        if matches!(node.op, Op::Parameter { .. }) {
            copies.push(g.handle(j));
            continue;
        }
        let op = node.op.map_operands(|o| {
            if o.index() >= block.start {
                copies[o.index() - block.start]
            } else {
                inputs
                    .iter()
                    .position(|&x| x == o)
                    .map_or(o, |p| fresh_inputs[p])
            }
        });
        copies.push(g.push(op, node.shape, node.dtype));
    }
    Ok(copies)
}
