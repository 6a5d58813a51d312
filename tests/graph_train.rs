//! An MLP SGD train step built with the graph API, compiled once, run 50 times on the CPU plugin
//! with its parameters donated and threaded from step to step: the loss must fall on a learnable
//! synthetic task (labels = argmax of a fixed linear map of the inputs).

mod graph_harness;
mod lower_reference;

use graph_harness::{values, Harness};
use lower_reference::{mlp_sgd_step, MlpSizes};
use xlatrain::graph::DType;
use xlatrain::pjrt::{Arg, Buffer};

#[test]
fn compiled_mlp_sgd_step_reduces_the_loss_with_donated_parameters() {
    let h = Harness::new();
    let sizes = MlpSizes {
        batch: 64,
        input: 8,
        hidden: 32,
        classes: 4,
    };
    let program = mlp_sgd_step(sizes, 0.5, DType::F32).unwrap();
    let exe = h.compile(&program.graph, &program.outputs, &program.options);

    let teacher = values(9, sizes.input * sizes.classes, -1.0, 1.0);
    let x = values(10, sizes.batch * sizes.input, -1.0, 1.0);
    let y: Vec<i32> = (0..sizes.batch)
        .map(|b| {
            let score = |c: usize| {
                (0..sizes.input)
                    .map(|i| x[b * sizes.input + i] * teacher[i * sizes.classes + c])
                    .sum::<f64>()
            };
            (0..sizes.classes)
                .max_by(|&p, &q| score(p).total_cmp(&score(q)))
                .unwrap() as i32
        })
        .collect();
    let f32s = |v: Vec<f64>| v.into_iter().map(|z| z as f32).collect::<Vec<f32>>();
    let c = &h.client;
    let (i, hd, k) = (
        sizes.input as i64,
        sizes.hidden as i64,
        sizes.classes as i64,
    );
    let mut params: Vec<Buffer> = vec![
        c.upload(
            &f32s(values(11, sizes.input * sizes.hidden, -0.35, 0.35)),
            &[i, hd],
            0,
        )
        .unwrap(),
        c.upload(&vec![0f32; sizes.hidden], &[hd], 0).unwrap(),
        c.upload(
            &f32s(values(12, sizes.hidden * sizes.classes, -0.18, 0.18)),
            &[hd, k],
            0,
        )
        .unwrap(),
        c.upload(&vec![0f32; sizes.classes], &[k], 0).unwrap(),
    ];
    let xb = c.upload(&f32s(x), &[sizes.batch as i64, i], 0).unwrap();
    let yb = c.upload(&y, &[sizes.batch as i64], 0).unwrap();

    let mut losses = Vec::new();
    for _ in 0..50 {
        let mut args: Vec<Arg> = params.drain(..).map(Arg::Donated).collect();
        args.push(Arg::Borrowed(&xb));
        args.push(Arg::Borrowed(&yb));
        let mut outs = exe.execute(args).unwrap();
        let loss = outs.pop().unwrap().to_vec::<f32>().unwrap()[0];
        losses.push(loss);
        params = outs;
    }
    let (first, last) = (losses[0], losses[49]);
    assert!(losses.iter().all(|l| l.is_finite()), "{losses:?}");
    assert!(
        (first - (sizes.classes as f32).ln()).abs() < 0.3,
        "initial loss {first} should be near ln(4)"
    );
    assert!(
        last < 0.5 * first,
        "loss did not fall enough: {first} -> {last}"
    );
}
