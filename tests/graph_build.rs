//! The graph builder and the printer without a plugin: shapes and dtypes are checked when a node
//! is built (named errors, no panics), broadcasting inserts explicit nodes, autodiff returns
//! gradients of the right shapes, and the printed text has the spellings the plugins need.

use xlatrain::graph::{grad, CompareDir, DType, Graph, Op};
use xlatrain::lower::{to_stablehlo, LowerOptions};
use xlatrain::Error;

#[test]
fn mismatched_matmul_is_a_shape_error_naming_the_op_and_shapes() {
    let mut g = Graph::new();
    let a = g.parameter("a", &[4, 3], DType::F32).unwrap();
    let b = g.parameter("b", &[5, 2], DType::F32).unwrap();
    let err = g.matmul(a, b).unwrap_err();
    match &err {
        Error::ShapeMismatch { op, shapes, .. } => {
            assert_eq!(*op, "dot_general");
            assert_eq!(shapes, &vec![vec![4, 3], vec![5, 2]]);
        }
        other => panic!("expected ShapeMismatch, got {other:?}"),
    }
    let message = err.to_string();
    assert!(
        message.contains("dot_general") && message.contains("[4, 3]"),
        "{message}"
    );
}

#[test]
fn incompatible_broadcast_is_a_shape_error() {
    let mut g = Graph::new();
    let a = g.parameter("a", &[4, 3], DType::F32).unwrap();
    let b = g.parameter("b", &[4], DType::F32).unwrap();
    assert!(matches!(
        g.add(a, b),
        Err(Error::ShapeMismatch { op: "add", .. })
    ));
}

#[test]
fn mixed_element_types_are_a_dtype_error() {
    let mut g = Graph::new();
    let a = g.parameter("a", &[4], DType::F32).unwrap();
    let b = g.parameter("b", &[4], DType::BF16).unwrap();
    let i = g.parameter("i", &[4], DType::S32).unwrap();
    assert!(matches!(
        g.mul(a, b),
        Err(Error::DTypeMismatch { op: "multiply", .. })
    ));
    assert!(matches!(
        g.exp(i),
        Err(Error::DTypeMismatch {
            op: "exponential",
            ..
        })
    ));
    assert!(matches!(
        g.gather_rows(a, a),
        Err(Error::ShapeMismatch { op: "gather", .. })
    ));
}

#[test]
fn bad_axes_and_bounds_are_invalid_arguments() {
    let mut g = Graph::new();
    let x = g.parameter("x", &[2, 3, 4], DType::F32).unwrap();
    assert!(matches!(
        g.transpose(x, &[0, 0, 1]),
        Err(Error::InvalidOpArgument {
            op: "transpose",
            ..
        })
    ));
    assert!(matches!(
        g.reduce_sum(x, &[3]),
        Err(Error::InvalidOpArgument { op: "reduce", .. })
    ));
    assert!(matches!(
        g.slice(x, &[0, 0, 0], &[2, 4, 4], &[1, 1, 1]),
        Err(Error::InvalidOpArgument { op: "slice", .. })
    ));
    assert!(matches!(
        g.reshape(x, &[5, 5]),
        Err(Error::ShapeMismatch { op: "reshape", .. })
    ));
    assert!(matches!(
        g.concatenate(&[], 0),
        Err(Error::ShapeMismatch {
            op: "concatenate",
            ..
        })
    ));
}

#[test]
fn a_handle_from_another_graph_is_rejected() {
    let mut big = Graph::new();
    for i in 0..5 {
        big.parameter(&format!("p{i}"), &[1], DType::F32).unwrap();
    }
    let foreign = big.parameters()[4];
    let mut small = Graph::new();
    small.parameter("x", &[1], DType::F32).unwrap();
    assert!(matches!(
        small.exp(foreign),
        Err(Error::ForeignTensor { index: 4, len: 1 })
    ));
    // Even an index that exists in the other graph is refused.
    let first = big.parameters()[0];
    assert!(matches!(
        small.exp(first),
        Err(Error::ForeignTensor { index: 0, .. })
    ));
    // A clone shares the handles.
    let copy = big.clone();
    assert_eq!(copy.shape(foreign).unwrap(), &[1]);
}

#[test]
fn binary_ops_broadcast_numpy_style_with_explicit_nodes() {
    let mut g = Graph::new();
    let a = g.parameter("a", &[2, 1, 4], DType::F32).unwrap();
    let b = g.parameter("b", &[3, 1], DType::F32).unwrap();
    let c = g.add(a, b).unwrap();
    assert_eq!(g.shape(c).unwrap(), &[2, 3, 4]);
    let Op::Binary(_, x, y) = g.node(c).unwrap().op.clone() else {
        panic!("not binary")
    };
    for (operand, dims) in [(x, vec![0, 1, 2]), (y, vec![1, 2])] {
        match &g.node(operand).unwrap().op {
            Op::BroadcastInDim { dims: d, .. } => assert_eq!(d, &dims),
            other => panic!("expected broadcast_in_dim, got {other:?}"),
        }
    }
}

#[test]
fn dot_general_orders_batch_then_lhs_free_then_rhs_free_axes() {
    let mut g = Graph::new();
    let q = g.parameter("q", &[2, 5, 3, 7], DType::F32).unwrap();
    let k = g.parameter("k", &[2, 7, 6, 3], DType::F32).unwrap();
    let s = g.dot_general(q, k, &[0, 2], &[0, 3], &[3], &[1]).unwrap();
    assert_eq!(g.shape(s).unwrap(), &[2, 3, 5, 6]);
}

#[test]
fn gradients_have_their_parameters_shapes_and_unreachable_ones_are_zero() {
    let mut g = Graph::new();
    let x = g.parameter("x", &[3, 4], DType::F32).unwrap();
    let b = g.parameter("b", &[4], DType::F32).unwrap();
    let unused = g.parameter("unused", &[2, 2], DType::F32).unwrap();
    let labels = g.parameter("labels", &[3], DType::S32).unwrap();
    let logits = g.add(x, b).unwrap();
    let loss = g.cross_entropy(logits, labels).unwrap();
    let grads = grad(&mut g, loss, &[x, b, unused, labels]).unwrap();
    assert_eq!(g.shape(grads[0]).unwrap(), &[3, 4]);
    assert_eq!(g.shape(grads[1]).unwrap(), &[4]);
    assert!(matches!(g.node(grads[2]).unwrap().op, Op::Constant(_)));
    assert!(
        matches!(g.node(grads[3]).unwrap().op, Op::Constant(_)),
        "integer inputs are constants"
    );
}

#[test]
fn grad_of_an_integer_loss_is_an_autodiff_error() {
    let mut g = Graph::new();
    let i = g.parameter("i", &[3], DType::S32).unwrap();
    let s = g.reduce_sum(i, &[0]).unwrap();
    assert!(matches!(grad(&mut g, s, &[i]), Err(Error::Autodiff { .. })));
}

#[test]
fn printed_program_names_parameters_and_marks_donations() {
    let mut g = Graph::new();
    let w = g.parameter("fc0.w", &[2, 2], DType::F32).unwrap();
    let lr = g.parameter("lr", &[], DType::F32).unwrap();
    let step = g.mul(w, lr).unwrap();
    let updated = g.sub(w, step).unwrap();
    let text = to_stablehlo(&g, &[updated], &LowerOptions::default().donate(0, 0)).unwrap();
    assert!(text.contains("func.func public @main(%fc0.w: tensor<2x2xf32> {tf.aliasing_output = 0 : i32}, %lr: tensor<f32>)"), "{text}");
    assert!(text.contains("-> (tensor<2x2xf32>)"), "{text}");
    assert!(
        text.contains("stablehlo.broadcast_in_dim %lr, dims = []"),
        "{text}"
    );
}

#[test]
fn donation_of_mismatched_types_or_out_of_range_is_rejected() {
    let mut g = Graph::new();
    let w = g.parameter("w", &[2, 2], DType::F32).unwrap();
    let s = g.reduce_sum(w, &[0, 1]).unwrap();
    assert!(matches!(
        to_stablehlo(&g, &[s], &LowerOptions::default().donate(0, 0)),
        Err(Error::Lower { .. })
    ));
    assert!(matches!(
        to_stablehlo(&g, &[w], &LowerOptions::default().donate(1, 0)),
        Err(Error::Lower { .. })
    ));
    assert!(matches!(
        to_stablehlo(&g, &[], &LowerOptions::default()),
        Err(Error::Lower { .. })
    ));
}

#[test]
fn constants_print_with_dotted_exponents_and_hex_for_infinities() {
    let mut g = Graph::new();
    let x = g.parameter("x", &[3], DType::F32).unwrap();
    let c = g
        .constant_f64(&[1e-3, f64::NEG_INFINITY, -0.0], &[3], DType::F32)
        .unwrap();
    let y = g.add(x, c).unwrap();
    let text = to_stablehlo(&g, &[y], &LowerOptions::default()).unwrap();
    assert!(
        text.contains("dense<[1.0e-03, 0xFF800000, 0x80000000]> : tensor<3xf32>"),
        "{text}"
    );
    assert!(
        !text.contains("1e"),
        "Rust-style exponents are rejected by the parser: {text}"
    );
}

#[test]
fn rng_bit_generator_prints_one_op_with_two_results() {
    let mut g = Graph::new();
    let state = g.parameter("rng", &[2], DType::U64).unwrap();
    let (next, bits) = g.rng_bit_generator(state, &[4, 2], DType::U32).unwrap();
    let u = g.uniform_from_bits(bits, DType::F32).unwrap();
    let text = to_stablehlo(&g, &[next, u], &LowerOptions::default()).unwrap();
    assert!(text.contains(":2 = stablehlo.rng_bit_generator %rng, algorithm = THREE_FRY : (tensor<2xui64>) -> (tensor<2xui64>, tensor<4x2xui32>)"), "{text}");
    assert!(text.contains("return %0#0, "), "{text}");
}

#[test]
fn only_nodes_the_outputs_need_are_printed_and_names_stay_unique() {
    let mut g = Graph::new();
    let x = g.parameter("x", &[2], DType::F32).unwrap();
    let dead = g.exp(x).unwrap();
    g.set_name(dead, "dead").unwrap();
    let a = g.neg(x).unwrap();
    g.set_name(a, "x").unwrap();
    let b = g.abs(a).unwrap();
    let text = to_stablehlo(&g, &[b], &LowerOptions::default()).unwrap();
    assert!(
        !text.contains("dead") && !text.contains("exponential"),
        "{text}"
    );
    assert!(text.contains("%x_1 = stablehlo.negate %x"), "{text}");
}

#[test]
fn compare_types_follow_the_operand_type() {
    let mut g = Graph::new();
    let u = g.parameter("u", &[2], DType::U32).unwrap();
    let s = g.parameter("s", &[2], DType::S32).unwrap();
    let cu = g.compare(CompareDir::Lt, u, u).unwrap();
    let cs = g.compare(CompareDir::Ge, s, s).unwrap();
    let text = to_stablehlo(&g, &[cu, cs], &LowerOptions::default()).unwrap();
    assert!(
        text.contains("stablehlo.compare LT, %u, %u, UNSIGNED"),
        "{text}"
    );
    assert!(
        text.contains("stablehlo.compare GE, %s, %s, SIGNED"),
        "{text}"
    );
}

#[test]
fn parameters_keep_their_names_and_creation_order() {
    let mut g = Graph::new();
    let w = g.parameter("fc0.w", &[2, 2], DType::F32).unwrap();
    let b = g.parameter("fc0.b", &[2], DType::F32).unwrap();
    let y = g.add(w, b).unwrap();
    assert_eq!(g.parameters(), &[w, b]);
    assert_eq!(g.parameter_name(b).unwrap(), Some("fc0.b"));
    assert_eq!(g.parameter_name(y).unwrap(), None);
    let total = g.sum_all(y).unwrap();
    assert_eq!(g.shape(total).unwrap(), &[] as &[usize]);
}

#[test]
fn stop_gradient_blocks_the_gradient() {
    let mut g = Graph::new();
    let x = g.parameter("x", &[3], DType::F32).unwrap();
    let frozen = g.stop_gradient(x).unwrap();
    let y = g.mul(frozen, x).unwrap();
    let loss = g.sum_all(y).unwrap();
    let grads = grad(&mut g, loss, &[x]).unwrap();
    // d/dx sum(c * x) with c = x frozen is c itself: the multiply by the seed, not 2x.
    let Op::Binary(_, lhs, rhs) = g.node(grads[0]).unwrap().op.clone() else {
        panic!("expected a product")
    };
    assert!(lhs == frozen || rhs == frozen || lhs == x || rhs == x);
    let text = to_stablehlo(&g, &grads, &LowerOptions::default()).unwrap();
    assert_eq!(text.matches("stablehlo.multiply").count(), 1, "{text}");
}

#[test]
fn relu_gradient_at_zero_is_zero_like_jax() {
    let mut g = Graph::new();
    let x = g.parameter("x", &[2], DType::F32).unwrap();
    let y = g.relu(x).unwrap();
    let loss = g.sum_all(y).unwrap();
    let grads = grad(&mut g, loss, &[x]).unwrap();
    // select(x > 0, seed, 0): the gradient is a select on the same predicate, no 0.5 tie share.
    match &g.node(grads[0]).unwrap().op {
        Op::Select { .. } => {}
        other => panic!("expected the select rule, got {other:?}"),
    }
}
