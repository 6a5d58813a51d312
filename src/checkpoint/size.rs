//! Human byte sizes for `--max-shard-size` and friends: `"5GB"` (decimal, as HF Transformers),
//! `"2GiB"` (binary), `"1.5GB"`, `"4096"` (bytes). Parsed exactly in integers, never via floats,
//! so `"1.5KiB"` is 1536 bytes and not 1535.

use crate::{Error, Result};

const UNITS: [(&str, u128); 9] = [
    ("KiB", 1 << 10),
    ("MiB", 1 << 20),
    ("GiB", 1 << 30),
    ("TiB", 1 << 40),
    ("KB", 1_000),
    ("MB", 1_000_000),
    ("GB", 1_000_000_000),
    ("TB", 1_000_000_000_000),
    ("B", 1),
];

/// Parses a positive byte size such as `"5GB"`, `"500MB"`, `"1.5GB"`, `"100KiB"` or `"4096"`.
/// Unit prefixes are case-insensitive (`"5gb"`, `"5kib"`) but the final `B` must be upper case:
/// a lower-case `b` means bits in some tools, so it is rejected rather than guessed.
pub fn parse_size(text: &str) -> Result<u64> {
    let fail = |reason: &str| Error::InvalidSize {
        text: text.to_string(),
        reason: reason.to_string(),
    };
    let trimmed = text.trim();
    let split = trimmed
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(trimmed.len());
    let (number, unit) = trimmed.split_at(split);
    let unit = unit.trim_start();
    let multiplier = if unit.is_empty() {
        1
    } else {
        if unit.ends_with('b') {
            return Err(fail(
                "lower-case 'b' (bits) is ambiguous; write B for bytes",
            ));
        }
        UNITS
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(unit))
            .map(|&(_, m)| m)
            .ok_or_else(|| fail("unknown unit"))?
    };
    let (whole, fraction) = match number.split_once('.') {
        Some((w, f)) => (w, f),
        None => (number, ""),
    };
    if whole.is_empty() && fraction.is_empty() {
        return Err(fail("missing number"));
    }
    if fraction.contains('.') || fraction.len() > 18 || whole.len() > 20 {
        return Err(fail("malformed number"));
    }
    let digits = |s: &str| -> Result<u128> {
        if s.is_empty() {
            Ok(0)
        } else {
            s.parse::<u128>().map_err(|_| fail("malformed number"))
        }
    };
    let scale = 10u128.pow(fraction.len() as u32);
    let scaled = digits(whole)?
        .checked_mul(scale)
        .and_then(|w| w.checked_add(digits(fraction).ok()?))
        .and_then(|v| v.checked_mul(multiplier))
        .ok_or_else(|| fail("too large"))?;
    if scaled % scale != 0 {
        return Err(fail("not a whole number of bytes"));
    }
    let bytes = u64::try_from(scaled / scale).map_err(|_| fail("too large"))?;
    if bytes == 0 {
        return Err(fail("must be positive"));
    }
    Ok(bytes)
}
