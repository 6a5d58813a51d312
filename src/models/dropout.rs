//! Dropout on the device: its bits come from the run's PRNG state, which is threaded through a
//! forward pass and returned so the next step draws fresh bits. Without a state (eval,
//! inference) or at rate 0 it is the identity.

use crate::graph::{CompareDir, DType, Graph, Tensor};
use crate::Result;

/// Inverted dropout: keep with probability `1 - rate`, scale kept values by `1 / (1 - rate)`.
pub struct Dropout<'a> {
    pub rate: f64,
    pub rng: Option<&'a mut Tensor>,
}

impl Dropout<'_> {
    /// `x` with each element kept with probability `1 - rate` (and scaled by `1 / (1 - rate)`)
    /// or zeroed.
    pub fn apply(&mut self, g: &mut Graph, x: Tensor) -> Result<Tensor> {
        self.apply_rate(g, x, self.rate)
    }

    /// [`Self::apply`] at another `rate` from the same PRNG state (BERT drops attention
    /// probabilities, hidden states and the classifier input at rates of their own).
    pub fn apply_rate(&mut self, g: &mut Graph, x: Tensor, rate: f64) -> Result<Tensor> {
        let Some(state) = self.rng.as_deref_mut() else {
            return Ok(x);
        };
        if rate <= 0.0 {
            return Ok(x);
        }
        let shape = g.shape(x)?.to_vec();
        let (next, bits) = g.rng_bit_generator(*state, &shape, DType::U32)?;
        *state = next;
        let dtype = g.dtype(x)?;
        let u = g.uniform_from_bits(bits, dtype)?;
        let threshold = g.scalar_like(u, rate)?;
        let keep = g.compare(CompareDir::Ge, u, threshold)?;
        let scaled = g.scale(x, 1.0 / (1.0 - rate))?;
        let zero = g.scalar_like(x, 0.0)?;
        g.select(keep, scaled, zero)
    }
}
