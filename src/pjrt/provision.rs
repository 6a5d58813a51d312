//! Finding the PJRT plugin for a device kind, and provisioning the CPU plugin from a pinned PyPI
//! wheel into the per-user cache.
//!
//! Provisioning runs under an exclusive file lock (several test processes start at once), extracts
//! to a temporary file and renames it into place, so no process ever loads a half-written plugin.
//! The wheel's sha256 is checked against the pin; the extracted `.so`'s sha256 is recorded next to
//! it (and checked against the pin where known) and verified before every load, once per process.
//! A cached plugin that fails verification is provisioned again.

use std::collections::HashMap;
use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Mutex, OnceLock};

use sha2::{Digest, Sha256};

use super::cache::{hex, unique_suffix};
use super::client::DeviceKind;
use crate::{Error, Result};

/// Environment variable naming an explicit plugin file.
pub const PLUGIN_ENV: &str = "XLATRAIN_PLUGIN";
/// Environment variable overriding the per-user cache root.
pub const CACHE_DIR_ENV: &str = "XLATRAIN_CACHE_DIR";
/// Environment variable naming a directory that may already hold the pinned wheel (offline use
/// and fast tests); the wheel's sha256 is checked all the same.
pub const WHEEL_DIR_ENV: &str = "XLATRAIN_WHEEL_DIR";

/// A pinned wheel and the plugin file inside it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WheelPin {
    pub package: String,
    pub version: String,
    /// The wheel's file name (looked up in `$XLATRAIN_WHEEL_DIR`).
    pub wheel_file: String,
    pub wheel_sha256: String,
    /// Path of the plugin inside the wheel (zip member name).
    pub member: String,
    /// The plugin file's own sha256, where known.
    pub plugin_sha256: Option<String>,
}

impl WheelPin {
    /// The primary CPU plugin: `lammps-jax-pjrt-cpu==0.11.2` (PJRT C API 0.115).
    pub fn lammps_cpu() -> WheelPin {
        WheelPin {
            package: "lammps-jax-pjrt-cpu".into(),
            version: "0.11.2".into(),
            wheel_file: "lammps_jax_pjrt_cpu-0.11.2-py3-none-manylinux_2_27_x86_64.whl".into(),
            wheel_sha256: "1319390d948b39f69f7dade496b7c385149d9ca6097a6b62114da113216d9ad1".into(),
            member: "lammps_jax_pjrt_cpu/pjrt_c_api_cpu_plugin.so".into(),
            plugin_sha256: Some(
                "ad1309ac822b1b24d51b7f9947c7c9fa9ef5d67f390584cbc3d1fa2428fed9c2".into(),
            ),
        }
    }

    /// The fallback CPU plugin: `fastatomstruct-xla-cpu==2026.6.23` (PJRT C API 0.106).
    pub fn fastatomstruct_cpu() -> WheelPin {
        WheelPin {
            package: "fastatomstruct-xla-cpu".into(),
            version: "2026.6.23".into(),
            wheel_file: "fastatomstruct_xla_cpu-2026.6.23-py3-none-manylinux_2_27_x86_64.whl"
                .into(),
            wheel_sha256: "88b1c430b341b4bea40a37420311c9c75db6e22b46d2ff95b6986577bee6afe9".into(),
            member: "fastatomstruct_xla_cpu/libpjrt_cpu.so".into(),
            plugin_sha256: None,
        }
    }

    fn spec(&self) -> String {
        format!("{}=={}", self.package, self.version)
    }

    /// Where this pin's plugin lives under a cache root.
    pub fn plugin_path(&self, root: &Path) -> PathBuf {
        let file_name = self.member.rsplit('/').next().unwrap_or("plugin.so");
        root.join("plugins")
            .join(format!("{}-{}", self.package, self.version))
            .join(file_name)
    }
}

/// The per-user cache root: `$XLATRAIN_CACHE_DIR`, else `$XDG_CACHE_HOME/xlatrain`, else
/// `~/.cache/xlatrain`.
pub fn cache_root() -> Result<PathBuf> {
    let non_empty = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty());
    if let Some(dir) = non_empty(CACHE_DIR_ENV) {
        return Ok(PathBuf::from(dir));
    }
    if let Some(dir) = non_empty("XDG_CACHE_HOME") {
        return Ok(PathBuf::from(dir).join("xlatrain"));
    }
    if let Some(home) = non_empty("HOME") {
        return Ok(PathBuf::from(home).join(".cache").join("xlatrain"));
    }
    Err(Error::Usage(format!(
        "cannot find a cache directory: set {CACHE_DIR_ENV}, XDG_CACHE_HOME or HOME"
    )))
}

/// The plugin file to load: `explicit`, else `$XLATRAIN_PLUGIN`, else found for `kind`.
pub fn locate_plugin(kind: DeviceKind, explicit: Option<&Path>) -> Result<PathBuf> {
    let from_env = std::env::var_os(PLUGIN_ENV)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from);
    if let Some(path) = explicit.map(Path::to_path_buf).or(from_env) {
        if path.is_file() {
            return Ok(path);
        }
        return Err(Error::PluginNotFound {
            device: kind.to_string(),
            message: format!("plugin file {} does not exist", path.display()),
            fix: format!("pass an existing PJRT plugin with --plugin PATH (or unset {PLUGIN_ENV})"),
        });
    }
    match kind {
        DeviceKind::Cpu => provision_cpu(&cache_root()?),
        DeviceKind::Cuda => locate_cuda(),
        DeviceKind::Tpu => locate_tpu(),
    }
}

/// Provisions the CPU plugin under `root`: the primary pin, else the fallback pin.
pub fn provision_cpu(root: &Path) -> Result<PathBuf> {
    let primary = WheelPin::lammps_cpu();
    match provision(&primary, root) {
        Ok(path) => Ok(path),
        Err(primary_error) => {
            let fallback = WheelPin::fastatomstruct_cpu();
            eprintln!(
                "xlatrain: {primary_error}\nxlatrain: trying the fallback CPU plugin {}",
                fallback.spec()
            );
            provision(&fallback, root).map_err(|fallback_error| Error::PluginNotFound {
                device: "cpu".into(),
                message: format!("{primary_error}; fallback: {fallback_error}"),
                fix: format!(
                    "check network access to PyPI and run `python3 -m pip download --no-deps \
                     --only-binary=:all: {} -d DIR`, then set {WHEEL_DIR_ENV}=DIR; or pass \
                     --plugin PATH",
                    primary.spec()
                ),
            })
        }
    }
}

/// Makes sure `pin`'s plugin is extracted and verified under `root`; returns its path.
pub fn provision(pin: &WheelPin, root: &Path) -> Result<PathBuf> {
    let plugin_path = pin.plugin_path(root);
    if plugin_path.is_file() && verify_provisioned(pin, &plugin_path).is_ok() {
        return Ok(plugin_path);
    }
    let failed = |step: &str, message: String| Error::Provision {
        package: pin.spec(),
        step: step.to_string(),
        message,
    };
    let dir = plugin_path
        .parent()
        .ok_or_else(|| failed("choosing a directory", "no parent directory".into()))?
        .to_path_buf();
    std::fs::create_dir_all(&dir)
        .map_err(|e| Error::io("cannot create plugin directory", &dir, e))?;
    let lock_path = dir.join(".lock");
    let lock = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .map_err(|e| Error::io("cannot open the provisioning lock", &lock_path, e))?;
    lock.lock()
        .map_err(|e| Error::io("cannot take the provisioning lock", &lock_path, e))?;

    // Another process may have finished while we waited for the lock.
    if plugin_path.is_file() {
        match verify_provisioned(pin, &plugin_path) {
            Ok(()) => return Ok(plugin_path),
            Err(e) => {
                eprintln!("xlatrain: {e}; provisioning it again");
                let _ = std::fs::remove_file(&plugin_path);
                let _ = std::fs::remove_file(sidecar_path(&plugin_path));
                forget_hash(&plugin_path);
            }
        }
    }

    let work_dir = dir.join(format!(".work-{}-{}", std::process::id(), unique_suffix()));
    std::fs::create_dir_all(&work_dir)
        .map_err(|e| Error::io("cannot create work directory", &work_dir, e))?;
    let result = fetch_and_extract(pin, &plugin_path, &work_dir);
    let _ = std::fs::remove_dir_all(&work_dir);
    drop(lock);
    result.map(|()| plugin_path)
}

fn fetch_and_extract(pin: &WheelPin, plugin_path: &Path, work_dir: &Path) -> Result<()> {
    let failed = |step: &str, message: String| Error::Provision {
        package: pin.spec(),
        step: step.to_string(),
        message,
    };
    let wheel = obtain_wheel(pin, work_dir)?;
    let wheel_sha = sha256_file(&wheel)?;
    if wheel_sha != pin.wheel_sha256 {
        return Err(Error::PluginIntegrity {
            path: wheel,
            expected: pin.wheel_sha256.clone(),
            actual: wheel_sha,
        });
    }
    eprintln!(
        "xlatrain: extracting {} to {}",
        pin.member,
        plugin_path.display()
    );
    let wheel_file = File::open(&wheel).map_err(|e| Error::io("cannot open wheel", &wheel, e))?;
    let mut archive = zip::ZipArchive::new(wheel_file)
        .map_err(|e| failed("reading the wheel", format!("{}: {e}", wheel.display())))?;
    let mut member = archive.by_name(&pin.member).map_err(|e| {
        failed(
            "reading the wheel",
            format!("no {} inside: {e}", pin.member),
        )
    })?;

    let dir = plugin_path.parent().unwrap_or(work_dir);
    let temp_plugin = dir.join(format!(
        ".plugin-{}-{}.tmp",
        std::process::id(),
        unique_suffix()
    ));
    let plugin_sha = (|| -> Result<String> {
        let mut out =
            File::create(&temp_plugin).map_err(|e| Error::io("cannot create", &temp_plugin, e))?;
        let mut hasher = Sha256::new();
        let mut chunk = vec![0u8; 1 << 20];
        loop {
            let n = member
                .read(&mut chunk)
                .map_err(|e| failed("decompressing the plugin", e.to_string()))?;
            if n == 0 {
                break;
            }
            hasher.update(&chunk[..n]);
            out.write_all(&chunk[..n])
                .map_err(|e| Error::io("cannot write", &temp_plugin, e))?;
        }
        out.sync_all()
            .map_err(|e| Error::io("cannot sync", &temp_plugin, e))?;
        Ok(hex(&hasher.finalize()))
    })();
    let plugin_sha = match plugin_sha {
        Ok(sha) => sha,
        Err(e) => {
            let _ = std::fs::remove_file(&temp_plugin);
            return Err(e);
        }
    };
    if let Some(expected) = &pin.plugin_sha256 {
        if &plugin_sha != expected {
            let _ = std::fs::remove_file(&temp_plugin);
            return Err(Error::PluginIntegrity {
                path: plugin_path.to_path_buf(),
                expected: expected.clone(),
                actual: plugin_sha,
            });
        }
    }
    // The sidecar goes first: a plugin file without its recorded hash would fail verification.
    let sidecar = sidecar_path(plugin_path);
    let temp_sidecar = dir.join(format!(
        ".sha-{}-{}.tmp",
        std::process::id(),
        unique_suffix()
    ));
    std::fs::write(&temp_sidecar, format!("{plugin_sha}\n"))
        .and_then(|()| std::fs::rename(&temp_sidecar, &sidecar))
        .map_err(|e| Error::io("cannot record the plugin's sha256", &sidecar, e))?;
    std::fs::rename(&temp_plugin, plugin_path)
        .map_err(|e| Error::io("cannot move the plugin into place", plugin_path, e))?;
    remember_hash(plugin_path, &plugin_sha);
    Ok(())
}

/// The wheel from `$XLATRAIN_WHEEL_DIR` if present there, else downloaded with pip.
fn obtain_wheel(pin: &WheelPin, work_dir: &Path) -> Result<PathBuf> {
    if let Some(dir) = std::env::var_os(WHEEL_DIR_ENV).filter(|v| !v.is_empty()) {
        let candidate = PathBuf::from(dir).join(&pin.wheel_file);
        if candidate.is_file() {
            eprintln!("xlatrain: using local wheel {}", candidate.display());
            return Ok(candidate);
        }
    }
    eprintln!(
        "xlatrain: downloading the PJRT CPU plugin: python3 -m pip download --no-deps \
         --only-binary=:all: {} -d {}",
        pin.spec(),
        work_dir.display()
    );
    let status = Command::new("python3")
        .args(["-m", "pip", "download", "--no-deps", "--only-binary=:all:"])
        .arg(pin.spec())
        .arg("-d")
        .arg(work_dir)
        .stdout(std::io::stderr())
        .status()
        .map_err(|e| Error::PluginNotFound {
            device: "cpu".into(),
            message: format!("cannot run python3 to download {}: {e}", pin.spec()),
            fix: "install python3 with pip, or pass --plugin PATH".into(),
        })?;
    if !status.success() {
        return Err(Error::Provision {
            package: pin.spec(),
            step: "downloading the wheel".into(),
            message: format!("pip download exited with {status}"),
        });
    }
    let entries = std::fs::read_dir(work_dir).map_err(|e| Error::io("cannot list", work_dir, e))?;
    entries
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .find(|path| path.extension().is_some_and(|ext| ext == "whl"))
        .ok_or_else(|| Error::Provision {
            package: pin.spec(),
            step: "downloading the wheel".into(),
            message: "pip succeeded but left no .whl file".into(),
        })
}

fn sidecar_path(plugin_path: &Path) -> PathBuf {
    let mut name = plugin_path.file_name().unwrap_or_default().to_os_string();
    name.push(".sha256");
    plugin_path.with_file_name(name)
}

/// Checks a provisioned plugin against its recorded sha256 (and the pin's, where known).
pub fn verify_provisioned(pin: &WheelPin, plugin_path: &Path) -> Result<()> {
    let sidecar = sidecar_path(plugin_path);
    let recorded = std::fs::read_to_string(&sidecar)
        .map_err(|e| Error::io("cannot read the plugin's recorded sha256", &sidecar, e))?;
    let recorded = recorded.trim().to_string();
    let actual = memoized_sha256(plugin_path)?;
    let expected = pin.plugin_sha256.clone().unwrap_or(recorded.clone());
    if actual != recorded || actual != expected {
        return Err(Error::PluginIntegrity {
            path: plugin_path.to_path_buf(),
            expected,
            actual,
        });
    }
    Ok(())
}

/// sha256 of files hashed in this process, so a 200 MB plugin is hashed once per process.
fn hash_memo() -> &'static Mutex<HashMap<PathBuf, String>> {
    static MEMO: OnceLock<Mutex<HashMap<PathBuf, String>>> = OnceLock::new();
    MEMO.get_or_init(|| Mutex::new(HashMap::new()))
}

fn memoized_sha256(path: &Path) -> Result<String> {
    let mut memo = hash_memo().lock().unwrap_or_else(|p| p.into_inner());
    if let Some(sha) = memo.get(path) {
        return Ok(sha.clone());
    }
    let sha = sha256_file(path)?;
    memo.insert(path.to_path_buf(), sha.clone());
    Ok(sha)
}

fn remember_hash(path: &Path, sha: &str) {
    let mut memo = hash_memo().lock().unwrap_or_else(|p| p.into_inner());
    memo.insert(path.to_path_buf(), sha.to_string());
}

fn forget_hash(path: &Path) {
    let mut memo = hash_memo().lock().unwrap_or_else(|p| p.into_inner());
    memo.remove(path);
}

/// The hex sha256 of a file, streamed.
pub fn sha256_file(path: &Path) -> Result<String> {
    let mut file = File::open(path).map_err(|e| Error::io("cannot open for hashing", path, e))?;
    let mut hasher = Sha256::new();
    let mut chunk = vec![0u8; 1 << 20];
    loop {
        let n = file
            .read(&mut chunk)
            .map_err(|e| Error::io("cannot read for hashing", path, e))?;
        if n == 0 {
            break;
        }
        hasher.update(&chunk[..n]);
    }
    Ok(hex(&hasher.finalize()))
}

/// Site-packages directories of the `python3` on PATH.
fn python_site_dirs() -> Vec<PathBuf> {
    let script = "import site, sys\n\
                  paths = list(getattr(site, 'getsitepackages', lambda: [])())\n\
                  paths.append(site.getusersitepackages())\n\
                  paths.extend(sys.path)\n\
                  print('\\n'.join(p for p in paths if p))";
    let Ok(output) = Command::new("python3").args(["-c", script]).output() else {
        return Vec::new();
    };
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(PathBuf::from)
        .filter(|p| p.is_dir())
        .collect()
}

fn locate_cuda() -> Result<PathBuf> {
    let candidates = [
        "jax_plugins/xla_cuda13/xla_cuda_plugin.so",
        "jax_plugins/xla_cuda12/xla_cuda_plugin.so",
    ];
    let dirs = python_site_dirs();
    for dir in &dirs {
        for candidate in candidates {
            let path = dir.join(candidate);
            if path.is_file() {
                return Ok(path);
            }
        }
    }
    Err(Error::PluginNotFound {
        device: "cuda".into(),
        message: format!(
            "no jax_plugins/xla_cuda12 or xla_cuda13 plugin in the site-packages of python3 \
             (searched {} directories)",
            dirs.len()
        ),
        fix: "run `python3 -m pip install jax-cuda12-pjrt` (or jax-cuda13-pjrt), or pass \
              --plugin /path/to/xla_cuda_plugin.so"
            .into(),
    })
}

fn locate_tpu() -> Result<PathBuf> {
    if let Some(path) = std::env::var_os("TPU_LIBRARY_PATH").filter(|v| !v.is_empty()) {
        let path = PathBuf::from(path);
        if path.is_file() {
            return Ok(path);
        }
        return Err(Error::PluginNotFound {
            device: "tpu".into(),
            message: format!("TPU_LIBRARY_PATH={} is not a file", path.display()),
            fix: "point TPU_LIBRARY_PATH at libtpu.so, or pass --plugin PATH".into(),
        });
    }
    let dirs = python_site_dirs();
    for dir in &dirs {
        let path = dir.join("libtpu/libtpu.so");
        if path.is_file() {
            return Ok(path);
        }
    }
    Err(Error::PluginNotFound {
        device: "tpu".into(),
        message:
            "no libtpu/libtpu.so in the site-packages of python3 and TPU_LIBRARY_PATH is unset"
                .into(),
        fix: "run `python3 -m pip install libtpu`, set TPU_LIBRARY_PATH, or pass --plugin PATH"
            .into(),
    })
}
