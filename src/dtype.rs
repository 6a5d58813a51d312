//! The element type of a tensor: one enum for the whole crate, used by graph nodes, lowered
//! programs, device buffers, batches and checkpoint files alike, so a tensor's type never has to
//! be translated between layers. Names follow StableHLO/PJRT (`S32`, `Pred`). The spellings of
//! the formats xlatrain reads and writes are methods here (StableHLO text, safetensors headers);
//! the PJRT C API's enum values are mapped in `pjrt::dtype`, next to the FFI.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Element type of a tensor. `Display` and serde use the StableHLO spelling (`f32`, `i32`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DType {
    Pred,
    S8,
    S16,
    S32,
    S64,
    U8,
    U16,
    U32,
    U64,
    F16,
    BF16,
    F32,
    F64,
}

impl DType {
    /// Every element type.
    pub const ALL: [DType; 13] = [
        DType::Pred,
        DType::S8,
        DType::S16,
        DType::S32,
        DType::S64,
        DType::U8,
        DType::U16,
        DType::U32,
        DType::U64,
        DType::F16,
        DType::BF16,
        DType::F32,
        DType::F64,
    ];

    /// Bytes per element in host memory and in files (a `pred` is one byte, 0 or 1).
    pub fn byte_size(self) -> usize {
        match self {
            DType::Pred | DType::S8 | DType::U8 => 1,
            DType::S16 | DType::U16 | DType::F16 | DType::BF16 => 2,
            DType::S32 | DType::U32 | DType::F32 => 4,
            DType::S64 | DType::U64 | DType::F64 => 8,
        }
    }

    pub fn is_float(self) -> bool {
        matches!(self, DType::F16 | DType::BF16 | DType::F32 | DType::F64)
    }

    /// Signed or unsigned integers (not `pred`).
    pub fn is_integer(self) -> bool {
        matches!(
            self,
            DType::S8
                | DType::S16
                | DType::S32
                | DType::S64
                | DType::U8
                | DType::U16
                | DType::U32
                | DType::U64
        )
    }

    /// Types compared and converted as unsigned (`pred` included).
    pub fn is_unsigned(self) -> bool {
        matches!(
            self,
            DType::Pred | DType::U8 | DType::U16 | DType::U32 | DType::U64
        )
    }

    /// The element type as spelled inside a StableHLO `tensor<...>` type.
    pub fn mlir_name(self) -> &'static str {
        match self {
            DType::Pred => "i1",
            DType::S8 => "i8",
            DType::S16 => "i16",
            DType::S32 => "i32",
            DType::S64 => "i64",
            DType::U8 => "ui8",
            DType::U16 => "ui16",
            DType::U32 => "ui32",
            DType::U64 => "ui64",
            DType::F16 => "f16",
            DType::BF16 => "bf16",
            DType::F32 => "f32",
            DType::F64 => "f64",
        }
    }

    /// Parses a StableHLO element type spelling (`f32`, `i1`, `ui64`, ...).
    pub fn from_mlir_name(name: &str) -> Option<DType> {
        DType::ALL.into_iter().find(|ty| ty.mlir_name() == name)
    }

    /// The name used in safetensors headers, e.g. `"BF16"`, `"I32"`, `"BOOL"`.
    pub fn safetensors_name(self) -> &'static str {
        match self {
            DType::Pred => "BOOL",
            DType::S8 => "I8",
            DType::S16 => "I16",
            DType::S32 => "I32",
            DType::S64 => "I64",
            DType::U8 => "U8",
            DType::U16 => "U16",
            DType::U32 => "U32",
            DType::U64 => "U64",
            DType::F16 => "F16",
            DType::BF16 => "BF16",
            DType::F32 => "F32",
            DType::F64 => "F64",
        }
    }

    /// Parses a safetensors dtype name; `None` for names xlatrain does not handle.
    pub fn from_safetensors_name(name: &str) -> Option<DType> {
        DType::ALL
            .into_iter()
            .find(|ty| ty.safetensors_name() == name)
    }
}

impl fmt::Display for DType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.mlir_name())
    }
}

impl Serialize for DType {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.mlir_name())
    }
}

impl<'de> Deserialize<'de> for DType {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<DType, D::Error> {
        let name = String::deserialize(deserializer)?;
        DType::from_mlir_name(&name).ok_or_else(|| {
            serde::de::Error::custom(format!(
                "unknown element type {name:?} (f32, i32, bf16, ...)"
            ))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_spelling_round_trips() {
        for ty in DType::ALL {
            assert_eq!(DType::from_mlir_name(ty.mlir_name()), Some(ty));
            assert_eq!(
                DType::from_safetensors_name(ty.safetensors_name()),
                Some(ty)
            );
            let json = serde_json::to_string(&ty).unwrap();
            assert_eq!(serde_json::from_str::<DType>(&json).unwrap(), ty);
        }
        assert_eq!(DType::from_safetensors_name("F8_E4M3"), None);
        assert!(serde_json::from_str::<DType>("\"float32\"").is_err());
    }

    #[test]
    fn names_and_sizes_are_the_formats_own() {
        // safetensors' names and byte sizes, and the StableHLO spellings, for the types the
        // trainer's state uses
        let cases = [
            (DType::F32, "F32", "f32", 4),
            (DType::BF16, "BF16", "bf16", 2),
            (DType::S32, "I32", "i32", 4),
            (DType::U64, "U64", "ui64", 8),
            (DType::Pred, "BOOL", "i1", 1),
        ];
        for (ty, safetensors, mlir, bytes) in cases {
            assert_eq!(ty.safetensors_name(), safetensors);
            assert_eq!(ty.mlir_name(), mlir);
            assert_eq!(ty.byte_size(), bytes);
        }
        // batch layouts were serialized as "f32"/"i32" before the types were unified
        assert_eq!(serde_json::to_string(&DType::S32).unwrap(), "\"i32\"");
    }
}
