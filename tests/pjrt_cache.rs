//! The executable cache: a second compile of the same program is a hit, and a damaged entry
//! falls back to compiling instead of failing.

mod common;

use common::{fixture, values};
use xlatrain::pjrt::{
    with_deterministic_gpu_ops, Arg, Client, ClientOptions, CompileOptions, DETERMINISTIC_GPU_OPS,
};

fn client_with_cache(dir: &std::path::Path) -> Client {
    Client::open(&ClientOptions {
        cache_dir: Some(dir.to_path_buf()),
        ..ClientOptions::default()
    })
    .unwrap_or_else(|e| panic!("the CPU PJRT plugin must be available: {e}"))
}

fn entries(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .map(|rd| rd.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    files.sort();
    files
}

fn run_dot(client: &Client, exe: &xlatrain::pjrt::Executable) -> Vec<f32> {
    let a = client.upload(&values(6, 1), &[2, 3], 0).unwrap();
    let b = client.upload(&values(12, 2), &[3, 4], 0).unwrap();
    exe.execute(vec![Arg::Borrowed(&a), Arg::Borrowed(&b)])
        .unwrap()[0]
        .to_vec()
        .unwrap()
}

#[test]
fn second_compile_is_a_cache_hit_and_runs_the_same() {
    let dir = tempfile::tempdir().unwrap();
    let client = client_with_cache(dir.path());
    let program = fixture("dot_general");
    let first = client
        .compile(&program, &CompileOptions::default())
        .unwrap();
    let stats = client.cache_stats();
    assert_eq!((stats.hits, stats.misses, stats.stored), (0, 1, 1));
    assert_eq!(
        entries(dir.path()).len(),
        1,
        "one entry, no temp files left"
    );

    let second = client
        .compile(&program, &CompileOptions::default())
        .unwrap();
    assert_eq!(client.cache_stats().hits, 1);
    assert_eq!(run_dot(&client, &first), run_dot(&client, &second));

    // A new client (as in a new run) finds the entry on disk.
    let next_run = client_with_cache(dir.path());
    next_run
        .compile(&program, &CompileOptions::default())
        .unwrap();
    assert_eq!(next_run.cache_stats().hits, 1);
    assert_eq!(next_run.cache_stats().misses, 0);

    // The same program with other options is another entry.
    client
        .compile(&program, &CompileOptions::replicated(2))
        .unwrap();
    assert_eq!(client.cache_stats().misses, 2);
    assert_eq!(entries(dir.path()).len(), 2);
}

#[test]
fn corrupt_or_truncated_entries_fall_back_to_compiling() {
    let dir = tempfile::tempdir().unwrap();
    let client = client_with_cache(dir.path());
    let program = fixture("dot_general");
    let reference = run_dot(
        &client,
        &client
            .compile(&program, &CompileOptions::default())
            .unwrap(),
    );
    let entry = entries(dir.path()).pop().unwrap();

    // Flip a byte in the payload.
    let mut bytes = std::fs::read(&entry).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x5a;
    std::fs::write(&entry, &bytes).unwrap();
    let exe = client
        .compile(&program, &CompileOptions::default())
        .unwrap();
    assert_eq!(run_dot(&client, &exe), reference);
    let stats = client.cache_stats();
    assert_eq!((stats.hits, stats.misses, stats.discarded), (0, 2, 1));

    // The entry was rewritten and is good again; then truncate it.
    client
        .compile(&program, &CompileOptions::default())
        .unwrap();
    assert_eq!(client.cache_stats().hits, 1);
    std::fs::write(&entry, &bytes[..10]).unwrap();
    let exe = client
        .compile(&program, &CompileOptions::default())
        .unwrap();
    assert_eq!(run_dot(&client, &exe), reference);
    assert_eq!(client.cache_stats().discarded, 2);
}

#[test]
fn an_intact_entry_the_plugin_cannot_load_falls_back_to_compiling() {
    use sha2::Digest;
    let dir = tempfile::tempdir().unwrap();
    let client = client_with_cache(dir.path());
    let program = fixture("dot_general");
    let reference = run_dot(
        &client,
        &client
            .compile(&program, &CompileOptions::default())
            .unwrap(),
    );
    let entry = entries(dir.path()).pop().unwrap();

    // A well-formed envelope (magic, checksum) around bytes that are not an executable, as if
    // written by another plugin build under a colliding key.
    let payload = vec![0x0au8; 1000];
    let mut bytes = b"xlatrain-executable-v1\n".to_vec();
    bytes.extend_from_slice(&sha2::Sha256::digest(&payload));
    bytes.extend_from_slice(&payload);
    std::fs::write(&entry, &bytes).unwrap();

    let exe = client
        .compile(&program, &CompileOptions::default())
        .unwrap();
    assert_eq!(run_dot(&client, &exe), reference);
    let stats = client.cache_stats();
    assert_eq!((stats.hits, stats.discarded, stats.misses), (0, 1, 2));
}

#[test]
fn xla_flags_are_part_of_the_cache_key() {
    let client = Client::cpu().expect("the CPU plugin must be provisioned");
    let plugin = client.plugin();
    let plain = plugin.identity_with_flags(None);
    let deterministic = plugin.identity_with_flags(Some(DETERMINISTIC_GPU_OPS));
    let other = plugin.identity_with_flags(Some("--xla_gpu_deterministic_ops=false"));
    assert_ne!(plain, deterministic);
    assert_ne!(deterministic, other);
}

#[test]
fn deterministic_gpu_ops_are_requested_unless_the_user_chose() {
    assert_eq!(
        with_deterministic_gpu_ops("").as_deref(),
        Some(DETERMINISTIC_GPU_OPS)
    );
    assert_eq!(
        with_deterministic_gpu_ops("--xla_dump_to=/tmp/d").as_deref(),
        Some("--xla_dump_to=/tmp/d --xla_gpu_deterministic_ops=true")
    );
    assert_eq!(
        with_deterministic_gpu_ops("--xla_gpu_deterministic_ops=false"),
        None
    );
    assert_eq!(
        with_deterministic_gpu_ops("--xla_gpu_exclude_nondeterministic_ops=true"),
        None
    );
}
