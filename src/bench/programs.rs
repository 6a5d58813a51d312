//! Step programs the micro-benchmarks (`cargo bench`) compile and run without the trainer: an MLP
//! forward + cross-entropy + reverse-mode gradient + plain SGD update, built with the graph
//! builder and lowered to one StableHLO program whose parameters are donated into the updated
//! parameters (the shape of a real train step, minus the optimizer state).

use crate::graph::{grad, DType, Graph, Tensor};
use crate::lower::{to_stablehlo, LowerOptions};
use crate::models::{MlpConfig, ModelConfig};
use crate::{Error, Result};

/// A lowered step program and the shapes of its arguments.
#[derive(Debug, Clone)]
pub struct StepProgram {
    pub text: String,
    /// Parameter shapes, in argument order (arguments `0..params.len()`).
    pub params: Vec<Vec<usize>>,
    /// Batch input `x: f32[batch, in]` then labels `y: s32[batch]` follow the parameters.
    pub batch: usize,
    pub input_dim: usize,
}

/// The SGD step of the reference MLP (`layers`, relu between layers) on a batch of `batch`:
/// outputs `(loss, new params...)`, each parameter donated into its update.
pub fn mlp_sgd_step(config: &MlpConfig, batch: usize, learning_rate: f64) -> Result<StepProgram> {
    let specs = ModelConfig::Mlp(config.clone()).param_specs()?;
    let mut g = Graph::new();
    let params: Vec<Tensor> = specs
        .iter()
        .map(|s| g.parameter(&s.name, &s.shape, DType::F32))
        .collect::<Result<_>>()?;
    let input_dim = config.layers.first().copied().unwrap_or(0);
    let x = g.parameter("x", &[batch, input_dim], DType::F32)?;
    let y = g.parameter("y", &[batch], DType::S32)?;
    let layer_count = config.layers.len().saturating_sub(1);
    if params.len() != 2 * layer_count {
        return Err(Error::Lower {
            reason: format!(
                "mlp step: {} parameters for {layer_count} layers (expected weight and bias each)",
                params.len()
            ),
        });
    }
    let mut h = x;
    for layer in 0..layer_count {
        let (w, b) = (params[2 * layer], params[2 * layer + 1]);
        let z = g.matmul(h, w)?;
        let z = g.add(z, b)?;
        h = if layer + 1 < layer_count {
            g.relu(z)?
        } else {
            z
        };
    }
    let loss = g.cross_entropy(h, y)?;
    let grads = grad(&mut g, loss, &params)?;
    let mut outputs = vec![loss];
    for (&p, &dp) in params.iter().zip(&grads) {
        let step = g.scale(dp, learning_rate)?;
        outputs.push(g.sub(p, step)?);
    }
    let mut options = LowerOptions::default();
    for index in 0..params.len() {
        options = options.donate(index, index + 1);
    }
    Ok(StepProgram {
        text: to_stablehlo(&g, &outputs, &options)?,
        params: specs.iter().map(|s| s.shape.clone()).collect(),
        batch,
        input_dim,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_mlp_step_donates_every_parameter_into_its_update() {
        let config = MlpConfig {
            layers: vec![8, 4, 3],
            init_seed: 1,
        };
        let step = mlp_sgd_step(&config, 5, 0.1).unwrap();
        assert_eq!(step.params, vec![vec![8, 4], vec![4], vec![4, 3], vec![3]]);
        assert_eq!(step.text.matches("tf.aliasing_output").count(), 4);
        assert!(step.text.contains("tensor<5x8xf32>"));
    }
}
