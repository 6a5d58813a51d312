//! Reading the argument types of a StableHLO program's entry function `main` from its text, so a
//! tool (`xlatrain run-hlo`) can feed inputs of the declared shapes. This is a small scanner for
//! the `func.func @main(%x: tensor<2x3xf32> {attrs}, ...)` header, not an MLIR parser.

use crate::DType;
use crate::{Error, Result};

/// One ranked, static tensor type such as `tensor<2x3xf32>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TensorType {
    pub dims: Vec<i64>,
    pub element_type: DType,
}

impl std::fmt::Display for TensorType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("tensor<")?;
        for dim in &self.dims {
            write!(f, "{dim}x")?;
        }
        write!(f, "{}>", self.element_type)
    }
}

fn bad(message: impl Into<String>) -> Error {
    Error::Usage(message.into())
}

/// Parses `tensor<...>` (the text between the angle brackets).
pub fn parse_tensor_type(inner: &str) -> Result<TensorType> {
    let parts: Vec<&str> = inner.trim().split('x').collect();
    // The element type is the last part; `ui32` etc. contain no `x`, so splitting is safe.
    let (element, dims) = parts
        .split_last()
        .ok_or_else(|| bad(format!("empty tensor type tensor<{inner}>")))?;
    let element_type = DType::from_mlir_name(element.trim()).ok_or_else(|| {
        bad(format!(
            "unsupported element type `{element}` in tensor<{inner}>"
        ))
    })?;
    let dims = dims
        .iter()
        .map(|d| {
            let d = d.trim();
            if d == "?" {
                return Err(bad(format!(
                    "dynamic dimension in tensor<{inner}>: PJRT needs static shapes"
                )));
            }
            d.parse::<i64>()
                .ok()
                .filter(|&n| n >= 0)
                .ok_or_else(|| bad(format!("bad dimension `{d}` in tensor<{inner}>")))
        })
        .collect::<Result<Vec<i64>>>()?;
    Ok(TensorType { dims, element_type })
}

/// The argument types of `func.func @main` (also `public @main`).
pub fn main_argument_types(program: &str) -> Result<Vec<TensorType>> {
    let start = ["func.func @main(", "func.func public @main("]
        .iter()
        .find_map(|header| program.find(header).map(|at| at + header.len()))
        .ok_or_else(|| bad("no `func.func @main(` entry function in the program"))?;
    // Find the parenthesis closing the argument list, skipping nested ones inside attributes.
    let mut depth = 1usize;
    let mut end = None;
    let mut in_string = false;
    for (offset, ch) in program[start..].char_indices() {
        match ch {
            '"' => in_string = !in_string,
            '(' if !in_string => depth += 1,
            ')' if !in_string => {
                depth -= 1;
                if depth == 0 {
                    end = Some(start + offset);
                    break;
                }
            }
            _ => {}
        }
    }
    let end = end.ok_or_else(|| bad("unterminated argument list of @main"))?;
    let arguments = &program[start..end];
    let mut types = Vec::new();
    let mut rest = arguments;
    // Each argument is `%name: type {attributes}`; the type follows the first `:` after a `%`.
    while let Some(at) = rest.find('%') {
        rest = &rest[at + 1..];
        let colon = rest
            .find(':')
            .ok_or_else(|| bad("argument of @main without a type"))?;
        rest = rest[colon + 1..].trim_start();
        let Some(after) = rest.strip_prefix("tensor<") else {
            return Err(bad(format!(
                "argument of @main is not a tensor: `{}`",
                rest.chars().take(40).collect::<String>()
            )));
        };
        let close = after
            .find('>')
            .ok_or_else(|| bad("unterminated tensor type in @main"))?;
        types.push(parse_tensor_type(&after[..close])?);
        rest = &after[close + 1..];
        // Skip an attribute dictionary, which may contain `%`-free strings with `:`.
        if let Some(stripped) = rest.trim_start().strip_prefix('{') {
            let mut depth = 1usize;
            let mut in_string = false;
            let mut consumed = stripped.len();
            for (offset, ch) in stripped.char_indices() {
                match ch {
                    '"' => in_string = !in_string,
                    '{' if !in_string => depth += 1,
                    '}' if !in_string => {
                        depth -= 1;
                        if depth == 0 {
                            consumed = offset + 1;
                            break;
                        }
                    }
                    _ => {}
                }
            }
            rest = &stripped[consumed..];
        }
    }
    Ok(types)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_shapes_types_and_skips_attributes() {
        let program = r#"module {
  func.func @main(%a: tensor<8x4xf32> {mhlo.sharding = "{devices=[2,1]0,1}"}, %b: tensor<ui32>,
                  %c: tensor<3xi1> {tf.aliasing_output = 0 : i32}, %d: tensor<2x2xbf16>) -> tensor<f32> {"#;
        let types = main_argument_types(program).unwrap();
        let shown: Vec<String> = types.iter().map(ToString::to_string).collect();
        assert_eq!(
            shown,
            [
                "tensor<8x4xf32>",
                "tensor<ui32>",
                "tensor<3xi1>",
                "tensor<2x2xbf16>"
            ]
        );
    }

    #[test]
    fn rejects_what_pjrt_cannot_run() {
        assert!(main_argument_types("func.func @other(%a: tensor<2xf32>)").is_err());
        assert!(main_argument_types("func.func @main(%a: tensor<?xf32>)").is_err());
        assert!(main_argument_types("func.func @main(%a: tensor<2xc64>)").is_err());
        assert!(main_argument_types("func.func @main(%a: tensor<2xf32>").is_err());
        assert_eq!(
            main_argument_types("func.func @main() -> ()").unwrap(),
            vec![]
        );
    }
}
