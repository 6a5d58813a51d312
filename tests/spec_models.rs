//! Parameter specifications against the spec (tests/data/models.json, a verbatim copy of the
//! benchmark's models.json), config validation, and the architecture fingerprint.

use xlatrain::models::{describe_mismatch, GptConfig, Init, MlpConfig, ModelConfig};
use xlatrain::Error;

fn spec() -> serde_json::Value {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/models.json"
    ))
    .unwrap();
    serde_json::from_str(&text).unwrap()
}

fn mlp() -> ModelConfig {
    ModelConfig::Mlp(MlpConfig::default())
}

fn gpt() -> ModelConfig {
    ModelConfig::Gpt(GptConfig::default())
}

fn names(config: &ModelConfig) -> Vec<String> {
    config
        .param_specs()
        .unwrap()
        .into_iter()
        .map(|p| p.name)
        .collect()
}

#[test]
fn defaults_are_the_reference_models() {
    let spec = spec();
    let m = MlpConfig::default();
    let layers: Vec<usize> = spec["mlp"]["layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap() as usize)
        .collect();
    assert_eq!(m.layers, layers);
    assert_eq!(m.init_seed, spec["mlp"]["init"]["seed"].as_u64().unwrap());

    let g = GptConfig::default();
    let s = &spec["gpt"];
    let size = |key: &str| s[key].as_u64().unwrap() as usize;
    assert_eq!(g.vocab_size, size("vocab_size"));
    assert_eq!(g.d_model, size("d_model"));
    assert_eq!(g.n_layers, size("n_layers"));
    assert_eq!(g.n_heads, size("n_heads"));
    assert_eq!(g.d_head(), size("d_head"));
    assert_eq!(g.d_ff, size("d_ff"));
    assert_eq!(g.seq_len, size("seq_len"));
    assert_eq!(g.dropout, s["dropout"].as_f64().unwrap());
    assert_eq!(g.init_std, s["init"]["std"].as_f64().unwrap());
    assert_eq!(g.layer_norm_eps, s["layernorm"]["eps"].as_f64().unwrap());
    assert_eq!(g.init_seed, s["init"]["seed"].as_u64().unwrap());
}

#[test]
fn param_counts_equal_expected_param_count() {
    let spec = spec();
    assert_eq!(
        mlp().param_count().unwrap() as u64,
        spec["mlp"]["expected_param_count"].as_u64().unwrap()
    );
    assert_eq!(
        gpt().param_count().unwrap() as u64,
        spec["gpt"]["expected_param_count"].as_u64().unwrap()
    );
    assert_eq!(mlp().param_count().unwrap(), 669_706);
    assert_eq!(gpt().param_count().unwrap(), 3_257_856);
}

#[test]
fn mlp_params_follow_param_order() {
    let order: Vec<String> = spec()["mlp"]["param_order"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    assert_eq!(names(&mlp()), order);
}

#[test]
fn gpt_params_follow_param_order() {
    let spec = spec();
    let template: Vec<&str> = spec["gpt"]["param_order"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    // expand "h.{i}.*" per layer; the "(repeat ...)" entry is the spec's prose
    let per_layer: Vec<&str> = template
        .iter()
        .copied()
        .filter(|n| n.starts_with("h.{i}."))
        .collect();
    let mut expected: Vec<String> = vec!["wte".into(), "wpe".into()];
    for i in 0..4 {
        expected.extend(per_layer.iter().map(|n| n.replace("{i}", &i.to_string())));
    }
    expected.extend(["ln_f.scale".to_string(), "ln_f.bias".to_string()]);
    assert_eq!(names(&gpt()), expected);
}

#[test]
fn gpt_shapes_inits_and_decay_mask_follow_the_spec() {
    let (d, f, v, t) = (256, 1024, 256, 128);
    let bound = 0.02 * 3f64.sqrt();
    let residual = 0.02 / 8f64.sqrt() * 3f64.sqrt();
    for p in gpt().param_specs().unwrap() {
        let leaf = p
            .name
            .strip_prefix("h.")
            .and_then(|rest| rest.split_once('.'))
            .map_or(p.name.as_str(), |(_, leaf)| leaf);
        let (shape, init): (Vec<usize>, Init) = match leaf {
            "wte" => (vec![v, d], Init::Uniform { bound }),
            "wpe" => (vec![t, d], Init::Uniform { bound }),
            "attn.c_attn.w" => (vec![d, 3 * d], Init::Uniform { bound }),
            "attn.c_attn.b" => (vec![3 * d], Init::Zeros),
            "attn.c_proj.w" => (vec![d, d], Init::Uniform { bound: residual }),
            "mlp.c_fc.w" => (vec![d, f], Init::Uniform { bound }),
            "mlp.c_fc.b" => (vec![f], Init::Zeros),
            "mlp.c_proj.w" => (vec![f, d], Init::Uniform { bound: residual }),
            "attn.c_proj.b" | "mlp.c_proj.b" => (vec![d], Init::Zeros),
            l if l.ends_with(".scale") => (vec![d], Init::Ones),
            l if l.ends_with(".bias") => (vec![d], Init::Zeros),
            other => panic!("unexpected parameter {other}"),
        };
        assert_eq!(p.shape, shape, "{}", p.name);
        assert_eq!(p.init, init, "{}", p.name);
        let is_weight = p.name == "wte" || p.name == "wpe" || p.name.ends_with(".w");
        assert_eq!(p.decay, is_weight, "{}: decay mask", p.name);
    }
}

#[test]
fn mlp_init_bounds_biases_and_decay() {
    let specs = mlp().param_specs().unwrap();
    let values = mlp().init_params().unwrap();
    for (p, v) in specs.iter().zip(&values) {
        assert_eq!(v.len(), p.numel());
        if p.name.ends_with(".w") {
            let bound = 1.0 / (p.shape[0] as f32).sqrt();
            assert!(v.iter().all(|x| x.abs() <= bound), "{}", p.name);
            assert!(v.iter().any(|&x| x != 0.0));
            assert!(p.decay);
        } else {
            assert!(v.iter().all(|&x| x == 0.0), "{} is zeros", p.name);
            assert!(!p.decay);
        }
    }
}

#[test]
fn ln_scales_are_ones_and_each_weight_has_its_own_stream() {
    let values = gpt().init_params().unwrap();
    let specs = gpt().param_specs().unwrap();
    let by_name = |n: &str| &values[specs.iter().position(|p| p.name == n).unwrap()];
    assert!(by_name("ln_f.scale").iter().all(|&x| x == 1.0));
    assert!(by_name("h.3.ln_2.bias").iter().all(|&x| x == 0.0));
    // same shape and bound, different tensor_index -> different values
    assert_ne!(
        by_name("h.0.attn.c_attn.w")[..16],
        by_name("h.1.attn.c_attn.w")[..16]
    );
    // a different init seed changes the values
    let reseeded = ModelConfig::Gpt(GptConfig {
        init_seed: 1,
        ..GptConfig::default()
    })
    .init_params()
    .unwrap();
    assert_ne!(reseeded[0][..16], values[0][..16]);
}

fn assert_model_error(config: ModelConfig, field: &str) {
    match config.validate() {
        Err(e @ Error::ModelConfig { .. }) => {
            let Error::ModelConfig { field: f, .. } = &e else {
                unreachable!()
            };
            assert_eq!(f, field, "{e}");
            assert_eq!(e.exit_code(), 2);
            assert!(config.param_specs().is_err());
        }
        other => panic!("expected a model config error on `{field}`, got {other:?}"),
    }
}

#[test]
fn invalid_configs_are_usage_errors_naming_the_field() {
    let g = GptConfig::default;
    assert_model_error(ModelConfig::Gpt(GptConfig { n_heads: 3, ..g() }), "n_heads");
    assert_model_error(ModelConfig::Gpt(GptConfig { d_model: 0, ..g() }), "d_model");
    assert_model_error(ModelConfig::Gpt(GptConfig { seq_len: 0, ..g() }), "seq_len");
    assert_model_error(
        ModelConfig::Gpt(GptConfig {
            dropout: 1.0,
            ..g()
        }),
        "dropout",
    );
    assert_model_error(
        ModelConfig::Gpt(GptConfig {
            init_std: f64::NAN,
            ..g()
        }),
        "init_std",
    );
    assert_model_error(
        ModelConfig::Mlp(MlpConfig {
            layers: vec![784],
            init_seed: 0,
        }),
        "layers",
    );
    assert_model_error(
        ModelConfig::Mlp(MlpConfig {
            layers: vec![784, 0, 10],
            init_seed: 0,
        }),
        "layers",
    );
    assert_model_error(
        ModelConfig::Mlp(MlpConfig {
            layers: vec![usize::MAX, 4, 10],
            init_seed: 0,
        }),
        "fc0.w",
    );
    let message = ModelConfig::Gpt(GptConfig { n_heads: 3, ..g() })
        .validate()
        .unwrap_err()
        .to_string();
    assert!(
        message.contains("d_model (256) must be divisible by n_heads (3)"),
        "{message}"
    );
}

#[test]
fn fingerprint_identifies_the_architecture_only() {
    let base = gpt().architecture().unwrap().fingerprint();
    assert!(base.starts_with("sha256:") && base.len() == 7 + 64);
    assert_eq!(gpt().architecture().unwrap().fingerprint(), base);
    // init seed and dropout do not change which tensors exist or what they compute at eval
    let same = ModelConfig::Gpt(GptConfig {
        init_seed: 99,
        dropout: 0.1,
        ..GptConfig::default()
    });
    assert_eq!(same.architecture().unwrap().fingerprint(), base);
    // n_heads changes no shape but changes the function
    let heads = ModelConfig::Gpt(GptConfig {
        n_heads: 8,
        ..GptConfig::default()
    });
    assert_ne!(heads.architecture().unwrap().fingerprint(), base);
    assert_ne!(mlp().architecture().unwrap().fingerprint(), base);
    let text = gpt().architecture().unwrap().canonical_text();
    assert!(text.contains("param wte f32 [256, 256]\n"), "{text}");
    assert!(text.contains("model gpt\n"));
}

#[test]
fn architecture_survives_json_round_trip() {
    let arch = gpt().architecture().unwrap();
    let json = serde_json::to_string(&arch).unwrap();
    let back: xlatrain::models::Architecture = serde_json::from_str(&json).unwrap();
    assert_eq!(back, arch);
    assert_eq!(back.fingerprint(), arch.fingerprint());
}

#[test]
fn describe_mismatch_says_what_changed() {
    assert!(describe_mismatch(&gpt(), &gpt()).unwrap().is_empty());

    let wider = ModelConfig::Gpt(GptConfig {
        d_ff: 2048,
        ..GptConfig::default()
    });
    let diff = describe_mismatch(&gpt(), &wider).unwrap();
    assert_eq!(diff[0], "`d_ff` was 1024, now 2048");
    assert!(
        diff.contains(
            &"parameter `h.0.mlp.c_fc.w` was f32 [256, 1024], now f32 [256, 2048]".into()
        ),
        "{diff:#?}"
    );

    let deeper = ModelConfig::Gpt(GptConfig {
        n_layers: 6,
        ..GptConfig::default()
    });
    let diff = describe_mismatch(&gpt(), &deeper).unwrap();
    assert_eq!(diff[0], "`n_layers` was 4, now 6");
    assert!(diff.contains(&"parameter `h.4.ln_1.scale` is new".into()));
    // 24 new tensors: 8 listed, the rest summarised
    assert_eq!(
        diff.last().unwrap(),
        "... and 16 more parameter differences"
    );

    let diff = describe_mismatch(&mlp(), &gpt()).unwrap();
    assert_eq!(diff[0], "model was `mlp`, now `gpt`");
    assert!(diff.contains(&"parameter `fc0.w` no longer exists".into()));
}
