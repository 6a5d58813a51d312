//! Loading a PJRT plugin: `dlopen` it once, fetch its function table with `GetPjrtApi`, check the
//! API version and table size, call `PJRT_Plugin_Initialize`, read its attributes. A plugin is
//! never unloaded (XLA plugins start threads and register global state that does not survive
//! `dlclose`), so a loaded [`Plugin`] is `'static` and shared by every client in the process.
//!
//! Also home of the error plumbing: every PJRT call returns an owned `PJRT_Error*` or null, and
//! [`Plugin::check`] turns it into [`Error::Pjrt`] with the plugin's message and code, then frees it.

use std::ffi::c_char;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

use super::ffi::{self, PjrtFn};
use crate::{Error, Result};

/// A loaded, initialized plugin. Lives for the rest of the process.
pub struct Plugin {
    raw: &'static ffi::PJRT_Api,
    path: PathBuf,
    api_major: i32,
    api_minor: i32,
    attributes: Vec<(String, String)>,
    file_stamp: String,
}

// SAFETY: the function table is immutable after `GetPjrtApi` returns, and the PJRT C API is
// documented as thread-safe for every entry point we call (clients, buffers and executables may be
// used from any thread). The remaining fields are plain owned data.
unsafe impl Send for Plugin {}
// SAFETY: as above; `&Plugin` only reads the table and owned data.
unsafe impl Sync for Plugin {}

/// Plugins loaded so far, by canonical path; entries are leaked and never removed.
static LOADED: Mutex<Vec<&'static Plugin>> = Mutex::new(Vec::new());

/// Loads (or returns the already loaded) plugin at `path`.
pub fn load(path: &Path) -> Result<&'static Plugin> {
    let canonical = path.canonicalize().map_err(|e| Error::PluginLoad {
        path: path.to_path_buf(),
        message: format!("cannot resolve the file: {e}"),
    })?;
    let mut loaded = LOADED
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some(plugin) = loaded.iter().find(|p| p.path == canonical) {
        return Ok(plugin);
    }
    quiet_plugin_logs();
    let plugin: &'static Plugin = Box::leak(Box::new(open(&canonical)?));
    loaded.push(plugin);
    Ok(plugin)
}

/// Sets `TF_CPP_MIN_LOG_LEVEL=3` unless the user chose a level, so XLA's INFO lines and stack
/// dumps stay off the terminal. Runs once, before the first plugin is loaded.
///
/// Why this is sound although `set_var` is not thread-safe in general: it runs while `LOADED` is
/// locked and before any plugin code exists in the process, so no plugin thread can be calling
/// `getenv`; Rust threads read the environment through std's own lock, which `set_var` takes too.
/// xlatrain itself links no other C library that reads the environment from a background thread.
fn quiet_plugin_logs() {
    static ONCE: OnceLock<()> = OnceLock::new();
    ONCE.get_or_init(|| {
        if std::env::var_os("TF_CPP_MIN_LOG_LEVEL").is_none() {
            std::env::set_var("TF_CPP_MIN_LOG_LEVEL", "3");
        }
    });
}

/// The XLA flag that makes GPU kernels deterministic (no atomics in scatter and reductions).
pub const DETERMINISTIC_GPU_OPS: &str = "--xla_gpu_deterministic_ops=true";

/// Asks XLA's GPU compiler for deterministic kernels unless `XLA_FLAGS` already says something
/// about determinism. Without it, two identical runs on a GPU diverge in the last bits after a
/// few steps (the embedding gradient's scatter-add uses atomics; measured on an H200), and a
/// resumed run can never match an uninterrupted one bit for bit. Opt out with
/// `XLA_FLAGS=--xla_gpu_deterministic_ops=false`.
///
/// Only before the first plugin is loaded: the same reasoning as [`quiet_plugin_logs`] makes the
/// environment change sound then, and XLA reads `XLA_FLAGS` once.
pub(crate) fn prefer_deterministic_gpu_ops() {
    let loaded = LOADED
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if !loaded.is_empty() {
        return;
    }
    let current = std::env::var("XLA_FLAGS").unwrap_or_default();
    if let Some(flags) = with_deterministic_gpu_ops(&current) {
        std::env::set_var("XLA_FLAGS", flags);
    }
}

/// `XLA_FLAGS` with [`DETERMINISTIC_GPU_OPS`] added, or `None` when the user already chose.
pub fn with_deterministic_gpu_ops(current: &str) -> Option<String> {
    if current.contains("deterministic_ops") {
        return None;
    }
    Some(match current.trim() {
        "" => DETERMINISTIC_GPU_OPS.to_string(),
        flags => format!("{flags} {DETERMINISTIC_GPU_OPS}"),
    })
}

fn load_error(path: &Path, message: impl Into<String>) -> Error {
    Error::PluginLoad {
        path: path.to_path_buf(),
        message: message.into(),
    }
}

fn open(path: &Path) -> Result<Plugin> {
    // SAFETY: loading a shared library runs its initializers. The file is a PJRT plugin chosen by
    // the user or provisioned (and sha256-checked) by us; that is the trust boundary of the whole
    // design. The library is leaked below and never unloaded.
    let library = unsafe { libloading::Library::new(path) }
        .map_err(|e| load_error(path, format!("dlopen failed: {e}")))?;
    let library: &'static libloading::Library = Box::leak(Box::new(library));
    // SAFETY: `GetPjrtApi` has the signature `const PJRT_Api* GetPjrtApi(void)` in every PJRT
    // plugin; the symbol stays valid because the library is never unloaded.
    let get_api = unsafe { library.get::<ffi::GetPjrtApiFn>(b"GetPjrtApi\0") }
        .map_err(|e| load_error(path, format!("not a PJRT plugin (no GetPjrtApi): {e}")))?;
    // SAFETY: calling the plugin's entry point, which takes no arguments.
    let api_ptr = unsafe { get_api() };
    if api_ptr.is_null() {
        return Err(load_error(path, "GetPjrtApi returned null"));
    }
    // SAFETY: the plugin returned a non-null pointer to its static function table; the first
    // field is `struct_size` in every version of the API, so reading it alone is valid.
    let table_size = unsafe { (*api_ptr).struct_size };
    let needed = std::mem::size_of::<ffi::PJRT_Api>();
    if table_size < needed {
        return Err(load_error(
            path,
            format!(
                "PJRT function table has {table_size} bytes, xlatrain needs {needed} \
                 (the plugin is older than PJRT C API 0.{}); install a newer plugin",
                ffi::PJRT_API_MINOR
            ),
        ));
    }
    // SAFETY: the table is at least as large as our declaration and lives forever (static data in
    // a library that is never unloaded).
    let raw: &'static ffi::PJRT_Api = unsafe { &*api_ptr };
    let api_major = raw.pjrt_api_version.major_version;
    let api_minor = raw.pjrt_api_version.minor_version;
    if api_major != ffi::PJRT_API_MAJOR {
        return Err(load_error(
            path,
            format!(
                "PJRT C API version {api_major}.{api_minor} is not supported \
                 (xlatrain speaks major version {})",
                ffi::PJRT_API_MAJOR
            ),
        ));
    }
    let missing = missing_slots(raw);
    if !missing.is_empty() {
        return Err(load_error(
            path,
            format!("function table lacks {}", missing.join(", ")),
        ));
    }
    let mut plugin = Plugin {
        raw,
        path: path.to_path_buf(),
        api_major,
        api_minor,
        attributes: Vec::new(),
        file_stamp: file_stamp(path),
    };
    let mut init = ffi::PJRT_Plugin_Initialize_Args::new();
    // SAFETY: `init` is a correctly sized Args struct with no pointers to fill.
    unsafe {
        plugin.call(
            "PJRT_Plugin_Initialize",
            raw.PJRT_Plugin_Initialize,
            &mut init,
        )
    }?;
    plugin.attributes = plugin.read_attributes()?;
    Ok(plugin)
}

/// Names of function-table slots xlatrain calls that the plugin left empty.
fn missing_slots(raw: &ffi::PJRT_Api) -> Vec<&'static str> {
    let slots: [(&'static str, bool); 37] = [
        ("PJRT_Error_Destroy", raw.PJRT_Error_Destroy.is_some()),
        ("PJRT_Error_Message", raw.PJRT_Error_Message.is_some()),
        ("PJRT_Error_GetCode", raw.PJRT_Error_GetCode.is_some()),
        (
            "PJRT_Plugin_Initialize",
            raw.PJRT_Plugin_Initialize.is_some(),
        ),
        (
            "PJRT_Plugin_Attributes",
            raw.PJRT_Plugin_Attributes.is_some(),
        ),
        ("PJRT_Event_Destroy", raw.PJRT_Event_Destroy.is_some()),
        ("PJRT_Event_Await", raw.PJRT_Event_Await.is_some()),
        ("PJRT_Client_Create", raw.PJRT_Client_Create.is_some()),
        ("PJRT_Client_Destroy", raw.PJRT_Client_Destroy.is_some()),
        (
            "PJRT_Client_PlatformName",
            raw.PJRT_Client_PlatformName.is_some(),
        ),
        (
            "PJRT_Client_PlatformVersion",
            raw.PJRT_Client_PlatformVersion.is_some(),
        ),
        ("PJRT_Client_Devices", raw.PJRT_Client_Devices.is_some()),
        (
            "PJRT_Client_AddressableDevices",
            raw.PJRT_Client_AddressableDevices.is_some(),
        ),
        ("PJRT_Client_Compile", raw.PJRT_Client_Compile.is_some()),
        (
            "PJRT_Client_BufferFromHostBuffer",
            raw.PJRT_Client_BufferFromHostBuffer.is_some(),
        ),
        (
            "PJRT_DeviceDescription_Id",
            raw.PJRT_DeviceDescription_Id.is_some(),
        ),
        (
            "PJRT_DeviceDescription_Kind",
            raw.PJRT_DeviceDescription_Kind.is_some(),
        ),
        (
            "PJRT_DeviceDescription_DebugString",
            raw.PJRT_DeviceDescription_DebugString.is_some(),
        ),
        (
            "PJRT_Device_GetDescription",
            raw.PJRT_Device_GetDescription.is_some(),
        ),
        (
            "PJRT_Executable_Destroy",
            raw.PJRT_Executable_Destroy.is_some(),
        ),
        (
            "PJRT_Executable_NumReplicas",
            raw.PJRT_Executable_NumReplicas.is_some(),
        ),
        (
            "PJRT_Executable_NumPartitions",
            raw.PJRT_Executable_NumPartitions.is_some(),
        ),
        (
            "PJRT_Executable_NumOutputs",
            raw.PJRT_Executable_NumOutputs.is_some(),
        ),
        (
            "PJRT_Executable_Serialize",
            raw.PJRT_Executable_Serialize.is_some(),
        ),
        (
            "PJRT_LoadedExecutable_Destroy",
            raw.PJRT_LoadedExecutable_Destroy.is_some(),
        ),
        (
            "PJRT_LoadedExecutable_GetExecutable",
            raw.PJRT_LoadedExecutable_GetExecutable.is_some(),
        ),
        (
            "PJRT_LoadedExecutable_AddressableDevices",
            raw.PJRT_LoadedExecutable_AddressableDevices.is_some(),
        ),
        (
            "PJRT_LoadedExecutable_Execute",
            raw.PJRT_LoadedExecutable_Execute.is_some(),
        ),
        (
            "PJRT_Executable_DeserializeAndLoad",
            raw.PJRT_Executable_DeserializeAndLoad.is_some(),
        ),
        ("PJRT_Buffer_Destroy", raw.PJRT_Buffer_Destroy.is_some()),
        (
            "PJRT_Buffer_ElementType",
            raw.PJRT_Buffer_ElementType.is_some(),
        ),
        (
            "PJRT_Buffer_Dimensions",
            raw.PJRT_Buffer_Dimensions.is_some(),
        ),
        ("PJRT_Buffer_Device", raw.PJRT_Buffer_Device.is_some()),
        ("PJRT_Buffer_Delete", raw.PJRT_Buffer_Delete.is_some()),
        ("PJRT_Buffer_IsDeleted", raw.PJRT_Buffer_IsDeleted.is_some()),
        (
            "PJRT_Buffer_ToHostBuffer",
            raw.PJRT_Buffer_ToHostBuffer.is_some(),
        ),
        ("PJRT_Event_Destroy", raw.PJRT_Event_Destroy.is_some()),
    ];
    slots
        .iter()
        .filter(|(_, present)| !present)
        .map(|(name, _)| *name)
        .collect()
}

/// Size and modification time of the plugin file: part of the executable-cache key, so that a
/// replaced plugin never receives executables serialized by another build.
fn file_stamp(path: &Path) -> String {
    match std::fs::metadata(path) {
        Ok(meta) => {
            let modified = meta
                .modified()
                .ok()
                .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                .map(|d| d.as_nanos())
                .unwrap_or(0);
            format!("{}:{}", meta.len(), modified)
        }
        Err(_) => String::from("unknown"),
    }
}

/// Copies `len` bytes at `ptr` into a `String` (lossy UTF-8); null gives the empty string.
///
/// # Safety
/// `ptr` must be null or point to `len` readable bytes.
pub(crate) unsafe fn string_from(ptr: *const c_char, len: usize) -> String {
    if ptr.is_null() || len == 0 {
        return String::new();
    }
    // SAFETY: guaranteed by the caller.
    let bytes = unsafe { std::slice::from_raw_parts(ptr.cast::<u8>(), len) };
    String::from_utf8_lossy(bytes).into_owned()
}

/// The canonical names of `PJRT_Error_Code` values (they follow absl::StatusCode).
fn code_name(code: i32) -> &'static str {
    match code {
        0 => "OK",
        1 => "CANCELLED",
        2 => "UNKNOWN",
        3 => "INVALID_ARGUMENT",
        4 => "DEADLINE_EXCEEDED",
        5 => "NOT_FOUND",
        6 => "ALREADY_EXISTS",
        7 => "PERMISSION_DENIED",
        8 => "RESOURCE_EXHAUSTED",
        9 => "FAILED_PRECONDITION",
        10 => "ABORTED",
        11 => "OUT_OF_RANGE",
        12 => "UNIMPLEMENTED",
        13 => "INTERNAL",
        14 => "UNAVAILABLE",
        15 => "DATA_LOSS",
        16 => "UNAUTHENTICATED",
        _ => "UNRECOGNIZED",
    }
}

impl Plugin {
    /// The function table; wrappers in this module tree call through it.
    pub(crate) fn raw(&self) -> &'static ffi::PJRT_Api {
        self.raw
    }

    /// The canonical path the plugin was loaded from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The plugin's PJRT C API version `(major, minor)`.
    pub fn api_version(&self) -> (i32, i32) {
        (self.api_major, self.api_minor)
    }

    /// Plugin attributes (`xla_version`, `stablehlo_current_version`, ...) as text.
    pub fn attributes(&self) -> &[(String, String)] {
        &self.attributes
    }

    /// One attribute by name.
    pub fn attribute(&self, name: &str) -> Option<&str> {
        self.attributes
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }

    /// Everything that decides whether a serialized executable fits this plugin: file, size,
    /// mtime, API version and version attributes.
    pub fn identity(&self) -> String {
        self.identity_with_flags(std::env::var("XLA_FLAGS").ok().as_deref())
    }

    /// [`Self::identity`] for a given `XLA_FLAGS` value: the flags change what the compiler
    /// emits (e.g. deterministic GPU kernels), so an executable compiled under other flags must
    /// not be served from the cache.
    pub fn identity_with_flags(&self, xla_flags: Option<&str>) -> String {
        let mut identity = format!(
            "path={}\nstamp={}\napi={}.{}\n",
            self.path.display(),
            self.file_stamp,
            self.api_major,
            self.api_minor
        );
        for (key, value) in &self.attributes {
            identity.push_str(&format!("{key}={value}\n"));
        }
        if let Some(flags) = xla_flags {
            identity.push_str(&format!("xla_flags={flags}\n"));
        }
        identity
    }

    /// Calls one PJRT entry point and converts its error.
    ///
    /// # Safety
    /// `args` must be a correctly initialized Args struct for `slot`: every input pointer valid
    /// for the duration of the call, as the C API documents for that function.
    pub(crate) unsafe fn call<A>(
        &self,
        name: &'static str,
        slot: Option<PjrtFn<A>>,
        args: &mut A,
    ) -> Result<()> {
        let Some(function) = slot else {
            return Err(load_error(&self.path, format!("{name} is not implemented")));
        };
        // SAFETY: delegated to the caller (see above); the function pointer comes from the
        // plugin's table, which was checked to be large enough.
        let error = unsafe { function(args) };
        self.check(name, error)
    }

    /// Converts an owned `PJRT_Error*` into our error (null is success) and destroys it.
    pub(crate) fn check(&self, function: &'static str, error: *mut ffi::PJRT_Error) -> Result<()> {
        if error.is_null() {
            return Ok(());
        }
        let mut message_args = ffi::PJRT_Error_Message_Args::new();
        message_args.error = error;
        let mut message = String::from("(the plugin gave no message)");
        if let Some(message_fn) = self.raw.PJRT_Error_Message {
            // SAFETY: `error` is a live error returned by the plugin; the message pointer it
            // returns stays valid until the error is destroyed, which happens below.
            unsafe { message_fn(&mut message_args) };
            // SAFETY: as above, `message`/`message_size` describe the plugin's buffer.
            message = unsafe { string_from(message_args.message, message_args.message_size) };
        }
        let mut code_args = ffi::PJRT_Error_GetCode_Args::new();
        code_args.error = error;
        let mut code = 2;
        if let Some(code_fn) = self.raw.PJRT_Error_GetCode {
            // SAFETY: `error` is live; GetCode only writes `code`. Its own returned error (if any)
            // is ignored on purpose: we are already reporting one, and it is null in practice.
            let nested = unsafe { code_fn(&mut code_args) };
            if nested.is_null() {
                code = code_args.code;
            } else {
                self.destroy_error(nested);
            }
        }
        self.destroy_error(error);
        Err(Error::Pjrt {
            function,
            code,
            code_name: code_name(code),
            message,
        })
    }

    fn destroy_error(&self, error: *mut ffi::PJRT_Error) {
        if let Some(destroy) = self.raw.PJRT_Error_Destroy {
            let mut args = ffi::PJRT_Error_Destroy_Args::new();
            args.error = error;
            // SAFETY: `error` is an owned error from this plugin, destroyed exactly once.
            unsafe { destroy(&mut args) };
        }
    }

    fn read_attributes(&self) -> Result<Vec<(String, String)>> {
        let mut args = ffi::PJRT_Plugin_Attributes_Args::new();
        // SAFETY: the Args struct is sized and zeroed; the plugin fills the out fields.
        unsafe {
            self.call(
                "PJRT_Plugin_Attributes",
                self.raw.PJRT_Plugin_Attributes,
                &mut args,
            )
        }?;
        let mut attributes = Vec::with_capacity(args.num_attributes);
        for index in 0..args.num_attributes {
            // SAFETY: the plugin returned an array of `num_attributes` named values that lives as
            // long as the plugin (it is static data of the plugin).
            let value = unsafe { &*args.attributes.add(index) };
            // SAFETY: each named value's pointers describe plugin-owned memory of the stated sizes.
            attributes.push(unsafe { named_value_to_text(value) });
        }
        Ok(attributes)
    }
}

/// Renders one `PJRT_NamedValue` as `(name, value text)`.
///
/// # Safety
/// The value's name and payload pointers must be valid for their stated sizes.
pub(crate) unsafe fn named_value_to_text(value: &ffi::PJRT_NamedValue) -> (String, String) {
    // SAFETY: guaranteed by the caller.
    let name = unsafe { string_from(value.name, value.name_size) };
    // SAFETY: the live union member is selected by `type_`, as the C API specifies; list and
    // string payloads have `value_size` elements.
    let text = unsafe {
        match value.type_ {
            ffi::PJRT_NAMED_VALUE_STRING => string_from(value.value.string_value, value.value_size),
            ffi::PJRT_NAMED_VALUE_INT64 => value.value.int64_value.to_string(),
            ffi::PJRT_NAMED_VALUE_INT64_LIST => {
                let list = value.value.int64_array_value;
                if list.is_null() || value.value_size == 0 {
                    String::from("[]")
                } else {
                    let items = std::slice::from_raw_parts(list, value.value_size);
                    format!("{items:?}")
                }
            }
            ffi::PJRT_NAMED_VALUE_FLOAT => value.value.float_value.to_string(),
            ffi::PJRT_NAMED_VALUE_BOOL => value.value.bool_value.to_string(),
            other => format!("<unknown named-value type {other}>"),
        }
    };
    (name, text)
}
