//! With the models.json init and data, the first steps' training losses equal the JAX reference
//! (train_jax.py, published in tests/data/jax_reference_losses.json) within 1e-4 relative.

mod train_common;

use train_common::{assert_close, reference, step_losses, trainer};

#[test]
fn mlp_losses_match_the_jax_reference_for_fifty_steps() {
    let reference = reference();
    let mut t = trainer(&["model=\"mlp\"", "max_steps=51"]);
    let losses = step_losses(&mut t, 51);
    let r = &reference["mlp"];
    assert_close(
        losses[0],
        r["loss_step1"].as_f64().unwrap(),
        1e-4,
        "mlp step 1",
    );
    assert_close(
        losses[9],
        r["loss_step10"].as_f64().unwrap(),
        1e-4,
        "mlp step 10",
    );
    assert_close(
        losses[49],
        r["loss_step50"].as_f64().unwrap(),
        1e-4,
        "mlp step 50",
    );
    let curve = r["loss_curve_every10"].as_array().unwrap();
    for (k, point) in curve.iter().take(6).enumerate() {
        let step = 10 * k;
        assert_close(
            losses[step],
            point.as_f64().unwrap(),
            1e-4,
            &format!("mlp step {}", step + 1),
        );
    }
}

#[test]
fn gpt_losses_match_the_jax_reference_for_ten_steps() {
    let reference = reference();
    let mut t = trainer(&["model=\"gpt\"", "max_steps=10"]);
    let losses = step_losses(&mut t, 10);
    let r = &reference["gpt"];
    assert_close(
        losses[0],
        r["loss_step1"].as_f64().unwrap(),
        1e-4,
        "gpt step 1",
    );
    assert_close(
        losses[9],
        r["loss_step10"].as_f64().unwrap(),
        1e-4,
        "gpt step 10",
    );
}
