//! The PJRT side of [`DType`]: its `PJRT_Buffer_Type` enum values, and the host Rust types whose
//! memory is exactly a device element type (uploads and downloads copy them as raw bytes).

use super::ffi::PJRT_Buffer_Type;
use crate::dtype::DType;

impl DType {
    /// The value of `PJRT_Buffer_Type` for this type.
    pub(crate) fn to_pjrt(self) -> PJRT_Buffer_Type {
        match self {
            DType::Pred => 1,
            DType::S8 => 2,
            DType::S16 => 3,
            DType::S32 => 4,
            DType::S64 => 5,
            DType::U8 => 6,
            DType::U16 => 7,
            DType::U32 => 8,
            DType::U64 => 9,
            DType::F16 => 10,
            DType::F32 => 11,
            DType::F64 => 12,
            DType::BF16 => 13,
        }
    }

    /// The type for a `PJRT_Buffer_Type` value, if xlatrain supports it.
    pub(crate) fn from_pjrt(value: PJRT_Buffer_Type) -> Option<DType> {
        DType::ALL.into_iter().find(|ty| ty.to_pjrt() == value)
    }
}

/// A host type whose in-memory representation is exactly the device element type, so a slice of
/// it can be uploaded or downloaded as raw bytes. Sealed: the byte reinterpretation in
/// `Buffer::to_vec` relies on the list below being exactly the plain-data types.
pub trait NativeType: Copy + sealed::Sealed + 'static {
    const TYPE: DType;
}

mod sealed {
    pub trait Sealed {}
}

macro_rules! native {
    ($($rust:ty => $element:ident),* $(,)?) => {
        $(
            impl sealed::Sealed for $rust {}
            impl NativeType for $rust {
                const TYPE: DType = DType::$element;
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
        for ty in DType::ALL {
            assert_eq!(DType::from_pjrt(ty.to_pjrt()), Some(ty));
        }
        assert_eq!(DType::Pred.to_pjrt(), 1);
        assert_eq!(DType::S32.to_pjrt(), 4);
        assert_eq!(DType::U32.to_pjrt(), 8);
        assert_eq!(DType::U64.to_pjrt(), 9);
        assert_eq!(DType::F32.to_pjrt(), 11);
        assert_eq!(DType::BF16.to_pjrt(), 13);
    }
}
