//! Tensor descriptions shared by saving and loading: a tensor's name, [`DType`] (spelled as
//! safetensors spells it, see [`DType::safetensors_name`]) and shape. Sizes are computed with overflow checks because shapes come from files.

use crate::dtype::DType;

/// One tensor as stored in a checkpoint: name, element type and row-major shape.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TensorSpec {
    pub name: String,
    pub dtype: DType,
    pub shape: Vec<u64>,
}

impl TensorSpec {
    pub fn new(name: impl Into<String>, dtype: DType, shape: impl Into<Vec<u64>>) -> Self {
        TensorSpec {
            name: name.into(),
            dtype,
            shape: shape.into(),
        }
    }

    /// Number of elements (1 for rank 0), `None` on overflow.
    pub fn numel(&self) -> Option<u64> {
        self.shape
            .iter()
            .try_fold(1u64, |acc, &d| acc.checked_mul(d))
    }

    /// Bytes of data, `None` on overflow.
    pub fn byte_len(&self) -> Option<u64> {
        self.numel()?.checked_mul(self.dtype.byte_size() as u64)
    }

    /// `F32[2, 3]`-style description used in error messages.
    pub fn describe(&self) -> String {
        let dims: Vec<String> = self.shape.iter().map(u64::to_string).collect();
        format!("{}[{}]", self.dtype.safetensors_name(), dims.join(", "))
    }
}
