//! Token files (bytes, u16, u32): round trip through the memory map, epoch order, the eval split,
//! the cursor across epochs, and every kind of bad file giving an error that names it.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use xlatrain::data::{DataSpec, Dataset, Inputs, TokenFileOptions, TokenFormat};
use xlatrain::Error;

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

fn u16_file(tokens: impl IntoIterator<Item = u16>) -> Vec<u8> {
    tokens.into_iter().flat_map(u16::to_le_bytes).collect()
}

fn u32_file(tokens: impl IntoIterator<Item = u32>) -> Vec<u8> {
    tokens.into_iter().flat_map(u32::to_le_bytes).collect()
}

fn options(path: PathBuf, format: TokenFormat) -> TokenFileOptions {
    TokenFileOptions {
        path,
        format,
        vocab_size: 1 << 20,
        seq_len: 8,
        batch_size: 4,
        seed: 5,
        eval_fraction: 0.0,
        max_eval_batches: 4,
    }
}

fn open(opts: TokenFileOptions) -> xlatrain::Result<Dataset> {
    Dataset::open(&DataSpec::TokenFile(opts))
}

fn tokens(inputs: &Inputs) -> &[i32] {
    match inputs {
        Inputs::I32(x) => x,
        Inputs::F32(_) => panic!("token inputs"),
    }
}

/// Rows of a batch whose tokens are their own positions: the start position of every window.
fn window_starts(batch: &xlatrain::data::Batch, seq_len: usize) -> Vec<i32> {
    let x = tokens(&batch.x);
    x.chunks(seq_len)
        .zip(batch.y.chunks(seq_len))
        .map(|(row, target)| {
            // consecutive positions, target = input shifted by one
            for (i, (&a, &b)) in row.iter().zip(target).enumerate() {
                assert_eq!(a, row[0] + i as i32);
                assert_eq!(b, a + 1);
            }
            row[0]
        })
        .collect()
}

#[test]
fn u16_file_round_trips_and_each_epoch_visits_every_window_once() {
    let dir = tempfile::tempdir().unwrap();
    // 8 * 32 + 1 tokens: 32 windows of 8 (+1 target) = 8 batches of 4
    let path = write(dir.path(), "tokens.u16", &u16_file(0..257));
    let data = open(options(path, TokenFormat::U16)).unwrap();
    assert_eq!(data.batches_per_epoch(), Some(8));
    let mut cursor = data.start_cursor();
    let mut epochs = Vec::new();
    for epoch in 0..3 {
        let mut starts = Vec::new();
        for _ in 0..8 {
            assert_eq!(cursor.epoch, epoch);
            starts.extend(window_starts(&data.next_batch(&mut cursor), 8));
        }
        let distinct: BTreeSet<i32> = starts.iter().copied().collect();
        assert_eq!(distinct, (0..32).map(|w| w * 8).collect(), "epoch {epoch}");
        epochs.push(starts);
    }
    assert_eq!(cursor.epoch, 3);
    assert_ne!(epochs[0], epochs[1], "each epoch has its own order");
    assert_ne!(epochs[1], epochs[2]);
    let in_order: Vec<i32> = (0..32).map(|w| w * 8).collect();
    assert_ne!(epochs[0], in_order, "the order is shuffled");
}

#[test]
fn u32_tokens_above_u16_range_survive() {
    let dir = tempfile::tempdir().unwrap();
    let base = 70_000u32;
    let path = write(dir.path(), "tokens.u32", &u32_file(base..base + 17));
    let data = open(TokenFileOptions {
        vocab_size: 100_000,
        batch_size: 2,
        ..options(path, TokenFormat::U32)
    })
    .unwrap();
    let batch = data.batch_at(&data.start_cursor());
    let starts = window_starts(&batch, 8);
    let mut sorted = starts.clone();
    sorted.sort_unstable();
    assert_eq!(sorted, [base as i32, base as i32 + 8]);
}

#[test]
fn any_text_file_is_a_byte_corpus() {
    let dir = tempfile::tempdir().unwrap();
    let text = "hello, byte-level world! ".repeat(4);
    let path = write(dir.path(), "corpus.txt", text.as_bytes());
    let data = open(TokenFileOptions {
        vocab_size: 256,
        batch_size: 2,
        ..options(path, TokenFormat::Bytes)
    })
    .unwrap();
    let batch = data.batch_at(&data.start_cursor());
    for row in tokens(&batch.x).chunks(8) {
        let chunk: String = row.iter().map(|&t| t as u8 as char).collect();
        assert!(text.contains(&chunk), "{chunk:?} is a piece of the text");
    }
}

#[test]
fn cursor_jumps_across_epochs_and_restores() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "t.u16", &u16_file(0..97)); // 12 windows = 3 batches of 4
    let data = open(options(path, TokenFormat::U16)).unwrap();
    let mut cursor = data.start_cursor();
    let iterated: Vec<_> = (0..10).map(|_| data.next_batch(&mut cursor)).collect();
    for (k, batch) in iterated.iter().enumerate() {
        let direct = data.cursor_at(k as u64);
        assert_eq!(direct.epoch, k as u64 / 3);
        assert_eq!(direct.batch_in_epoch, k as u64 % 3);
        assert_eq!(&data.batch_at(&direct), batch, "batch {k}");
    }
    let json = serde_json::to_string(&data.cursor_at(7)).unwrap();
    let restored = serde_json::from_str(&json).unwrap();
    data.check_cursor(&restored).unwrap();
    assert_eq!(data.batch_at(&restored), iterated[7]);

    let mut out_of_range = data.cursor_at(1);
    out_of_range.batch_in_epoch = 3;
    let err = data.check_cursor(&out_of_range).unwrap_err();
    assert!(err.to_string().contains("batch_in_epoch 3"), "{err}");
}

#[test]
fn changed_file_contents_invalidate_the_cursor() {
    let dir = tempfile::tempdir().unwrap();
    let a = write(dir.path(), "a.u16", &u16_file(0..97));
    let b = write(dir.path(), "b.u16", &u16_file(1..98));
    let first = open(options(a, TokenFormat::U16)).unwrap();
    let second = open(options(b, TokenFormat::U16)).unwrap();
    assert!(second.check_cursor(&first.cursor_at(2)).is_err());
}

#[test]
fn eval_split_is_held_out_at_the_end() {
    let dir = tempfile::tempdir().unwrap();
    let n = 1000u16;
    let path = write(dir.path(), "t.u16", &u16_file(0..n));
    let data = open(TokenFileOptions {
        eval_fraction: 0.1,
        ..options(path, TokenFormat::U16)
    })
    .unwrap();
    let Dataset::Tokens(tokens_data) = &data else {
        panic!("token dataset")
    };
    assert_eq!(tokens_data.n_train_tokens(), 900);
    let train_end = 900;
    for k in 0..2 * data.batches_per_epoch().unwrap() {
        let batch = data.batch_at(&data.cursor_at(k));
        assert!(batch.y.iter().all(|&t| t < train_end), "train batch {k}");
    }
    let eval = data.eval_batches();
    // 100 eval tokens = 12 windows of 8 = 3 batches of 4
    assert_eq!(eval.len(), 3);
    let starts: Vec<i32> = eval.iter().flat_map(|b| window_starts(b, 8)).collect();
    assert_eq!(
        starts,
        (0..12).map(|w| train_end + w * 8).collect::<Vec<_>>()
    );
    assert_eq!(data.eval_batches(), eval, "eval batches are fixed");

    let no_eval = open(options(dir.path().join("t.u16"), TokenFormat::U16)).unwrap();
    assert!(no_eval.eval_batches().is_empty());
}

#[test]
fn fewer_windows_than_a_batch_repeat_within_one_batch_per_epoch() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "t.u16", &u16_file(0..17)); // 2 windows
    let data = open(options(path, TokenFormat::U16)).unwrap();
    assert_eq!(data.batches_per_epoch(), Some(1));
    let starts = window_starts(&data.batch_at(&data.start_cursor()), 8);
    assert_eq!(starts.len(), 4);
    assert_eq!(starts.iter().collect::<BTreeSet<_>>().len(), 2);
}

fn assert_file_error(result: xlatrain::Result<Dataset>, path: &Path, words: &str) {
    let err = result.unwrap_err();
    assert!(
        matches!(err, Error::DataFile { .. } | Error::DataFileIo { .. }),
        "{err:?}"
    );
    assert_eq!(err.exit_code(), 2);
    let message = err.to_string();
    assert!(
        message.contains(&path.display().to_string()),
        "names the file: {message}"
    );
    assert!(message.contains(words), "{message:?} should say {words:?}");
}

#[test]
fn bad_files_give_errors_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.u16");
    assert_file_error(
        open(options(missing.clone(), TokenFormat::U16)),
        &missing,
        "cannot open",
    );

    let empty = write(dir.path(), "empty.txt", b"");
    assert_file_error(
        open(options(empty.clone(), TokenFormat::Bytes)),
        &empty,
        "is empty",
    );

    let odd = write(dir.path(), "odd.u16", &[1, 2, 3]);
    assert_file_error(
        open(options(odd.clone(), TokenFormat::U16)),
        &odd,
        "not a multiple of 2",
    );
    let ragged = write(dir.path(), "ragged.u32", &[0; 10]);
    assert_file_error(
        open(options(ragged.clone(), TokenFormat::U32)),
        &ragged,
        "not a multiple of 4",
    );

    let mut big = u16_file(0..40);
    big.extend(u16_file([5000]));
    let out_of_vocab = write(dir.path(), "vocab.u16", &big);
    assert_file_error(
        open(TokenFileOptions {
            vocab_size: 1000,
            ..options(out_of_vocab.clone(), TokenFormat::U16)
        }),
        &out_of_vocab,
        "token 40 (byte offset 80) is 5000, not below vocab_size 1000",
    );
    let text = write(dir.path(), "high.txt", "abc\u{e9}defghijklmnop".as_bytes());
    assert_file_error(
        open(TokenFileOptions {
            vocab_size: 128,
            ..options(text.clone(), TokenFormat::Bytes)
        }),
        &text,
        "not below vocab_size 128",
    );

    let short = write(dir.path(), "short.u16", &u16_file(0..8));
    assert_file_error(
        open(options(short.clone(), TokenFormat::U16)),
        &short,
        "need at least seq_len + 1 = 9",
    );

    let small_eval = write(dir.path(), "small_eval.u16", &u16_file(0..100));
    assert_file_error(
        open(TokenFileOptions {
            eval_fraction: 0.05,
            ..options(small_eval.clone(), TokenFormat::U16)
        }),
        &small_eval,
        "eval split too short: 5 tokens",
    );

    let directory = dir.path().to_path_buf();
    assert_file_error(
        open(options(directory.clone(), TokenFormat::Bytes)),
        &directory,
        "is not a regular file",
    );
}
