//! The MLP's forward graph: `x @ W + b` per layer with relu after every layer but the last, as
//! `mlp_forward` in the JAX reference.

use crate::graph::{Graph, Tensor};
use crate::models::MlpConfig;
use crate::{Error, Result};

/// Logits `[B, classes]` of `x[B, inputs]`; `params` in [`MlpConfig::param_specs`] order.
pub fn logits(config: &MlpConfig, g: &mut Graph, params: &[Tensor], x: Tensor) -> Result<Tensor> {
    let layers = config.layers.len().saturating_sub(1);
    if params.len() != 2 * layers {
        return Err(Error::Lower {
            reason: format!(
                "mlp: {} parameters given, {layers} layers need {}",
                params.len(),
                2 * layers
            ),
        });
    }
    let mut h = x;
    for i in 0..layers {
        h = g.matmul(h, params[2 * i])?;
        h = g.add(h, params[2 * i + 1])?;
        if i + 1 < layers {
            h = g.relu(h)?;
        }
    }
    g.set_name(h, "logits")
}
