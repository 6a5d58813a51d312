//! Training lowers the loss on both models (small configs, real CPU plugin), and the loop writes
//! its log events into the progress history.

mod train_common;

use train_common::{step_losses, trainer};

fn mean(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len() as f64
}

#[test]
fn mlp_loss_decreases_over_fifty_steps() {
    let mut t = trainer(&[
        "model=\"mlp\"",
        "layers=[784, 64, 10]",
        "learning_rate=0.01",
        "per_device_train_batch_size=64",
        "max_steps=50",
    ]);
    let losses = step_losses(&mut t, 50);
    assert!(losses.iter().all(|l| l.is_finite()), "{losses:?}");
    let (first, last) = (mean(&losses[..5]), mean(&losses[45..]));
    assert!(last < 0.8 * first, "loss {first} -> {last}");
}

#[test]
fn small_gpt_loss_decreases_in_a_few_steps() {
    let mut t = trainer(&[
        "model=\"gpt\"",
        "d_model=64",
        "n_layers=2",
        "n_heads=2",
        "d_ff=128",
        "seq_len=32",
        "per_device_train_batch_size=8",
        "learning_rate=0.003",
        "max_steps=12",
    ]);
    let losses = step_losses(&mut t, 12);
    assert!(losses.iter().all(|l| l.is_finite()), "{losses:?}");
    assert!(
        (losses[0] - 256f64.ln()).abs() < 0.1,
        "initial loss {} should be near ln(256)",
        losses[0]
    );
    assert!(
        mean(&losses[9..]) < losses[0] - 1.0,
        "loss did not fall: {losses:?}"
    );
}

#[test]
fn dropout_draws_from_the_device_key_and_the_key_advances_every_step() {
    let pairs = [
        "model=\"gpt\"",
        "d_model=32",
        "n_layers=1",
        "n_heads=2",
        "d_ff=64",
        "seq_len=16",
        "per_device_train_batch_size=4",
        "dropout=0.5",
        "max_steps=2",
    ];
    let with_seed = |seed: &str| {
        let mut p = pairs.to_vec();
        p.push(seed);
        let mut t = trainer(&p);
        let key0 = t
            .state()
            .unwrap()
            .buffer("rng_key")
            .unwrap()
            .to_vec::<u64>()
            .unwrap();
        let loss = step_losses(&mut t, 1)[0];
        let key1 = t
            .state()
            .unwrap()
            .buffer("rng_key")
            .unwrap()
            .to_vec::<u64>()
            .unwrap();
        assert_eq!(
            key0,
            xlatrain::rng::root_key(if seed.ends_with('1') { 1 } else { 2 })
        );
        assert_ne!(key0, key1, "the key must move on each step");
        loss
    };
    // same init and data, different dropout masks: different losses
    assert_ne!(with_seed("seed=1"), with_seed("seed=2"));
}
