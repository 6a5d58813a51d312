//! Finding the PJRT plugin for a device kind, and provisioning the CPU plugin from a pinned PyPI
//! wheel into the per-user cache.
//!
//! The download, the sha256 checks, the lock and the cache are [`crate::provision`]'s, which the
//! test fixtures share; this file holds the plugins' pins and where GPU and TPU plugins are found.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::client::DeviceKind;
pub use crate::provision::{
    cache_root, provision, provision_from, sha256_file, verify_provisioned, WheelPin,
    CACHE_DIR_ENV, WHEEL_DIR_ENV,
};
use crate::{Error, Result};

/// Environment variable naming an explicit plugin file.
pub const PLUGIN_ENV: &str = "XLATRAIN_PLUGIN";
/// The cache subdirectory of the plugins.
const PLUGIN_CACHE_GROUP: &str = "plugins";

/// The pins of the CPU plugins.
impl WheelPin {
    /// The primary CPU plugin: `lammps-jax-pjrt-cpu==0.11.2` (PJRT C API 0.115).
    pub fn lammps_cpu() -> WheelPin {
        WheelPin {
            package: "lammps-jax-pjrt-cpu".into(),
            version: "0.11.2".into(),
            wheel_file: "lammps_jax_pjrt_cpu-0.11.2-py3-none-manylinux_2_27_x86_64.whl".into(),
            wheel_sha256: "1319390d948b39f69f7dade496b7c385149d9ca6097a6b62114da113216d9ad1".into(),
            member: "lammps_jax_pjrt_cpu/pjrt_c_api_cpu_plugin.so".into(),
            python_version: None,
            cache_group: PLUGIN_CACHE_GROUP.into(),
            member_sha256: Some(
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
            python_version: None,
            cache_group: PLUGIN_CACHE_GROUP.into(),
            member_sha256: None,
        }
    }
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
            log::warn!(
                "{primary_error}; trying the fallback CPU plugin {}",
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
