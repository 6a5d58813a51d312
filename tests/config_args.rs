//! Training arguments: per-model defaults equal the reference settings of models.json
//! (tests/data/models.json, a verbatim copy), TOML files and overrides resolve in layers, and every
//! bad key, type or value is a usage error that says which key and why.

use std::path::{Path, PathBuf};

use xlatrain::config::{
    parse_size, EvalStrategy, LrSchedulerType, ModelKind, OptimizerKind, ResumeFrom, SaveStrategy,
    TrainingArgs, TrainingArgsPatch,
};
use xlatrain::data::{DataSpec, TokenFormat};
use xlatrain::models::ModelConfig;
use xlatrain::Error;

fn spec() -> serde_json::Value {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/models.json"
    ))
    .unwrap();
    serde_json::from_str(&text).unwrap()
}

fn parse(toml: &str) -> xlatrain::Result<TrainingArgs> {
    TrainingArgs::resolve(TrainingArgsPatch::from_toml_str(
        toml,
        Path::new("test.toml"),
    )?)
}

#[test]
fn defaults_are_the_reference_training_settings() {
    let spec = spec();
    for (kind, name) in [(ModelKind::Mlp, "mlp"), (ModelKind::Gpt, "gpt")] {
        let args = TrainingArgs::defaults(kind);
        args.validate().unwrap();
        let model = &spec[name];
        let opt = &model["optimizer"];
        assert_eq!(args.learning_rate, opt["lr"].as_f64().unwrap(), "{name}");
        assert_eq!(args.adam_beta1, opt["b1"].as_f64().unwrap(), "{name}");
        assert_eq!(args.adam_beta2, opt["b2"].as_f64().unwrap(), "{name}");
        assert_eq!(args.adam_epsilon, opt["eps"].as_f64().unwrap(), "{name}");
        assert_eq!(
            args.weight_decay,
            opt["weight_decay"].as_f64().unwrap(),
            "{name}"
        );
        assert_eq!(
            args.grad_clip_norm(),
            opt["grad_clip_global_norm"].as_f64(),
            "{name}"
        );
        assert_eq!(opt["lr_schedule"], "constant");
        assert_eq!(args.lr_scheduler_type, LrSchedulerType::Constant);
        assert_eq!(args.optimizer, OptimizerKind::AdamW);
        assert_eq!(
            args.per_device_train_batch_size as u64,
            model["batch_size"].as_u64().unwrap()
        );
        assert_eq!(args.max_steps, model["train_steps"].as_u64(), "{name}");
        assert_eq!(args.gradient_accumulation_steps, 1);
        // the model config is the reference model
        let config = args.model_config().unwrap();
        assert_eq!(
            config.param_count().unwrap() as u64,
            model["expected_param_count"].as_u64().unwrap()
        );
        assert_eq!(config.init_seed(), model["init"]["seed"].as_u64().unwrap());
    }
    // and the data is the reference synthetic data
    let DataSpec::MlpSynthetic { seed, .. } =
        TrainingArgs::defaults(ModelKind::Mlp).data_spec().unwrap()
    else {
        panic!("mlp trains on synthetic data")
    };
    assert_eq!(seed, spec["mlp"]["data"]["seed"].as_u64().unwrap());
    let DataSpec::GptSynthetic { seed, n_words, .. } =
        TrainingArgs::defaults(ModelKind::Gpt).data_spec().unwrap()
    else {
        panic!("gpt trains on the synthetic corpus")
    };
    assert_eq!(seed, spec["gpt"]["data"]["seed"].as_u64().unwrap());
    assert_eq!(
        n_words as u64,
        spec["gpt"]["data"]["n_words"].as_u64().unwrap()
    );
}

#[test]
fn an_empty_file_means_the_mlp_reference_run() {
    assert_eq!(parse("").unwrap(), TrainingArgs::defaults(ModelKind::Mlp));
    assert_eq!(
        parse("model = \"gpt\"").unwrap(),
        TrainingArgs::defaults(ModelKind::Gpt)
    );
}

#[test]
fn a_full_config_file_is_read() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("corpus.bin");
    let toml = format!(
        r#"
        model = "gpt"
        output_dir = "runs/tiny"
        max_steps = 1000
        per_device_train_batch_size = 8
        gradient_accumulation_steps = 4
        learning_rate = 3e-4
        weight_decay = 0.01
        adam_beta2 = 0.98
        max_grad_norm = 0.5
        lr_scheduler_type = "cosine"
        warmup_steps = 100
        eval_strategy = "steps"
        eval_steps = 50
        save_strategy = "steps"
        save_steps = 200
        save_total_limit = 3
        metric_for_best_model = "eval_loss"
        load_best_model_at_end = true
        resume_from_checkpoint = true
        max_shard_size = "500MiB"
        async_save = false
        save_interval_minutes = 15
        on_save = "rsync -a $XLATRAIN_CHECKPOINT backup:"
        device = "cuda"
        data = "{}"
        data_format = "u16"
        eval_fraction = 0.02
        vocab_size = 50257
        d_model = 384
        n_heads = 6
        seq_len = 256
        dropout = 0.1
        seed = 3
        "#,
        data.display()
    );
    let args = parse(&toml).unwrap();
    assert_eq!(args.output_dir, PathBuf::from("runs/tiny"));
    assert_eq!(args.max_steps, Some(1000));
    assert_eq!(args.gradient_accumulation_steps, 4);
    assert_eq!(args.learning_rate, 3e-4);
    assert_eq!(args.adam_beta1, 0.9, "unset keys keep the gpt default");
    assert_eq!(args.adam_beta2, 0.98);
    assert_eq!(args.grad_clip_norm(), Some(0.5));
    assert_eq!(args.lr_scheduler_type, LrSchedulerType::Cosine);
    assert_eq!(args.eval_strategy, EvalStrategy::Steps);
    assert_eq!(args.save_strategy, SaveStrategy::Steps);
    assert_eq!(args.save_total_limit, Some(3));
    assert_eq!(args.best_metric(), Some(("eval_loss", false)));
    assert_eq!(args.resume_from_checkpoint, Some(ResumeFrom::Latest(true)));
    assert_eq!(args.max_shard_size_bytes().unwrap(), 500 * 1024 * 1024);
    assert_eq!(args.save_interval_minutes, Some(15.0));
    assert!(!args.async_save);

    let ModelConfig::Gpt(model) = args.model_config().unwrap() else {
        panic!("gpt")
    };
    assert_eq!(
        (
            model.vocab_size,
            model.d_model,
            model.n_heads,
            model.seq_len
        ),
        (50257, 384, 6, 256)
    );
    assert_eq!(model.n_layers, 4, "unset sizes keep the reference value");
    assert_eq!(model.dropout, 0.1);

    let DataSpec::TokenFile(file) = args.data_spec().unwrap() else {
        panic!("a data file")
    };
    assert_eq!(file.path, data);
    assert_eq!(file.format, TokenFormat::U16);
    assert_eq!(
        (file.batch_size, file.seq_len, file.vocab_size),
        (8, 256, 50257)
    );
    assert_eq!(file.seed, 3, "data order follows the seed");
    assert_eq!(file.eval_fraction, 0.02);
}

#[test]
fn from_toml_file_reads_a_file_and_names_a_missing_one() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("train.toml");
    std::fs::write(&path, "model = \"gpt\"\nmax_steps = 7\n").unwrap();
    let args = TrainingArgs::from_toml_file(&path).unwrap();
    assert_eq!((args.model, args.max_steps), (ModelKind::Gpt, Some(7)));

    let missing = dir.path().join("nope.toml");
    let err = TrainingArgs::from_toml_file(&missing).unwrap_err();
    assert!(matches!(err, Error::ConfigRead { .. }), "{err:?}");
    assert_eq!(err.exit_code(), 2);
    assert!(err.to_string().contains("nope.toml"), "{err}");
}

fn parse_error(toml: &str) -> String {
    let err = parse(toml).unwrap_err();
    assert!(matches!(err, Error::ConfigParse { .. }), "{err:?}");
    assert_eq!(err.exit_code(), 2);
    let message = err.to_string();
    assert!(message.contains("test.toml"), "names the file: {message}");
    message
}

#[test]
fn unknown_keys_bad_types_and_bad_choices_are_parse_errors() {
    let message = parse_error("learning_rat = 0.1");
    assert!(
        message.contains("unknown field `learning_rat`"),
        "{message}"
    );

    let message = parse_error("max_steps = \"ten\"");
    assert!(message.contains("invalid type"), "{message}");
    assert!(
        message.contains("max_steps"),
        "points at the key: {message}"
    );

    let message = parse_error("lr_scheduler_type = \"exponential\"");
    assert!(
        message.contains("unknown variant `exponential`"),
        "{message}"
    );
    assert!(
        message.contains("cosine"),
        "lists what is allowed: {message}"
    );

    let message = parse_error("save_strategy = \"sometimes\"");
    assert!(message.contains("`best`"), "{message}");

    let message = parse_error("per_device_train_batch_size = -1");
    assert!(message.contains("per_device_train_batch_size"), "{message}");

    let message = parse_error("max_steps = 10\nmax_steps = 11");
    assert!(message.contains("duplicate"), "{message}");
}

/// Expects a validation error on `key` whose message contains `words`.
fn invalid(toml: &str, key: &str, words: &str) {
    let err = parse(toml).unwrap_err();
    assert_eq!(err.exit_code(), 2, "{err}");
    let message = err.to_string();
    match &err {
        Error::InvalidArgument { key: k, .. } => assert_eq!(k, key, "{message}"),
        Error::ModelConfig { field, .. } => assert_eq!(field, key, "{message}"),
        other => panic!("expected an invalid-argument error on `{key}`, got {other:?}"),
    }
    assert!(message.contains(words), "{message:?} should say {words:?}");
}

#[test]
fn bad_values_name_the_key_the_value_and_the_rule() {
    invalid("adam_beta2 = 1.0", "adam_beta2", "= 1: must be in [0, 1)");
    invalid(
        "learning_rate = -0.1",
        "learning_rate",
        "must be a finite number >= 0",
    );
    invalid("max_steps = 0", "max_steps", "must be at least 1");
    invalid(
        "per_device_train_batch_size = 0",
        "per_device_train_batch_size",
        "at least 1",
    );
    invalid(
        "gradient_accumulation_steps = 0",
        "gradient_accumulation_steps",
        "at least 1",
    );
    invalid(
        "momentum = 0.9",
        "momentum",
        "applies to optimizer \"sgd\" only",
    );
    invalid(
        "warmup_steps = 10",
        "warmup_steps",
        "\"constant\" has no warm-up",
    );
    invalid(
        "lr_scheduler_type = \"linear\"\nwarmup_steps = 600",
        "warmup_steps",
        "more than max_steps (500)",
    );
    invalid("num_train_epochs = 2", "num_train_epochs", "endless stream");
    invalid(
        "max_shard_size = \"5 potatoes\"",
        "max_shard_size",
        "e.g. \"5GB\"",
    );
    invalid("save_total_limit = 0", "save_total_limit", "at least 1");
    invalid("eval_steps = 0", "eval_steps", "at least 1");
    invalid(
        "d_model = 128",
        "d_model",
        "applies to model \"gpt\", not \"mlp\"",
    );
    invalid(
        "model = \"gpt\"\nlayers = [4, 2]",
        "layers",
        "applies to model \"mlp\"",
    );
    invalid(
        "data = \"x.txt\"",
        "data",
        "token corpora for model \"gpt\"",
    );
    invalid("data_format = \"u32\"", "data_format", "set `data` too");
    invalid("save_strategy = \"epoch\"", "save_strategy", "no epochs");
    invalid(
        "save_strategy = \"best\"",
        "save_strategy",
        "needs evaluation",
    );
    invalid(
        "load_best_model_at_end = true",
        "load_best_model_at_end",
        "needs evaluation",
    );
    invalid(
        "load_best_model_at_end = true\neval_strategy = \"steps\"\neval_steps = 30",
        "save_steps",
        "multiple of eval_steps (30)",
    );
    invalid(
        "metric_for_best_model = \"accuracy\"",
        "metric_for_best_model",
        "eval_loss",
    );
    invalid(
        "model = \"gpt\"\nn_heads = 3",
        "n_heads",
        "divisible by n_heads (3)",
    );
    invalid("model = \"gpt\"\nseq_len = 0", "seq_len", "at least 1");
    invalid("layers = [784]", "layers", "at least two sizes");
    invalid("on_save = \" \"", "on_save", "must not be empty");
    invalid("device = \"\"", "device", "must not be empty");
}

#[test]
fn epochs_replace_the_default_step_count_when_there_is_a_data_file() {
    let args = parse("model = \"gpt\"\ndata = \"corpus.txt\"\nnum_train_epochs = 2").unwrap();
    assert_eq!(args.max_steps, None);
    assert_eq!(args.num_train_epochs, Some(2.0));
    let both = parse("model = \"gpt\"\ndata = \"c.txt\"\nnum_train_epochs = 2\nmax_steps = 9");
    assert_eq!(both.unwrap().max_steps, Some(9), "max_steps wins as in HF");
}

#[test]
fn sgd_with_momentum_and_adam_alias() {
    let args = parse("optimizer = \"sgd\"\nmomentum = 0.9").unwrap();
    assert_eq!((args.optimizer, args.momentum), (OptimizerKind::Sgd, 0.9));
    assert_eq!(
        parse("optimizer = \"adam\"").unwrap().optimizer,
        OptimizerKind::AdamW
    );
}

#[test]
fn later_patches_win_and_report_their_keys() {
    let file = TrainingArgsPatch::from_toml_str(
        "model = \"gpt\"\nlearning_rate = 0.01\nseed = 1",
        Path::new("a.toml"),
    )
    .unwrap();
    let flags = TrainingArgsPatch {
        seed: Some(2),
        max_steps: Some(Some(5)),
        ..TrainingArgsPatch::default()
    };
    assert_eq!(flags.keys(), ["max_steps", "seed"]);
    let args = TrainingArgs::resolve(file.merge(flags)).unwrap();
    assert_eq!(args.model, ModelKind::Gpt);
    assert_eq!(args.learning_rate, 0.01);
    assert_eq!(args.seed, 2);
    assert_eq!(args.max_steps, Some(5));
}

#[test]
fn training_args_json_round_trips() {
    let args = parse(
        "model = \"gpt\"\nresume_from_checkpoint = \"runs/checkpoint-40\"\nd_model = 128\nn_heads = 2",
    )
    .unwrap();
    assert_eq!(
        args.resume_from_checkpoint,
        Some(ResumeFrom::Path("runs/checkpoint-40".into()))
    );
    let json = args.to_json();
    assert!(
        json.contains("\"per_device_train_batch_size\": 16"),
        "{json}"
    );
    let back = TrainingArgs::from_json(&json, Path::new("training_args.json")).unwrap();
    assert_eq!(back, args);

    let err = TrainingArgs::from_json("{\"model\": \"mlp\"}", Path::new("t.json")).unwrap_err();
    assert!(err.to_string().contains("missing field"), "{err}");
}

#[test]
fn sizes_parse_like_hf_max_shard_size() {
    assert_eq!(parse_size("5GB"), Some(5_000_000_000));
    assert_eq!(parse_size("2GiB"), Some(2 << 30));
    assert_eq!(parse_size("500 mb"), Some(500_000_000));
    assert_eq!(parse_size("1.5KB"), Some(1500));
    assert_eq!(parse_size("1000"), Some(1000));
    assert_eq!(parse_size("0"), None);
    assert_eq!(parse_size("GB"), None);
    assert_eq!(parse_size("5XB"), None);
    assert_eq!(parse_size("1e400"), None);
}

#[test]
fn command_line_overrides_are_typed_like_toml() {
    let patch = TrainingArgsPatch::from_overrides(&[
        "model=gpt",
        "learning_rate=3e-4",
        "data=corpus.txt",
        "save_only_model=true",
        "seed=1",
        "seed=2",
    ])
    .unwrap();
    let args = TrainingArgs::resolve(patch).unwrap();
    assert_eq!(args.model, ModelKind::Gpt);
    assert_eq!(args.learning_rate, 3e-4);
    assert_eq!(args.data, Some(PathBuf::from("corpus.txt")));
    assert!(args.save_only_model);
    assert_eq!(args.seed, 2, "the later pair wins");
    let layers = TrainingArgsPatch::from_overrides(&["layers=[784, 64, 10]"]).unwrap();
    assert_eq!(layers.layers, Some(Some(vec![784, 64, 10])));

    for (pair, key, words) in [
        ("max_steps=ten", "max_steps", "invalid type: string \"ten\""),
        (
            "learning_rat=1",
            "learning_rat",
            "unknown field `learning_rat`",
        ),
        ("seed", "seed", "expected key=value"),
        ("a.b=1", "a.b", "not a setting name"),
    ] {
        let err = TrainingArgsPatch::from_overrides(&[pair]).unwrap_err();
        assert_eq!(err.exit_code(), 2);
        let Error::InvalidArgument { key: k, reason, .. } = &err else {
            panic!("{err:?}")
        };
        assert_eq!(k, key);
        assert!(reason.contains(words), "{reason:?} should say {words:?}");
    }
}

#[test]
fn an_eval_interval_without_a_strategy_turns_step_evaluation_on() {
    let args = parse("model = \"mlp\"\neval_steps = 30\n").unwrap();
    assert_eq!(args.eval_strategy, EvalStrategy::Steps);
    assert_eq!(args.eval_interval(), 30);
    let explicit_off = parse("model = \"mlp\"\neval_steps = 30\neval_strategy = \"no\"\n").unwrap();
    assert_eq!(explicit_off.eval_strategy, EvalStrategy::No);
    assert_eq!(
        parse("model = \"mlp\"\n").unwrap().eval_strategy,
        EvalStrategy::No
    );
}
