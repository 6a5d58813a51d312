//! Every differentiable op's gradient rule, checked on the real CPU plugin against central finite
//! differences in f64. Each test compiles ONE program (loss and gradients) and re-evaluates its
//! loss at perturbed inputs. Inputs exercise broadcasting and non-trivial axes; each op gets its
//! own parameter so a failure names the rule at fault.

mod graph_harness;
mod lower_reference;

use graph_harness::{
    check_gradients, values, weighted_sum, Harness, Host, Tolerance, F64_TOLERANCE,
};
use lower_reference::{block_loss, block_param_shapes, BlockSizes};
use xlatrain::graph::{CompareDir, DType, Graph, Tensor};

const F64: DType = DType::F64;

/// Parameters with the given shapes and value ranges; returns handles and host values.
fn params(g: &mut Graph, specs: &[(&str, &[usize], f64, f64)]) -> (Vec<Tensor>, Vec<Host>) {
    let mut handles = Vec::new();
    let mut hosts = Vec::new();
    for (k, (name, shape, lo, hi)) in specs.iter().enumerate() {
        handles.push(g.parameter(name, shape, F64).unwrap());
        let n: usize = shape.iter().product();
        hosts.push(Host::F64(values(100 + k as u64, n, *lo, *hi)));
    }
    (handles, hosts)
}

/// The sum of weighted sums of `terms` (each with its own weights).
fn total(g: &mut Graph, terms: &[Tensor]) -> Tensor {
    let mut loss = None;
    for (k, &t) in terms.iter().enumerate() {
        let w = weighted_sum(g, t, 7 + k as u64);
        loss = Some(match loss {
            None => w,
            Some(l) => g.add(l, w).unwrap(),
        });
    }
    loss.unwrap()
}

#[test]
fn unary_op_gradients_match_finite_differences() {
    let h = Harness::new();
    let mut g = Graph::new();
    let (p, inputs) = params(
        &mut g,
        &[
            ("neg", &[2, 3], -2.0, 2.0),
            ("exp", &[2, 3], -2.0, 2.0),
            ("log", &[2, 3], 0.5, 3.0),
            ("tanh", &[2, 3], -2.0, 2.0),
            ("sqrt", &[2, 3], 0.5, 3.0),
            ("rsqrt", &[2, 3], 0.5, 3.0),
            ("abs", &[2, 3], 0.2, 2.0),
            ("cosine", &[2, 3], -3.0, 3.0),
            ("sine", &[2, 3], -3.0, 3.0),
        ],
    );
    let terms = vec![
        g.neg(p[0]).unwrap(),
        g.exp(p[1]).unwrap(),
        g.log(p[2]).unwrap(),
        g.tanh(p[3]).unwrap(),
        g.sqrt(p[4]).unwrap(),
        g.rsqrt(p[5]).unwrap(),
        {
            let neg = g.neg(p[6]).unwrap();
            g.abs(neg).unwrap()
        },
        g.cosine(p[7]).unwrap(),
        g.sine(p[8]).unwrap(),
    ];
    let loss = total(&mut g, &terms);
    check_gradients(&h, g, loss, &p, &inputs, F64_TOLERANCE);
}

#[test]
fn binary_op_gradients_reduce_broadcast_operands_back_to_their_shapes() {
    let h = Harness::new();
    let mut g = Graph::new();
    let (p, inputs) = params(
        &mut g,
        &[
            ("add.a", &[2, 3], -1.0, 1.0),
            ("add.b", &[3], -1.0, 1.0),
            ("sub.a", &[2, 1, 3], -1.0, 1.0),
            ("sub.b", &[4, 1], -1.0, 1.0),
            ("mul.a", &[2, 3], -1.0, 1.0),
            ("mul.b", &[2, 1], -1.0, 1.0),
            ("div.a", &[3], -1.0, 1.0),
            ("div.b", &[2, 3], 0.5, 2.0),
            ("pow.a", &[2, 3], 0.5, 2.0),
            ("pow.b", &[3], -1.5, 1.5),
            ("max.a", &[3, 4], -1.0, 1.0),
            ("max.b", &[4], -1.0, 1.0),
            ("min.a", &[], -1.0, 1.0),
            ("min.b", &[3, 2], -1.0, 1.0),
        ],
    );
    let terms = vec![
        g.add(p[0], p[1]).unwrap(),
        g.sub(p[2], p[3]).unwrap(),
        g.mul(p[4], p[5]).unwrap(),
        g.div(p[6], p[7]).unwrap(),
        g.pow(p[8], p[9]).unwrap(),
        g.max(p[10], p[11]).unwrap(),
        g.min(p[12], p[13]).unwrap(),
    ];
    let loss = total(&mut g, &terms);
    check_gradients(&h, g, loss, &p, &inputs, F64_TOLERANCE);
}

#[test]
fn select_and_convert_gradients_route_to_the_chosen_operand() {
    let h = Harness::new();
    let mut g = Graph::new();
    let (p, inputs) = params(
        &mut g,
        &[
            ("sel.a", &[3, 4], -1.0, 1.0),
            ("sel.b", &[4], -1.0, 1.0),
            ("conv", &[5], -1.0, 1.0),
        ],
    );
    let cond = g.compare(CompareDir::Gt, p[0], p[1]).unwrap();
    let sq = g.mul(p[0], p[0]).unwrap();
    let chosen = g.select(cond, sq, p[1]).unwrap();
    // f64 -> f32 -> f64 rounds; the larger finite-difference step keeps that noise small.
    let narrow = g.convert(p[2], DType::F32).unwrap();
    let wide = g.convert(narrow, F64).unwrap();
    let cubed = g.mul(wide, wide).unwrap();
    let cubed = g.mul(cubed, wide).unwrap();
    let loss = total(&mut g, &[chosen, cubed]);
    let tol = Tolerance {
        step: 1e-2,
        rtol: 1e-3,
        atol: 1e-4,
        ..F64_TOLERANCE
    };
    check_gradients(&h, g, loss, &p, &inputs, tol);
}

#[test]
fn shape_op_gradients_match_finite_differences() {
    let h = Harness::new();
    let mut g = Graph::new();
    let (p, inputs) = params(
        &mut g,
        &[
            ("bcast", &[3, 1], -1.0, 1.0),
            ("reshape", &[2, 6], -1.0, 1.0),
            ("transpose", &[2, 3, 4], -1.0, 1.0),
            ("slice", &[5, 6], -1.0, 1.0),
            ("pad", &[2, 3], -1.0, 1.0),
            ("concat.a", &[2, 3], -1.0, 1.0),
            ("concat.b", &[2, 2], -1.0, 1.0),
            ("pad.value", &[], -1.0, 1.0),
        ],
    );
    let pad_value = p[7];
    let terms = [
        g.broadcast_in_dim(p[0], &[2, 3, 4], &[1, 2]).unwrap(),
        g.reshape(p[1], &[3, 2, 2]).unwrap(),
        g.transpose(p[2], &[2, 0, 1]).unwrap(),
        g.slice(p[3], &[1, 0], &[5, 6], &[2, 3]).unwrap(),
        g.pad(p[4], pad_value, &[1, 0], &[0, 2], &[1, 1]).unwrap(),
        g.concatenate(&[p[5], p[6]], 1).unwrap(),
    ];
    // Square each term so the gradient depends on the values that were moved around.
    let squared: Vec<Tensor> = terms.iter().map(|&t| g.mul(t, t).unwrap()).collect();
    let loss = total(&mut g, &squared);
    check_gradients(&h, g, loss, &p, &inputs, F64_TOLERANCE);
}

#[test]
fn dot_general_gradients_with_batch_and_permuted_contracting_axes() {
    let h = Harness::new();
    let mut g = Graph::new();
    let (p, inputs) = params(
        &mut g,
        &[
            ("bmm.lhs", &[2, 3, 4], -1.0, 1.0),
            ("bmm.rhs", &[4, 2, 5], -1.0, 1.0),
            ("two.lhs", &[3, 2, 4, 2], -1.0, 1.0),
            ("two.rhs", &[2, 4, 3], -1.0, 1.0),
            ("mm.a", &[2, 3, 4], -1.0, 1.0),
            ("mm.b", &[4, 2], -1.0, 1.0),
        ],
    );
    let terms = [
        // batch lhs0 with rhs1; contract lhs2 with rhs0: out [2, 3, 5]
        g.dot_general(p[0], p[1], &[0], &[1], &[2], &[0]).unwrap(),
        // two contracting axes given in non-ascending order, batch on the last lhs axis
        g.dot_general(p[2], p[3], &[3], &[0], &[2, 0], &[1, 2])
            .unwrap(),
        g.matmul(p[4], p[5]).unwrap(),
    ];
    let squared: Vec<Tensor> = terms.iter().map(|&t| g.mul(t, t).unwrap()).collect();
    let loss = total(&mut g, &squared);
    check_gradients(&h, g, loss, &p, &inputs, F64_TOLERANCE);
}

#[test]
fn reduce_and_gather_gradients_match_finite_differences() {
    let h = Harness::new();
    let mut g = Graph::new();
    let (p, inputs) = params(
        &mut g,
        &[
            ("sum", &[2, 3, 4], -1.0, 1.0),
            ("max", &[3, 4, 2], -1.0, 1.0),
            ("table", &[5, 3], -1.0, 1.0),
            ("scatter.updates", &[6, 3], -1.0, 1.0),
        ],
    );
    let idx = g.parameter("idx", &[2, 3], DType::S32).unwrap();
    let mut inputs = inputs;
    inputs.push(Host::I32(vec![4, 0, 4, 2, 1, 4])); // row 4 three times, row 3 never
    let sum1 = g.reduce_sum(p[0], &[1]).unwrap();
    let max02 = g.reduce_max(p[1], &[0, 2]).unwrap();
    let rows = g.gather_rows(p[2], idx).unwrap();
    let idx_col = g.reshape(idx, &[6, 1]).unwrap();
    let scattered = g.scatter_add_rows(idx_col, p[3], 5).unwrap();
    let sq: Vec<Tensor> = [sum1, max02, rows, scattered]
        .iter()
        .map(|&t| g.mul(t, t).unwrap())
        .collect();
    let loss = total(&mut g, &sq);
    check_gradients(&h, g, loss, &p, &inputs, F64_TOLERANCE);
}

#[test]
fn neural_network_helper_gradients_match_finite_differences() {
    let h = Harness::new();
    let mut g = Graph::new();
    let (p, inputs) = params(
        &mut g,
        &[
            ("softmax", &[2, 3, 4], -2.0, 2.0),
            ("log_softmax", &[3, 5], -2.0, 2.0),
            ("ln.x", &[3, 6], -2.0, 2.0),
            ("ln.scale", &[6], 0.5, 1.5),
            ("ln.bias", &[6], -0.5, 0.5),
            ("gelu", &[4, 3], -3.0, 3.0),
            ("ce.logits", &[2, 3, 5], -2.0, 2.0),
            ("mask", &[2, 4, 4], -1.0, 1.0),
        ],
    );
    let labels = g.parameter("labels", &[2, 3], DType::S32).unwrap();
    let mut inputs = inputs;
    inputs.push(Host::I32(vec![0, 4, 2, 2, 1, 3]));
    let masked = g.causal_mask(p[7], -1e9).unwrap();
    let masked = g.softmax(masked, 2).unwrap();
    let terms = vec![
        g.softmax(p[0], 1).unwrap(),
        g.log_softmax(p[1], 1).unwrap(),
        g.layer_norm(p[2], p[3], p[4], 1e-5).unwrap(),
        g.gelu_tanh(p[5]).unwrap(),
        g.cross_entropy(p[6], labels).unwrap(),
        masked,
    ];
    let loss = total(&mut g, &terms);
    check_gradients(&h, g, loss, &p, &inputs, F64_TOLERANCE);
}

#[test]
fn transformer_block_loss_gradient_matches_finite_differences() {
    let h = Harness::new();
    let sizes = BlockSizes {
        batch: 2,
        seq: 4,
        d_model: 8,
        heads: 2,
        vocab: 11,
    };
    let mut g = Graph::new();
    let (loss, params) = block_loss(&mut g, sizes, F64).unwrap();
    let mut inputs: Vec<Host> = block_param_shapes(sizes)
        .iter()
        .enumerate()
        .map(|(k, shape)| {
            let n: usize = shape.iter().product();
            let (lo, hi) = if shape.len() == 1 {
                (-0.2, 0.2)
            } else {
                (-0.5, 0.5)
            };
            let mut v = values(1000 + k as u64, n, lo, hi);
            if k == 2 || k == 8 || k == 14 {
                v.iter_mut().for_each(|s| *s += 1.0); // layer-norm scales around 1
            }
            Host::F64(v)
        })
        .collect();
    inputs.push(Host::I32(vec![1, 5, 9, 10, 0, 3, 3, 7]));
    inputs.push(Host::I32(vec![5, 9, 10, 2, 3, 3, 7, 6]));
    let tol = Tolerance {
        max_elements: 16,
        ..F64_TOLERANCE
    };
    check_gradients(&h, g, loss, &params, &inputs, tol);
}
