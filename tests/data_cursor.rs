//! The data cursor: any batch is reachable directly in O(1), a saved cursor continues the exact
//! same batch sequence, and a cursor only restores into the stream it came from.

use xlatrain::data::{
    DataCursor, DataSpec, Dataset, Inputs, SYNTHETIC_EVAL_BATCHES, SYNTHETIC_EVAL_FIRST_STEP,
};
use xlatrain::Error;

fn small_mlp(seed: u64, batch_size: usize) -> Dataset {
    Dataset::open(&DataSpec::MlpSynthetic {
        seed,
        batch_size,
        input_dim: 784,
        num_classes: 10,
    })
    .unwrap()
}

fn small_gpt(batch_size: usize) -> Dataset {
    Dataset::open(&DataSpec::GptSynthetic {
        seed: 7,
        batch_size,
        seq_len: 32,
        vocab_size: 256,
        n_words: 5_000,
    })
    .unwrap()
}

#[test]
fn batch_k_directly_equals_batch_k_by_iterating() {
    for data in [small_mlp(42, 4), small_gpt(3)] {
        let mut cursor = data.start_cursor();
        let iterated: Vec<_> = (0..12).map(|_| data.next_batch(&mut cursor)).collect();
        for (k, batch) in iterated.iter().enumerate() {
            assert_eq!(
                &data.batch_at(&data.cursor_at(k as u64)),
                batch,
                "batch {k}"
            );
        }
        assert_eq!(cursor, data.cursor_at(12));
        assert_ne!(iterated[0], iterated[1]);
    }
}

#[test]
fn a_far_batch_costs_no_more_than_the_first() {
    // synthetic streams are indexed by step: the cursor is just the step number
    let data = small_mlp(42, 2);
    let far = data.cursor_at(1_000_000_000_000);
    assert_eq!(far.epoch, 0);
    assert_eq!(far.batch_in_epoch, 1_000_000_000_000);
    let batch = data.batch_at(&far);
    assert_eq!(batch.y.len(), 2);
}

#[test]
fn saved_cursor_continues_identically() {
    for data in [small_mlp(1, 4), small_gpt(2)] {
        let mut cursor = data.start_cursor();
        for _ in 0..5 {
            data.next_batch(&mut cursor);
        }
        let saved = serde_json::to_string(&cursor).unwrap();
        let straight: Vec<_> = (0..5).map(|_| data.next_batch(&mut cursor)).collect();

        let mut restored: DataCursor = serde_json::from_str(&saved).unwrap();
        data.check_cursor(&restored).unwrap();
        let resumed: Vec<_> = (0..5).map(|_| data.next_batch(&mut restored)).collect();
        assert_eq!(resumed, straight);
        assert_eq!(restored, cursor);
    }
}

#[test]
fn cursor_from_another_stream_is_refused() {
    let data = small_mlp(42, 4);
    for other in [small_mlp(43, 4), small_mlp(42, 8)] {
        let err = data.check_cursor(&other.cursor_at(3)).unwrap_err();
        assert!(matches!(err, Error::DataCursor { .. }), "{err}");
        assert_eq!(err.exit_code(), 2);
        assert!(err.to_string().contains("seed=42 batch=4"), "{err}");
    }
    data.check_cursor(&data.cursor_at(3)).unwrap();
}

#[test]
fn layouts_describe_the_batches() {
    let mlp = small_mlp(42, 4);
    let layout = mlp.batch_layout();
    assert_eq!(layout.x_type, xlatrain::DType::F32);
    assert_eq!(layout.x_shape, [4, 784]);
    assert_eq!(layout.y_shape, [4]);
    let batch = mlp.batch_at(&mlp.start_cursor());
    let Inputs::F32(x) = &batch.x else {
        panic!("f32 inputs")
    };
    assert_eq!(x.len(), 4 * 784);
    assert!(x.iter().all(|v| (0.0..1.0).contains(v)));
    assert!(batch.y.iter().all(|y| (0..10).contains(y)));

    let gpt = small_gpt(3);
    let layout = gpt.batch_layout();
    assert_eq!(layout.x_type, xlatrain::DType::S32);
    assert_eq!(layout.x_shape, [3, 32]);
    assert_eq!(layout.y_shape, [3, 32]);
    let batch = gpt.batch_at(&gpt.start_cursor());
    let Inputs::I32(x) = &batch.x else {
        panic!("token inputs")
    };
    assert_eq!(x.len(), 3 * 32);
    assert_eq!(batch.y.len(), 3 * 32);
    // targets are the inputs shifted by one byte
    for row in 0..3 {
        assert_eq!(
            x[row * 32 + 1..(row + 1) * 32],
            batch.y[row * 32..(row + 1) * 32 - 1]
        );
    }
    assert_eq!(gpt.batches_per_epoch(), None);
}

#[test]
fn synthetic_eval_batches_are_the_reserved_steps() {
    for data in [small_mlp(42, 4), small_gpt(2)] {
        let eval = data.eval_batches();
        assert_eq!(eval.len() as u64, SYNTHETIC_EVAL_BATCHES);
        for (i, batch) in eval.iter().enumerate() {
            let cursor = data.cursor_at(SYNTHETIC_EVAL_FIRST_STEP + i as u64);
            assert_eq!(&data.batch_at(&cursor), batch);
        }
    }
}

#[test]
fn synthetic_data_settings_are_checked() {
    let zero_batch = Dataset::open(&DataSpec::MlpSynthetic {
        seed: 1,
        batch_size: 0,
        input_dim: 784,
        num_classes: 10,
    })
    .unwrap_err();
    assert_eq!(zero_batch.exit_code(), 2);
    assert!(
        zero_batch.to_string().contains("batch_size"),
        "{zero_batch}"
    );

    let long_sequences = Dataset::open(&DataSpec::GptSynthetic {
        seed: 7,
        batch_size: 1,
        seq_len: 1_000,
        vocab_size: 256,
        n_words: 10,
    })
    .unwrap_err();
    assert!(
        long_sequences.to_string().contains("seq_len"),
        "{long_sequences}"
    );

    let small_vocab = Dataset::open(&DataSpec::GptSynthetic {
        seed: 7,
        batch_size: 1,
        seq_len: 8,
        vocab_size: 100,
        n_words: 100,
    })
    .unwrap_err();
    assert!(
        small_vocab.to_string().contains("vocab_size"),
        "{small_vocab}"
    );
}
