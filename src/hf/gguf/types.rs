//! ggml tensor types: their ids, names, block geometry, and dequantization to f32 of the ones
//! xlatrain reads (F32, F16, BF16, Q8_0, Q4_0, Q4_1); every other type is refused by name.
//!
//! Block formats (32 weights per block, blocks run along the fastest-varying dimension):
//! - `Q8_0`: f16 scale `d`, 32 × i8 `q`; `x = d · q`.
//! - `Q4_0`: f16 scale `d`, 16 bytes of nibbles; weight `j < 16` is the low nibble of byte `j`,
//!   weight `j + 16` its high nibble; `x = d · (nibble − 8)`.
//! - `Q4_1`: f16 scale `d`, f16 minimum `m`, 16 bytes of nibbles as in Q4_0; `x = d · nibble + m`.

use half::{bf16, f16};

/// A ggml tensor type, by its id in the GGUF tensor info.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GgmlType {
    F32,
    F16,
    Q4_0,
    Q4_1,
    Q8_0,
    BF16,
    /// A type xlatrain does not dequantize (its id and, where known, its ggml name).
    Other(u32),
}

/// Weights per quantization block.
const BLOCK: u64 = 32;

impl GgmlType {
    pub fn from_id(id: u32) -> GgmlType {
        match id {
            0 => GgmlType::F32,
            1 => GgmlType::F16,
            2 => GgmlType::Q4_0,
            3 => GgmlType::Q4_1,
            8 => GgmlType::Q8_0,
            30 => GgmlType::BF16,
            other => GgmlType::Other(other),
        }
    }

    /// ggml's name of the type.
    pub fn name(self) -> String {
        let known = match self {
            GgmlType::F32 => "F32",
            GgmlType::F16 => "F16",
            GgmlType::Q4_0 => "Q4_0",
            GgmlType::Q4_1 => "Q4_1",
            GgmlType::Q8_0 => "Q8_0",
            GgmlType::BF16 => "BF16",
            GgmlType::Other(id) => {
                const OTHERS: [(u32, &str); 22] = [
                    (6, "Q5_0"),
                    (7, "Q5_1"),
                    (9, "Q8_1"),
                    (10, "Q2_K"),
                    (11, "Q3_K"),
                    (12, "Q4_K"),
                    (13, "Q5_K"),
                    (14, "Q6_K"),
                    (15, "Q8_K"),
                    (16, "IQ2_XXS"),
                    (17, "IQ2_XS"),
                    (18, "IQ3_XXS"),
                    (19, "IQ1_S"),
                    (20, "IQ4_NL"),
                    (21, "IQ3_S"),
                    (22, "IQ2_S"),
                    (23, "IQ4_XS"),
                    (24, "I8"),
                    (25, "I16"),
                    (26, "I32"),
                    (27, "I64"),
                    (28, "F64"),
                ];
                return OTHERS
                    .iter()
                    .find(|(i, _)| *i == id)
                    .map_or(format!("ggml type {id}"), |(_, n)| (*n).to_string());
            }
        };
        known.to_string()
    }

    /// Bytes per block and weights per block, for the types xlatrain reads.
    fn geometry(self) -> Option<(u64, u64)> {
        Some(match self {
            GgmlType::F32 => (4, 1),
            GgmlType::F16 | GgmlType::BF16 => (2, 1),
            GgmlType::Q8_0 => (34, BLOCK),
            GgmlType::Q4_0 => (18, BLOCK),
            GgmlType::Q4_1 => (20, BLOCK),
            GgmlType::Other(_) => return None,
        })
    }

    pub fn is_supported(self) -> bool {
        self.geometry().is_some()
    }

    /// The byte size of a tensor with rows of `row` elements and `n` elements in all; `None`
    /// when rows are not whole blocks or the size overflows. Unsupported types get size 0
    /// (they are refused by name when read, and their bytes are never touched).
    pub fn byte_size(self, row: u64, n: u64) -> Option<u64> {
        let Some((block_bytes, per_block)) = self.geometry() else {
            return Some(0);
        };
        if !row.is_multiple_of(per_block) {
            return None;
        }
        (n / per_block).checked_mul(block_bytes)
    }

    /// Dequantizes `bytes` (exactly [`GgmlType::byte_size`] long) into `out`; `None` for an
    /// unsupported type or a length that does not match.
    pub fn dequantize(self, bytes: &[u8], out: &mut Vec<f32>) -> Option<()> {
        let (block_bytes, _) = self.geometry()?;
        if !(bytes.len() as u64).is_multiple_of(block_bytes) {
            return None;
        }
        let half = |b: &[u8]| f16::from_le_bytes([b[0], b[1]]).to_f32();
        match self {
            GgmlType::F32 => out.extend(
                bytes
                    .chunks_exact(4)
                    .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])),
            ),
            GgmlType::F16 => out.extend(bytes.chunks_exact(2).map(half)),
            GgmlType::BF16 => out.extend(
                bytes
                    .chunks_exact(2)
                    .map(|b| bf16::from_le_bytes([b[0], b[1]]).to_f32()),
            ),
            GgmlType::Q8_0 => {
                for block in bytes.chunks_exact(34) {
                    let d = half(&block[..2]);
                    out.extend(block[2..].iter().map(|&q| d * f32::from(q as i8)));
                }
            }
            GgmlType::Q4_0 => {
                for block in bytes.chunks_exact(18) {
                    let d = half(&block[..2]);
                    let qs = &block[2..];
                    out.extend(qs.iter().map(|&q| d * (f32::from(q & 0x0f) - 8.0)));
                    out.extend(qs.iter().map(|&q| d * (f32::from(q >> 4) - 8.0)));
                }
            }
            GgmlType::Q4_1 => {
                for block in bytes.chunks_exact(20) {
                    let d = half(&block[..2]);
                    let m = half(&block[2..4]);
                    let qs = &block[4..];
                    out.extend(qs.iter().map(|&q| d * f32::from(q & 0x0f) + m));
                    out.extend(qs.iter().map(|&q| d * f32::from(q >> 4) + m));
                }
            }
            GgmlType::Other(_) => return None,
        }
        Some(())
    }
}
