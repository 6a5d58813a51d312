//! Element types of device buffers: the PJRT enum values, byte sizes, StableHLO spellings, and
//! the host Rust types that map onto them one to one.

use super::ffi::PJRT_Buffer_Type;

/// The element type of an array on the device.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ElementType {
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

impl ElementType {
    /// Every supported element type.
    pub const ALL: [ElementType; 13] = [
        ElementType::Pred,
        ElementType::S8,
        ElementType::S16,
        ElementType::S32,
        ElementType::S64,
        ElementType::U8,
        ElementType::U16,
        ElementType::U32,
        ElementType::U64,
        ElementType::F16,
        ElementType::BF16,
        ElementType::F32,
        ElementType::F64,
    ];

    /// Bytes per element in host memory (a `pred` is one byte, 0 or 1).
    pub fn byte_size(self) -> usize {
        match self {
            ElementType::Pred | ElementType::S8 | ElementType::U8 => 1,
            ElementType::S16 | ElementType::U16 | ElementType::F16 | ElementType::BF16 => 2,
            ElementType::S32 | ElementType::U32 | ElementType::F32 => 4,
            ElementType::S64 | ElementType::U64 | ElementType::F64 => 8,
        }
    }

    /// The StableHLO spelling inside `tensor<...>`.
    pub fn mlir_name(self) -> &'static str {
        match self {
            ElementType::Pred => "i1",
            ElementType::S8 => "i8",
            ElementType::S16 => "i16",
            ElementType::S32 => "i32",
            ElementType::S64 => "i64",
            ElementType::U8 => "ui8",
            ElementType::U16 => "ui16",
            ElementType::U32 => "ui32",
            ElementType::U64 => "ui64",
            ElementType::F16 => "f16",
            ElementType::BF16 => "bf16",
            ElementType::F32 => "f32",
            ElementType::F64 => "f64",
        }
    }

    /// Parses a StableHLO element type spelling (`f32`, `i1`, `ui64`, ...).
    pub fn from_mlir_name(name: &str) -> Option<ElementType> {
        ElementType::ALL
            .into_iter()
            .find(|ty| ty.mlir_name() == name)
    }

    /// The value of `PJRT_Buffer_Type` for this type.
    pub(crate) fn to_pjrt(self) -> PJRT_Buffer_Type {
        match self {
            ElementType::Pred => 1,
            ElementType::S8 => 2,
            ElementType::S16 => 3,
            ElementType::S32 => 4,
            ElementType::S64 => 5,
            ElementType::U8 => 6,
            ElementType::U16 => 7,
            ElementType::U32 => 8,
            ElementType::U64 => 9,
            ElementType::F16 => 10,
            ElementType::F32 => 11,
            ElementType::F64 => 12,
            ElementType::BF16 => 13,
        }
    }

    /// The type for a `PJRT_Buffer_Type` value, if xlatrain supports it.
    pub(crate) fn from_pjrt(value: PJRT_Buffer_Type) -> Option<ElementType> {
        ElementType::ALL
            .into_iter()
            .find(|ty| ty.to_pjrt() == value)
    }
}

impl std::fmt::Display for ElementType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.mlir_name())
    }
}

/// A host type whose in-memory representation is exactly the device element type, so a slice of
/// it can be uploaded or downloaded as raw bytes. Sealed: the byte reinterpretation in
/// `Buffer::to_vec` relies on the list below being exactly the plain-data types.
pub trait NativeType: Copy + sealed::Sealed + 'static {
    const TYPE: ElementType;
}

mod sealed {
    pub trait Sealed {}
}

macro_rules! native {
    ($($rust:ty => $element:ident),* $(,)?) => {
        $(
            impl sealed::Sealed for $rust {}
            impl NativeType for $rust {
                const TYPE: ElementType = ElementType::$element;
            }
        )*
    };
}

// `bool` maps to `pred`: one byte holding 0 or 1 on both sides (downloads verify the bytes).
native!(
    f32 => F32,
    f64 => F64,
    i8 => S8,
    i16 => S16,
    i32 => S32,
    i64 => S64,
    u8 => U8,
    u16 => U16,
    u32 => U32,
    u64 => U64,
    bool => Pred,
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pjrt_values_round_trip_and_match_the_header_order() {
        for ty in ElementType::ALL {
            assert_eq!(ElementType::from_pjrt(ty.to_pjrt()), Some(ty));
            assert_eq!(ElementType::from_mlir_name(ty.mlir_name()), Some(ty));
        }
        assert_eq!(ElementType::Pred.to_pjrt(), 1);
        assert_eq!(ElementType::S32.to_pjrt(), 4);
        assert_eq!(ElementType::U32.to_pjrt(), 8);
        assert_eq!(ElementType::U64.to_pjrt(), 9);
        assert_eq!(ElementType::F32.to_pjrt(), 11);
        assert_eq!(ElementType::BF16.to_pjrt(), 13);
    }
}
