//! Plugin provisioning: concurrent provisioning into one cache yields one intact plugin, and
//! files that do not match their sha256 are refused (and, in the cache, provisioned again).
//!
//! These tests use a small wheel built here (so they are fast and offline); the real pinned wheel
//! is downloaded by the default path, which every other test exercises through `Client::cpu()`.

use std::io::Write;
use std::path::{Path, PathBuf};

use xlatrain::pjrt::provision::{self, WheelPin};
use xlatrain::pjrt::{Client, ClientOptions};
use xlatrain::Error;

fn plugin_bytes(len: usize, seed: u64) -> Vec<u8> {
    let mut state = seed;
    (0..len)
        .map(|_| {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (state >> 33) as u8
        })
        .collect()
}

fn sha256(bytes: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Writes a wheel holding `member` with `contents` into `dir`; returns a pin describing it.
fn fake_wheel(dir: &Path, contents: &[u8]) -> WheelPin {
    let wheel_file = "fake_plugin-1.0-py3-none-any.whl";
    let member = "fake_plugin/libfake_pjrt.so";
    let path = dir.join(wheel_file);
    let mut writer = zip::ZipWriter::new(std::fs::File::create(&path).unwrap());
    writer
        .start_file(member, zip::write::SimpleFileOptions::default())
        .unwrap();
    writer.write_all(contents).unwrap();
    writer.finish().unwrap();
    WheelPin {
        package: "fake-plugin".into(),
        version: "1.0".into(),
        wheel_file: wheel_file.into(),
        wheel_sha256: sha256(&std::fs::read(&path).unwrap()),
        member: member.into(),
        python_version: None,
        cache_group: "plugins".into(),
        member_sha256: Some(sha256(contents)),
    }
}

fn directory_listing(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn concurrent_provisioning_produces_one_intact_plugin() {
    let wheels = tempfile::tempdir().unwrap();
    let cache = tempfile::tempdir().unwrap();
    let contents = plugin_bytes(3 << 20, 1);
    let pin = fake_wheel(wheels.path(), &contents);

    let paths: Vec<PathBuf> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..8)
            .map(|_| {
                scope.spawn(|| provision::provision_from(&pin, cache.path(), Some(wheels.path())))
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap().unwrap())
            .collect()
    });
    assert!(paths.iter().all(|p| p == &paths[0]));
    assert_eq!(paths[0], pin.member_path(cache.path()));
    assert_eq!(std::fs::read(&paths[0]).unwrap(), contents);
    provision::verify_provisioned(&pin, &paths[0]).unwrap();
    let dir = paths[0].parent().unwrap();
    assert_eq!(
        directory_listing(dir),
        [".lock", "libfake_pjrt.so", "libfake_pjrt.so.sha256"],
        "no temporary files may be left behind"
    );
}

#[test]
fn a_wheel_with_the_wrong_sha256_is_refused() {
    let wheels = tempfile::tempdir().unwrap();
    let cache = tempfile::tempdir().unwrap();
    let mut pin = fake_wheel(wheels.path(), &plugin_bytes(4096, 2));
    pin.wheel_sha256 = "0".repeat(64);
    let result = provision::provision_from(&pin, cache.path(), Some(wheels.path()));
    assert!(
        matches!(result, Err(Error::PluginIntegrity { .. })),
        "{result:?}"
    );
    assert!(!pin.member_path(cache.path()).exists());
}

#[test]
fn a_plugin_that_does_not_match_its_pin_is_refused() {
    let wheels = tempfile::tempdir().unwrap();
    let cache = tempfile::tempdir().unwrap();
    let mut pin = fake_wheel(wheels.path(), &plugin_bytes(4096, 3));
    pin.member_sha256 = Some(sha256(b"some other plugin"));
    let result = provision::provision_from(&pin, cache.path(), Some(wheels.path()));
    assert!(
        matches!(result, Err(Error::PluginIntegrity { .. })),
        "{result:?}"
    );
    assert!(!pin.member_path(cache.path()).exists());
}

#[test]
fn a_tampered_cached_plugin_is_refused_and_provisioned_again() {
    let wheels = tempfile::tempdir().unwrap();
    let cache = tempfile::tempdir().unwrap();
    let contents = plugin_bytes(8192, 4);
    let pin = fake_wheel(wheels.path(), &contents);
    let path = provision::provision_from(&pin, cache.path(), Some(wheels.path())).unwrap();

    std::fs::write(&path, b"not the plugin we extracted").unwrap();
    let refused = provision::verify_provisioned(&pin, &path);
    assert!(
        matches!(refused, Err(Error::PluginIntegrity { .. })),
        "{refused:?}"
    );

    let again = provision::provision_from(&pin, cache.path(), Some(wheels.path())).unwrap();
    assert_eq!(again, path);
    assert_eq!(std::fs::read(&path).unwrap(), contents);

    // A wrong recorded hash is refused as well.
    let mut sidecar = path.clone().into_os_string();
    sidecar.push(".sha256");
    std::fs::write(&sidecar, "0".repeat(64)).unwrap();
    assert!(matches!(
        provision::verify_provisioned(&pin, &path),
        Err(Error::PluginIntegrity { .. })
    ));
}

#[test]
fn a_file_that_is_not_a_plugin_is_a_load_error() {
    let dir = tempfile::tempdir().unwrap();
    let fake = dir.path().join("not_a_plugin.so");
    std::fs::write(&fake, b"plain text").unwrap();
    let result = Client::open(&ClientOptions {
        plugin: Some(fake),
        ..ClientOptions::default()
    });
    assert!(
        matches!(result, Err(Error::PluginLoad { .. })),
        "{result:?}"
    );
    let missing = Client::open(&ClientOptions {
        plugin: Some(dir.path().join("missing.so")),
        ..ClientOptions::default()
    });
    assert!(
        matches!(missing, Err(Error::PluginNotFound { .. })),
        "{missing:?}"
    );
}

#[test]
fn the_default_cpu_plugin_is_the_pinned_verified_wheel() {
    let root = provision::cache_root().unwrap();
    let path = provision::provision_cpu(&root)
        .unwrap_or_else(|e| panic!("the CPU PJRT plugin must be available: {e}"));
    let pin = WheelPin::lammps_cpu();
    assert_eq!(path, pin.member_path(&root));
    provision::verify_provisioned(&pin, &path).unwrap();
    let client = Client::open(&ClientOptions {
        plugin: Some(path.clone()),
        ..ClientOptions::default()
    })
    .unwrap();
    assert_eq!(client.plugin().path(), path.canonicalize().unwrap());
    assert_eq!(client.platform_name(), "cpu");
}
