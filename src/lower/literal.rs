//! Number and constant spelling for StableHLO text.
//!
//! The plugins' MLIR parser wants a float literal with a dot (`1.0e+00`; Rust's `1e0` is lexed as
//! an integer followed by junk), and takes non-finite values and negative zero only as the hex bit
//! pattern of the element type (`0x7F800000`). Values are printed in the shortest form that
//! round-trips in the target type, so the printed constant is exactly the graph's constant.

use crate::graph::{DType, Literal};

/// Rounds an f32 to the nearest bf16 (ties to even) and returns its 16 bits.
pub fn bf16_bits(x: f32) -> u16 {
    if x.is_nan() {
        return 0x7FC0;
    }
    let bits = x.to_bits();
    let lsb = (bits >> 16) & 1;
    ((bits + 0x7FFF + lsb) >> 16) as u16
}

/// `mantissa e exponent` from Rust's shortest `{:e}`, made MLIR-safe: `1e-3` -> `1.0e-03`.
fn dotted(shortest: &str) -> String {
    let (mantissa, exponent) = shortest.split_once('e').unwrap_or((shortest, "0"));
    let exponent: i32 = exponent.parse().unwrap_or(0);
    let dot = if mantissa.contains('.') { "" } else { ".0" };
    format!("{mantissa}{dot}e{exponent:+03}")
}

/// One float value as the literal of `dtype` (f16, bf16, f32 or f64).
pub fn float_literal(value: f64, dtype: DType) -> String {
    let special = !value.is_finite() || (value == 0.0 && value.is_sign_negative());
    match dtype {
        DType::F64 if special => format!("0x{:016X}", value.to_bits()),
        DType::F64 => dotted(&format!("{value:e}")),
        DType::BF16 => {
            let bits = bf16_bits(value as f32);
            let rounded = f32::from_bits(u32::from(bits) << 16);
            if !rounded.is_finite() || (rounded == 0.0 && rounded.is_sign_negative()) {
                format!("0x{bits:04X}")
            } else {
                dotted(&format!("{rounded:e}"))
            }
        }
        DType::F16 => {
            let half = half::f16::from_f64(value);
            let rounded = f32::from(half);
            if !rounded.is_finite() || (rounded == 0.0 && rounded.is_sign_negative()) {
                format!("0x{:04X}", half.to_bits())
            } else {
                dotted(&format!("{rounded:e}"))
            }
        }
        _ => {
            let v = value as f32;
            if !v.is_finite() || (v == 0.0 && v.is_sign_negative()) {
                format!("0x{:08X}", v.to_bits())
            } else {
                dotted(&format!("{v:e}"))
            }
        }
    }
}

/// Element `i` of a literal, spelled for `dtype`.
fn element(literal: &Literal, i: usize, dtype: DType) -> String {
    match literal {
        Literal::Float(v) => float_literal(v[i], dtype),
        Literal::Int(v) => v[i].to_string(),
        Literal::UInt(v) => v[i].to_string(),
        Literal::Pred(v) => v[i].to_string(),
    }
}

/// The `dense<...>` attribute of a constant of `shape`: a splat when the literal holds one value,
/// otherwise nested brackets in row-major order.
pub fn dense(literal: &Literal, shape: &[usize], dtype: DType) -> String {
    let count: usize = shape.iter().product();
    if literal.len() == 1 || count == 0 || shape.is_empty() {
        let value = if literal.is_empty() {
            "0".to_string()
        } else {
            element(literal, 0, dtype)
        };
        return format!("dense<{value}>");
    }
    let mut out = String::from("dense<");
    nested(literal, shape, dtype, &mut 0, &mut out);
    out.push('>');
    out
}

fn nested(literal: &Literal, shape: &[usize], dtype: DType, next: &mut usize, out: &mut String) {
    out.push('[');
    for k in 0..shape[0] {
        if k > 0 {
            out.push_str(", ");
        }
        if shape.len() == 1 {
            out.push_str(&element(literal, *next, dtype));
            *next += 1;
        } else {
            nested(literal, &shape[1..], dtype, next, out);
        }
    }
    out.push(']');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_always_carry_a_dot_and_a_signed_exponent() {
        assert_eq!(float_literal(1.0, DType::F32), "1.0e+00");
        assert_eq!(float_literal(1e-3, DType::F32), "1.0e-03");
        assert_eq!(float_literal(-2.5, DType::F64), "-2.5e+00");
        assert_eq!(float_literal(0.0, DType::F32), "0.0e+00");
        assert_eq!(float_literal(1e-300, DType::F64), "1.0e-300");
    }

    #[test]
    fn printed_floats_round_trip_in_their_type() {
        for v in [0.1f64, 1.0 / 3.0, 123456.789, -7.25e-8, 0.044715] {
            assert_eq!(float_literal(v, DType::F64).parse::<f64>().unwrap(), v);
            let s = float_literal(v, DType::F32);
            assert_eq!(s.parse::<f32>().unwrap(), v as f32, "{s}");
        }
    }

    #[test]
    fn non_finite_and_negative_zero_use_hex_bit_patterns() {
        assert_eq!(float_literal(f64::INFINITY, DType::F32), "0x7F800000");
        assert_eq!(float_literal(f64::NEG_INFINITY, DType::F32), "0xFF800000");
        assert_eq!(float_literal(-0.0, DType::F32), "0x80000000");
        assert_eq!(
            float_literal(f64::INFINITY, DType::F64),
            "0x7FF0000000000000"
        );
        assert_eq!(float_literal(f64::NEG_INFINITY, DType::BF16), "0xFF80");
        assert_eq!(float_literal(f64::NAN, DType::BF16), "0x7FC0");
        assert_eq!(float_literal(f64::INFINITY, DType::F16), "0x7C00");
        assert_eq!(float_literal(-0.0, DType::F16), "0x8000");
        // 1 + 2^-11 is halfway between f16 neighbours: ties to even, 1.0
        assert_eq!(float_literal(1.0 + 1.0 / 2048.0, DType::F16), "1.0e+00");
    }

    #[test]
    fn bf16_rounds_to_nearest_even() {
        assert_eq!(bf16_bits(1.0), 0x3F80);
        // 1 + 2^-8 is exactly halfway between 1.0 and the next bf16: ties go to even (1.0).
        assert_eq!(bf16_bits(1.0 + 1.0 / 256.0), 0x3F80);
        assert_eq!(
            float_literal(1.0 + 1.0 / 128.0, DType::BF16),
            "1.0078125e+00"
        );
    }

    #[test]
    fn dense_constants_nest_row_major() {
        let lit = Literal::Float(vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
        assert_eq!(
            dense(&lit, &[2, 3], DType::F32),
            "dense<[[1.0e+00, 2.0e+00, 3.0e+00], [4.0e+00, 5.0e+00, 6.0e+00]]>"
        );
        assert_eq!(dense(&Literal::Int(vec![7]), &[4], DType::S32), "dense<7>");
        assert_eq!(
            dense(&Literal::Pred(vec![true]), &[], DType::Pred),
            "dense<true>"
        );
    }
}
