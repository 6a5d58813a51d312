//! Fine-tuning Hugging Face models with `xlatrain train --model-name-or-path` on the real CPU
//! plugin: a tiny llama (GQA, untied head) and a tiny GPT-2 (tied head) from model directories
//! made by scripts/hf_reference.py. Each checkpoint is an HF model directory that transformers'
//! own `from_pretrained(..., from_pt=True)` loads with no export step and that computes the same
//! logits as our forward on the trained parameters; a tied embedding is stored once; tokenizer
//! files travel with the checkpoint and the export; resume is bit-exact, a resume wins over the
//! model directory and the log says which one was used; combinations that do not apply exit 2.

mod common;
mod hf_support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use hf_support::{floats, model_dir, relative_error};
use serde_json::Value;
use xlatrain::checkpoint::parse_shard;
use xlatrain::infer::Session;

const TOLERANCE: f64 = 1e-4;
const PROMPT: [i32; 6] = [3, 17, 42, 8, 61, 25];

/// A tokenizer.json that the `tokenizers` library and transformers both read.
const TOKENIZER_JSON: &str = r#"{"version":"1.0","truncation":null,"padding":null,"added_tokens":[],
"normalizer":null,"pre_tokenizer":{"type":"Whitespace"},"post_processor":null,"decoder":null,
"model":{"type":"WordLevel","vocab":{"<unk>":0,"hello":1,"world":2},"unk_token":"<unk>"}}"#;

fn xlatrain(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_xlatrain"))
        .args(args)
        .output()
        .expect("the xlatrain binary runs")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn succeed(args: &[&str]) -> String {
    let out = xlatrain(args);
    assert!(
        out.status.success(),
        "xlatrain {args:?} failed:\n{}",
        stderr(&out)
    );
    stderr(&out)
}

fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("hf_train-{name}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A u16 token file with a learnable pattern over ids `< vocab`.
fn token_file(dir: &Path, vocab: u16) -> PathBuf {
    let path = dir.join("tokens.u16");
    let bytes: Vec<u8> = (0..3000u32)
        .flat_map(|i| (((i * 7 + i / 11) % u32::from(vocab)) as u16).to_le_bytes())
        .collect();
    std::fs::write(&path, bytes).unwrap();
    path
}

/// A copy of a reference model directory with tokenizer and generation files added.
fn model_with_tokenizer(case: &str, dir: &Path) -> PathBuf {
    let model = dir.join("model");
    std::fs::create_dir_all(&model).unwrap();
    for entry in std::fs::read_dir(model_dir(case)).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), model.join(entry.file_name())).unwrap();
    }
    std::fs::write(model.join("tokenizer.json"), TOKENIZER_JSON).unwrap();
    std::fs::write(
        model.join("tokenizer_config.json"),
        r#"{"tokenizer_class": "PreTrainedTokenizerFast", "unk_token": "<unk>"}"#,
    )
    .unwrap();
    std::fs::write(
        model.join("generation_config.json"),
        r#"{"eos_token_id": 95}"#,
    )
    .unwrap();
    model
}

fn train_args<'a>(model: &'a str, data: &'a str, out: &'a str, steps: &'a str) -> Vec<&'a str> {
    vec![
        "train",
        "--model-name-or-path",
        model,
        "--data",
        data,
        "--data-format",
        "u16",
        "--seq-len",
        "16",
        "--per-device-train-batch-size",
        "2",
        "--max-steps",
        steps,
        "--learning-rate",
        "1e-2",
        "--logging-steps",
        "1",
        "--output-dir",
        out,
    ]
}

/// Tensor names of a safetensors file, in file order.
fn tensor_names(path: &Path) -> Vec<String> {
    let bytes = std::fs::read(path).unwrap();
    let parsed = parse_shard(path, &bytes).unwrap();
    parsed.tensors.into_iter().map(|(s, _)| s.name).collect()
}

fn json_file(path: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

fn our_logits(dir: &Path) -> Vec<f64> {
    let client = common::cpu();
    let session = Session::open(&client, dir).unwrap();
    session
        .logits(&PROMPT, 1)
        .unwrap()
        .into_iter()
        .map(f64::from)
        .collect()
}

/// Trains `case` for 4 steps from a model directory with tokenizer files and checks the
/// checkpoint's layout; returns (checkpoint, export dir, the initial model's logits).
fn fine_tune(case: &str, tied: bool) -> (PathBuf, PathBuf, Vec<f64>) {
    let dir = scratch(case);
    let model = model_with_tokenizer(case, &dir);
    let data = token_file(&dir, 96);
    let out = dir.join("out");
    let log = succeed(&train_args(
        model.to_str().unwrap(),
        data.to_str().unwrap(),
        out.to_str().unwrap(),
        "4",
    ));
    assert!(
        log.contains("initial parameters: the weights of --model-name-or-path"),
        "{log}"
    );
    let checkpoint = out.join("checkpoint-4");
    let config = json_file(&checkpoint.join("config.json"));
    let source = json_file(&model.join("config.json"));
    assert_eq!(config["model_type"], source["model_type"]);
    assert_eq!(config["architectures"], source["architectures"]);
    assert_eq!(config["torch_dtype"], "float32");
    for name in [
        "tokenizer.json",
        "tokenizer_config.json",
        "generation_config.json",
    ] {
        assert_eq!(
            std::fs::read(checkpoint.join(name)).unwrap(),
            std::fs::read(model.join(name)).unwrap(),
            "{name} is copied into the checkpoint"
        );
    }
    let params = tensor_names(&checkpoint.join("model.safetensors"));
    let mut original = tensor_names(&model.join("model.safetensors"));
    original.retain(|n| !n.ends_with(".attn.bias"));
    let mut sorted = params.clone();
    sorted.sort();
    original.sort();
    assert_eq!(
        sorted, original,
        "the checkpoint holds the model's HF tensor names"
    );
    assert_eq!(
        params.iter().any(|n| n == "lm_head.weight"),
        !tied,
        "a tied head is stored once, as its embedding"
    );
    let optimizer = tensor_names(&checkpoint.join("optimizer.safetensors"));
    for p in &params {
        for slot in ["exp_avg", "exp_avg_sq"] {
            assert!(
                optimizer.contains(&format!("{slot}.{p}")),
                "optimizer tensor {slot}.{p}"
            );
        }
    }
    succeed(&["checkpoints", "verify", checkpoint.to_str().unwrap()]);
    let export = dir.join("export");
    succeed(&[
        "export",
        checkpoint.to_str().unwrap(),
        export.to_str().unwrap(),
    ]);
    assert_eq!(
        std::fs::read(export.join("tokenizer.json")).unwrap(),
        TOKENIZER_JSON.as_bytes()
    );
    assert_eq!(json_file(&export.join("config.json")), config);
    (checkpoint, export, our_logits(&model))
}

#[test]
fn hf_checkpoints_load_with_transformers_and_compute_our_logits() {
    let (llama, llama_export, llama_before) = fine_tune("llama_gqa_untied", false);
    let (gpt2, gpt2_export, gpt2_before) = fine_tune("gpt2", true);
    let prompt = serde_json::to_string(&PROMPT).unwrap();
    let out = common::python::run_reference_script(
        Path::new("scripts/hf_checkpoint_logits.py"),
        &[
            llama.as_os_str(),
            prompt.as_ref(),
            gpt2.as_os_str(),
            prompt.as_ref(),
        ],
    );
    let loaded: Vec<Value> = serde_json::from_str(&out).unwrap();
    for ((checkpoint, export, before, class), reference) in [
        (&llama, &llama_export, &llama_before, "FlaxLlamaForCausalLM"),
        (&gpt2, &gpt2_export, &gpt2_before, "FlaxGPT2LMHeadModel"),
    ]
    .into_iter()
    .zip(&loaded)
    {
        assert_eq!(reference["model_class"], class);
        assert_eq!(reference["config"]["torch_dtype"], "float32");
        assert_eq!(
            reference["tokenizer"]["hello_world"],
            serde_json::json!([1, 2]),
            "AutoTokenizer loads the checkpoint's tokenizer"
        );
        let ours = our_logits(checkpoint);
        let theirs = floats(&reference["logits"]);
        let err = relative_error(&ours, &theirs);
        eprintln!("{class}: trained checkpoint, ours vs transformers {err:.2e}");
        assert!(err <= TOLERANCE, "{class}: logits differ by {err:e}");
        let moved = relative_error(before, &theirs);
        assert!(
            moved > 100.0 * TOLERANCE,
            "{class}: training changed the parameters ({moved:e})"
        );
        assert_eq!(
            our_logits(export),
            ours,
            "the export holds the same parameters"
        );
    }
}

#[test]
fn resume_of_an_hf_run_is_bit_exact_and_wins_over_the_model_directory() {
    let dir = scratch("resume");
    let model = model_dir("llama_gqa_untied");
    let data = token_file(&dir, 96);
    let (model, data) = (model.to_str().unwrap(), data.to_str().unwrap());
    let straight = dir.join("straight");
    let mut args = train_args(model, data, straight.to_str().unwrap(), "6");
    args.extend(["--save-steps", "3"]);
    succeed(&args);
    // 3 steps + resume + 3 steps, into another output directory
    let resumed = dir.join("resumed");
    let checkpoint_3 = straight.join("checkpoint-3");
    let mut again = train_args(model, data, resumed.to_str().unwrap(), "6");
    again.extend([
        "--save-steps",
        "3",
        "--resume-from-checkpoint",
        checkpoint_3.to_str().unwrap(),
    ]);
    let log = succeed(&again);
    assert!(
        log.contains("from checkpoint") && log.contains("not from the weights of"),
        "the log says the checkpoint was used: {log}"
    );
    assert!(!log.contains("initial parameters: the weights"), "{log}");
    // only steps 4..=6 ran here: equal results mean the state came from the checkpoint
    let metrics = std::fs::read_to_string(resumed.join("metrics.jsonl")).unwrap();
    let steps: Vec<u64> = metrics
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|e| e.get("loss").is_some())
        .map(|e| e["step"].as_u64().unwrap())
        .collect();
    assert_eq!(steps, [4, 5, 6]);
    for file in ["model.safetensors", "optimizer.safetensors"] {
        assert!(
            std::fs::read(straight.join("checkpoint-6").join(file)).unwrap()
                == std::fs::read(resumed.join("checkpoint-6").join(file)).unwrap(),
            "{file}: 3 steps + resume + 3 steps differs from 6 steps"
        );
    }
}

#[test]
fn combinations_that_do_not_apply_to_an_hf_model_exit_2_by_name() {
    let dir = scratch("refusals");
    let model = model_dir("llama_gqa_untied");
    let data = token_file(&dir, 96);
    let out = dir.join("out");
    let (model, data, out) = (
        model.to_str().unwrap(),
        data.to_str().unwrap(),
        out.to_str().unwrap(),
    );
    let base = train_args(model, data, out, "2");
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["--d-model", "64"], "d_model"),
        (vec!["--n-layers", "2"], "n_layers"),
        (vec!["--init-seed", "1"], "init_seed"),
        (vec!["--model", "gpt"], "model"),
        (vec!["--data-format", "bytes"], "data_format"),
        (vec!["--seq-len", "65"], "max_position_embeddings"),
        (vec!["--num-devices", "1", "--shard-state"], "shard_state"),
    ];
    for (extra, key) in cases {
        // a flag of the base arguments is replaced, any other appended
        let mut args = base.clone();
        for pair in extra.chunks(2) {
            match args.iter().position(|a| *a == pair[0]) {
                Some(i) if pair.len() == 2 => args[i + 1] = pair[1],
                _ => args.extend(pair.iter().copied()),
            }
        }
        let out = xlatrain(&args);
        let text = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{extra:?}: {text}");
        assert!(text.contains(key), "{extra:?} names {key}: {text}");
    }
    let hub = xlatrain(&train_args("HuggingFaceTB/SmolLM2-135M", data, out, "2"));
    assert_eq!(hub.status.code(), Some(2));
    assert!(stderr(&hub).contains("never downloads"), "{}", stderr(&hub));
    let tokenizer_alone = xlatrain(&["train", "--tokenizer", "t.json", "--output-dir", out]);
    assert_eq!(tokenizer_alone.status.code(), Some(2));
    assert!(stderr(&tokenizer_alone).contains("tokenizer"));
    let no_data = xlatrain(&["train", "--model-name-or-path", model, "--output-dir", out]);
    assert_eq!(no_data.status.code(), Some(2));
    assert!(stderr(&no_data).contains("data"), "{}", stderr(&no_data));
    assert!(!Path::new(out).join("checkpoint-2").exists());
}

#[test]
fn the_trainers_eval_on_eval_data_is_the_eval_contract_of_xlatrain_eval() {
    let dir = scratch("eval-data");
    let model = model_dir("llama_gqa_untied");
    let data = token_file(&dir, 96);
    // 7 complete windows of 17 tokens and a tail: batches of 1 (7 is prime), tail left out
    let held_out = dir.join("held_out.u16");
    let bytes: Vec<u8> = (0..7 * 17 + 5u32)
        .flat_map(|i| (((i * 13 + 5) % 96) as u16).to_le_bytes())
        .collect();
    std::fs::write(&held_out, bytes).unwrap();
    let out = dir.join("out");
    let (model, data, held) = (
        model.to_str().unwrap(),
        data.to_str().unwrap(),
        held_out.to_str().unwrap(),
    );
    let mut args = train_args(model, data, out.to_str().unwrap(), "3");
    args.extend([
        "--eval-data",
        held,
        "--eval-strategy",
        "steps",
        "--eval-steps",
        "3",
        "--save-steps",
        "3",
    ]);
    succeed(&args);
    let metrics = std::fs::read_to_string(out.join("metrics.jsonl")).unwrap();
    let trainer_eval = metrics
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|e| e["step"] == 3)
        .find_map(|e| e["eval_loss"].as_f64())
        .expect("an eval event at step 3");
    // an HF run reports its analytic TFLOP/s like the reference models do
    assert!(
        metrics
            .lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .filter(|e| e.get("loss").is_some())
            .all(|e| e["tflops_per_device"].as_f64().is_some_and(|t| t > 0.0)),
        "every training event carries tflops_per_device: {metrics}"
    );
    let checkpoint = out.join("checkpoint-3");
    let report = xlatrain(&[
        "eval",
        "--model-name-or-path",
        checkpoint.to_str().unwrap(),
        "--data",
        held,
        "--data-format",
        "u16",
        "--seq-len",
        "16",
        "--json",
    ]);
    assert!(report.status.success(), "{}", stderr(&report));
    let report: Value = serde_json::from_slice(&report.stdout).unwrap();
    assert_eq!(report["eval_tokens"], 7 * 16);
    let contract = report["eval_loss"].as_f64().unwrap();
    assert!(
        relative_error(&[trainer_eval], &[contract]) < 1e-5,
        "trainer eval_loss {trainer_eval} vs xlatrain eval {contract}"
    );
    // without a strategy the held-out file would never be read: refused by name
    let mut no_strategy = train_args(model, data, out.to_str().unwrap(), "1");
    no_strategy.extend(["--eval-data", held]);
    let refused = xlatrain(&no_strategy);
    assert_eq!(refused.status.code(), Some(2));
    assert!(
        stderr(&refused).contains("eval_data"),
        "{}",
        stderr(&refused)
    );
}

/// `(step, loss)` of each training log line of a run's metrics.jsonl.
fn logged_losses(out: &Path) -> Vec<(u64, f64)> {
    std::fs::read_to_string(out.join("metrics.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter_map(|e| Some((e.get("step")?.as_u64()?, e.get("loss")?.as_f64()?)))
        .collect()
}

#[test]
fn an_hf_model_fine_tunes_on_sharded_and_tensor_parallel_meshes_like_on_one_device() {
    let dir = scratch("mesh");
    let model = model_dir("llama_gqa_untied");
    let data = token_file(&dir, 96);
    let (model, data) = (model.to_str().unwrap(), data.to_str().unwrap());
    let run = |name: &str, per_device: &'static str, extra: &[&str]| -> PathBuf {
        let out = dir.join(name);
        let out_str = out.to_str().unwrap().to_string();
        let mut args = vec!["--cpu-devices", "4"];
        args.extend(train_args(model, data, &out_str, "4"));
        let at = args
            .iter()
            .position(|a| *a == "--per-device-train-batch-size")
            .unwrap();
        args[at + 1] = per_device;
        args.extend(extra);
        succeed(&args);
        out
    };
    let single = run("single", "4", &[]);
    let reference = logged_losses(&single);
    assert_eq!(reference.len(), 4);
    for (name, per_device, extra) in [
        ("shard", "1", &["--num-devices", "4", "--shard-state"][..]),
        ("tp", "2", &["--mesh", "fsdp=2,tensor=2"][..]),
    ] {
        let out = run(name, per_device, extra);
        let ours = logged_losses(&out);
        assert_eq!(ours.len(), reference.len(), "{name}");
        for ((step, a), (_, b)) in ours.iter().zip(&reference) {
            assert!(
                relative_error(&[*a], &[*b]) <= 1e-5,
                "{name}, step {step}: {a} vs one device {b}"
            );
        }
        // the checkpoint is still the HF model directory, each weight whole
        let checkpoint = out.join("checkpoint-4");
        let names = tensor_names(&checkpoint.join("model.safetensors"));
        assert!(
            names.iter().any(|n| n.ends_with("q_proj.weight")),
            "{names:?}"
        );
        let single_names = tensor_names(&single.join("checkpoint-4/model.safetensors"));
        assert_eq!(names, single_names, "{name}");
    }
}

#[test]
fn a_pretrained_model_is_refused_by_arguments_that_name_another_model() {
    use xlatrain::config::{TrainingArgs, TrainingArgsPatch};
    use xlatrain::train::{Model, Trainer};
    let dir = model_dir("gpt2");
    let other = model_dir("llama_gqa_untied");
    let data = token_file(&scratch("mismatch"), 64);
    let args_for = |pairs: &[String]| {
        TrainingArgs::resolve(TrainingArgsPatch::from_overrides(pairs).unwrap()).unwrap()
    };
    let cases = [
        (args_for(&["model=\"mlp\"".into()]), "model = mlp"),
        (
            args_for(&[
                format!("model_name_or_path=\"{}\"", other.display()),
                format!("data=\"{}\"", data.display()),
                "data_format=\"u16\"".into(),
                "seq_len=16".into(),
            ]),
            "llama_gqa_untied",
        ),
    ];
    for (args, named) in cases {
        let model = Model::from_pretrained(&dir).unwrap();
        match Trainer::new(model, args) {
            Err(e @ xlatrain::Error::ModelMismatch { .. }) => {
                let text = e.to_string();
                assert!(
                    text.contains(&dir.display().to_string()) && text.contains(named),
                    "{text}"
                );
                assert_eq!(e.exit_code(), 2);
            }
            Err(e) => panic!("refused with another error: {e}"),
            Ok(_) => panic!("arguments naming {named} trained {}", dir.display()),
        }
    }
}
