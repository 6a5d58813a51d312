//! The one description of a tensor: name, [`DType`] and row-major shape. The trainer's state
//! layout, the model architecture a checkpoint records, and every tensor of a checkpoint file use
//! it. Sizes are computed with overflow checks because shapes can come from files.

use serde::{Deserialize, Serialize};

use crate::dtype::DType;

/// One named tensor: element type and row-major shape (empty for a scalar).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct TensorSpec {
    pub name: String,
    pub dtype: DType,
    pub shape: Vec<usize>,
}

impl TensorSpec {
    pub fn new(name: impl Into<String>, dtype: DType, shape: impl Into<Vec<usize>>) -> Self {
        TensorSpec {
            name: name.into(),
            dtype,
            shape: shape.into(),
        }
    }

    /// Number of elements (1 for rank 0), `None` on overflow.
    pub fn numel(&self) -> Option<usize> {
        self.shape
            .iter()
            .try_fold(1usize, |acc, &d| acc.checked_mul(d))
    }

    /// Bytes of data, `None` on overflow.
    pub fn byte_len(&self) -> Option<usize> {
        self.numel()?.checked_mul(self.dtype.byte_size())
    }

    /// The shape as PJRT takes it (`int64_t` dimensions).
    pub fn dims(&self) -> Vec<i64> {
        self.shape.iter().map(|&d| d as i64).collect()
    }

    /// `F32[2, 3]`-style description used in error messages (safetensors' dtype names).
    pub fn describe(&self) -> String {
        let dims: Vec<String> = self.shape.iter().map(usize::to_string).collect();
        format!("{}[{}]", self.dtype.safetensors_name(), dims.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_are_checked_and_scalars_have_one_element() {
        let scalar = TensorSpec::new("step", DType::S32, Vec::new());
        assert_eq!((scalar.numel(), scalar.byte_len()), (Some(1), Some(4)));
        let empty = TensorSpec::new("e", DType::F32, [3, 0]);
        assert_eq!(empty.byte_len(), Some(0));
        let huge = TensorSpec::new("h", DType::BF16, [usize::MAX / 2 + 1]);
        assert_eq!(huge.numel(), Some(usize::MAX / 2 + 1));
        assert_eq!(huge.byte_len(), None);
        assert_eq!(
            TensorSpec::new("h", DType::U8, [usize::MAX, 2]).numel(),
            None
        );
        assert_eq!(
            TensorSpec::new("w", DType::F32, [2, 3]).describe(),
            "F32[2, 3]"
        );
    }

    #[test]
    fn serializes_with_the_stablehlo_dtype_spelling() {
        // the architecture fingerprint of checkpoints hashes this form
        let spec = TensorSpec::new("fc0.w", DType::F32, [784, 128]);
        let json = serde_json::to_string(&spec).unwrap();
        assert_eq!(json, r#"{"name":"fc0.w","dtype":"f32","shape":[784,128]}"#);
        assert_eq!(serde_json::from_str::<TensorSpec>(&json).unwrap(), spec);
    }
}
