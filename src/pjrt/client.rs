//! A PJRT client: one plugin instance with its devices. Opening one finds (or provisions) the
//! plugin, loads it, creates the client with its options and reads the device list; compiling,
//! uploading and deserializing all start here.

use std::ffi::c_char;
use std::path::PathBuf;
use std::sync::Arc;

use super::api::{self, Plugin};
use super::buffer::Buffer;
use super::cache::{CacheStats, ExecutableCache};
use super::compile_options::CompileOptions;
use super::dtype::NativeType;
use super::executable::Executable;
use super::{ffi, provision};
use crate::DType;
use crate::{Error, Result};

/// Which kind of accelerator plugin to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum DeviceKind {
    #[default]
    Cpu,
    Cuda,
    Tpu,
}

impl std::fmt::Display for DeviceKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            DeviceKind::Cpu => "cpu",
            DeviceKind::Cuda => "cuda",
            DeviceKind::Tpu => "tpu",
        })
    }
}

/// How to open a client.
#[derive(Debug, Clone, Default)]
pub struct ClientOptions {
    pub device: DeviceKind,
    /// An explicit plugin file; otherwise `$XLATRAIN_PLUGIN`, otherwise found per `device`.
    pub plugin: Option<PathBuf>,
    /// Number of CPU devices (the CPU plugin's `cpu_device_count` create option).
    pub cpu_device_count: Option<i64>,
    /// Where compiled executables are cached; `None` = `<per-user cache>/executables`.
    pub cache_dir: Option<PathBuf>,
}

/// One device as the plugin describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceInfo {
    /// The global device id (what a device assignment names).
    pub id: usize,
    /// The plugin's device kind, e.g. `cpu`.
    pub kind: String,
    pub debug_string: String,
    /// Whether this process can place buffers on it.
    pub addressable: bool,
}

/// The shared state behind a [`Client`]; buffers and executables keep it alive.
pub(crate) struct ClientInner {
    pub(crate) plugin: &'static Plugin,
    pub(crate) raw: *mut ffi::PJRT_Client,
    /// Addressable devices, in the plugin's order; buffer "device indices" index this list.
    pub(crate) addressable: Vec<*mut ffi::PJRT_Device>,
    pub(crate) devices: Vec<DeviceInfo>,
    pub(crate) addressable_ids: Vec<usize>,
    pub(crate) cache: ExecutableCache,
}

// SAFETY: a PJRT client and its device handles are thread-safe objects in every PJRT
// implementation (JAX drives one client from many threads); the raw pointers are only handed to
// the plugin, never dereferenced by us.
unsafe impl Send for ClientInner {}
// SAFETY: as above.
unsafe impl Sync for ClientInner {}

impl Drop for ClientInner {
    fn drop(&mut self) {
        let mut args = ffi::PJRT_Client_Destroy_Args::new();
        args.client = self.raw;
        // SAFETY: the client is owned by this struct and destroyed once; every buffer and
        // executable holds an `Arc` to it, so none outlives it.
        let result = unsafe {
            self.plugin.call(
                "PJRT_Client_Destroy",
                self.plugin.raw().PJRT_Client_Destroy,
                &mut args,
            )
        };
        if let Err(e) = result {
            log::warn!("{e}");
        }
    }
}

/// A PJRT client. Cheap to clone (shared handle); `Send + Sync`.
#[derive(Clone)]
pub struct Client {
    pub(crate) inner: Arc<ClientInner>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("plugin", &self.inner.plugin.path())
            .field("devices", &self.inner.devices.len())
            .finish()
    }
}

impl Client {
    /// Finds or provisions the plugin, loads it and creates a client.
    pub fn open(opts: &ClientOptions) -> Result<Client> {
        let plugin_path = provision::locate_plugin(opts.device, opts.plugin.as_deref())?;
        let names_cuda = plugin_path
            .to_string_lossy()
            .to_lowercase()
            .contains("cuda");
        if opts.device == DeviceKind::Cuda || names_cuda {
            api::prefer_deterministic_gpu_ops();
        }
        let plugin = api::load(&plugin_path)?;
        log::debug!("PJRT plugin {}", plugin_path.display());
        let cache_dir = match &opts.cache_dir {
            Some(dir) => dir.clone(),
            None => provision::cache_root()?.join("executables"),
        };
        Client::create(plugin, opts, ExecutableCache::new(cache_dir))
    }

    /// The default CPU client (4 devices on the CPU plugin).
    pub fn cpu() -> Result<Client> {
        Client::open(&ClientOptions::default())
    }

    /// A CPU client with `n` devices.
    pub fn cpu_with_devices(n: i64) -> Result<Client> {
        Client::open(&ClientOptions {
            cpu_device_count: Some(n),
            ..ClientOptions::default()
        })
    }

    fn create(
        plugin: &'static Plugin,
        opts: &ClientOptions,
        cache: ExecutableCache,
    ) -> Result<Client> {
        let mut named = Vec::new();
        let device_count_name = "cpu_device_count";
        if let Some(count) = opts.cpu_device_count {
            if count < 1 {
                return Err(Error::Usage(format!(
                    "cpu_device_count must be at least 1, got {count}"
                )));
            }
            named.push(ffi::PJRT_NamedValue {
                struct_size: ffi::PJRT_NamedValue::STRUCT_SIZE,
                extension_start: std::ptr::null_mut(),
                name: device_count_name.as_ptr().cast::<c_char>(),
                name_size: device_count_name.len(),
                type_: ffi::PJRT_NAMED_VALUE_INT64,
                value: ffi::PJRT_NamedValue_Value { int64_value: count },
                value_size: 1,
            });
        }
        let raw_api = plugin.raw();
        let mut args = ffi::PJRT_Client_Create_Args::new();
        args.create_options = named.as_ptr();
        args.num_options = named.len();
        // SAFETY: `named` (and the name string it points to) outlives the call; the key-value
        // callbacks stay null, which the API allows for single-process clients.
        unsafe { plugin.call("PJRT_Client_Create", raw_api.PJRT_Client_Create, &mut args) }?;
        let mut inner = ClientInner {
            plugin,
            raw: args.client,
            addressable: Vec::new(),
            devices: Vec::new(),
            addressable_ids: Vec::new(),
            cache,
        };
        // From here on, `inner` owns the client and destroys it on any error below.
        inner.read_devices()?;
        Ok(Client {
            inner: Arc::new(inner),
        })
    }

    /// The loaded plugin.
    pub fn plugin(&self) -> &'static Plugin {
        self.inner.plugin
    }

    pub fn platform_name(&self) -> String {
        let mut args = ffi::PJRT_Client_PlatformName_Args::new();
        args.client = self.inner.raw;
        let plugin = self.inner.plugin;
        // SAFETY: live client; the returned string is owned by the client.
        match unsafe {
            plugin.call(
                "PJRT_Client_PlatformName",
                plugin.raw().PJRT_Client_PlatformName,
                &mut args,
            )
        } {
            // SAFETY: pointer and size come from the plugin and live as long as the client.
            Ok(()) => unsafe { api::string_from(args.platform_name, args.platform_name_size) },
            Err(e) => format!("<unknown: {e}>"),
        }
    }

    pub fn platform_version(&self) -> String {
        let mut args = ffi::PJRT_Client_PlatformVersion_Args::new();
        args.client = self.inner.raw;
        let plugin = self.inner.plugin;
        // SAFETY: live client; the returned string is owned by the client.
        match unsafe {
            plugin.call(
                "PJRT_Client_PlatformVersion",
                plugin.raw().PJRT_Client_PlatformVersion,
                &mut args,
            )
        } {
            // SAFETY: pointer and size come from the plugin and live as long as the client.
            Ok(()) => unsafe {
                api::string_from(args.platform_version, args.platform_version_size)
            },
            Err(e) => format!("<unknown: {e}>"),
        }
    }

    /// Plugin attributes plus the PJRT C API version as `pjrt_c_api_version`.
    pub fn plugin_attributes(&self) -> Vec<(String, String)> {
        let (major, minor) = self.inner.plugin.api_version();
        let mut attributes = vec![("pjrt_c_api_version".to_string(), format!("{major}.{minor}"))];
        attributes.extend(self.inner.plugin.attributes().iter().cloned());
        attributes
    }

    /// All devices (addressable or not).
    pub fn devices(&self) -> Vec<DeviceInfo> {
        self.inner.devices.clone()
    }

    /// Number of addressable devices: valid `device` indices are `0..device_count()`.
    pub fn device_count(&self) -> usize {
        self.inner.addressable.len()
    }

    /// Ids of the addressable devices, by device index.
    pub fn addressable_device_ids(&self) -> Vec<usize> {
        self.inner.addressable_ids.clone()
    }

    /// Executable-cache counters of this client.
    pub fn cache_stats(&self) -> CacheStats {
        self.inner.cache.stats()
    }

    /// Compiles StableHLO text, reusing a cached executable when the same program, options and
    /// plugin were compiled before.
    pub fn compile(&self, mlir: &str, opts: &CompileOptions) -> Result<Executable> {
        let options_bytes = opts.encode(&self.inner.addressable_ids)?;
        let key = self
            .inner
            .cache
            .key(mlir, &options_bytes, &self.inner.plugin.identity());
        if let Some(serialized) = self.inner.cache.lookup(&key) {
            match self.deserialize(&serialized) {
                Ok(executable) => {
                    log::debug!("executable cache hit {key}");
                    self.inner.cache.record_hit();
                    return Ok(executable);
                }
                Err(e) => self.inner.cache.record_unloadable(&key, &e),
            }
        }
        self.inner.cache.record_miss();
        log::debug!("executable cache miss {key}: compiling");
        let executable = self.compile_encoded(mlir, &options_bytes)?;
        match executable.serialize() {
            Ok(bytes) => self.inner.cache.store(&key, &bytes),
            Err(e) => log::warn!("not caching the executable: {e}"),
        }
        Ok(executable)
    }

    /// Compiles StableHLO text without touching the cache.
    pub fn compile_uncached(&self, mlir: &str, opts: &CompileOptions) -> Result<Executable> {
        let options_bytes = opts.encode(&self.inner.addressable_ids)?;
        self.compile_encoded(mlir, &options_bytes)
    }

    fn compile_encoded(&self, mlir: &str, options_bytes: &[u8]) -> Result<Executable> {
        let format = "mlir";
        let program = ffi::PJRT_Program {
            struct_size: ffi::PJRT_Program::STRUCT_SIZE,
            extension_start: std::ptr::null_mut(),
            // The API declares `code` mutable because the same struct is used for outputs; as an
            // input it is only read.
            code: mlir.as_ptr().cast::<c_char>().cast_mut(),
            code_size: mlir.len(),
            format: format.as_ptr().cast::<c_char>(),
            format_size: format.len(),
        };
        let mut args = ffi::PJRT_Client_Compile_Args::new();
        args.client = self.inner.raw;
        args.program = &program;
        args.compile_options = options_bytes.as_ptr().cast::<c_char>();
        args.compile_options_size = options_bytes.len();
        let plugin = self.inner.plugin;
        // SAFETY: program text, format and options bytes outlive the call; the options were
        // validated against this client's devices (invalid ones abort XLA).
        unsafe {
            plugin.call(
                "PJRT_Client_Compile",
                plugin.raw().PJRT_Client_Compile,
                &mut args,
            )
        }?;
        Executable::from_loaded(self.inner.clone(), args.executable)
    }

    /// Loads an executable produced by [`Executable::serialize`] with the same plugin build.
    pub fn deserialize(&self, serialized: &[u8]) -> Result<Executable> {
        let mut args = ffi::PJRT_Executable_DeserializeAndLoad_Args::new();
        args.client = self.inner.raw;
        args.serialized_executable = serialized.as_ptr().cast::<c_char>();
        args.serialized_executable_size = serialized.len();
        let plugin = self.inner.plugin;
        // SAFETY: the bytes outlive the call; null overridden options mean "use the serialized
        // ones".
        unsafe {
            plugin.call(
                "PJRT_Executable_DeserializeAndLoad",
                plugin.raw().PJRT_Executable_DeserializeAndLoad,
                &mut args,
            )
        }?;
        Executable::from_loaded(self.inner.clone(), args.loaded_executable)
    }

    /// Copies a dense row-major host array onto device `device` (an index into the addressable
    /// devices).
    pub fn buffer_from_bytes(
        &self,
        bytes: &[u8],
        ty: DType,
        dims: &[i64],
        device: usize,
    ) -> Result<Buffer> {
        Buffer::from_host(&self.inner, bytes, ty, dims, device)
    }

    /// Copies a typed host slice onto a device.
    pub fn upload<T: NativeType>(&self, data: &[T], dims: &[i64], device: usize) -> Result<Buffer> {
        // SAFETY: `NativeType` is sealed to plain-data primitives without padding, so viewing the
        // slice as bytes is valid for its whole length.
        let bytes = unsafe {
            std::slice::from_raw_parts(data.as_ptr().cast::<u8>(), std::mem::size_of_val(data))
        };
        Buffer::from_host(&self.inner, bytes, T::TYPE, dims, device)
    }
}

impl ClientInner {
    fn read_devices(&mut self) -> Result<()> {
        let plugin = self.plugin;
        let raw_api = plugin.raw();
        let mut all = ffi::PJRT_Client_Devices_Args::new();
        all.client = self.raw;
        // SAFETY: live client; the returned array is owned by the client.
        unsafe { plugin.call("PJRT_Client_Devices", raw_api.PJRT_Client_Devices, &mut all) }?;
        let mut addressable = ffi::PJRT_Client_AddressableDevices_Args::new();
        addressable.client = self.raw;
        // SAFETY: as above.
        unsafe {
            plugin.call(
                "PJRT_Client_AddressableDevices",
                raw_api.PJRT_Client_AddressableDevices,
                &mut addressable,
            )
        }?;
        // SAFETY: the plugin returned arrays of the stated lengths that live as long as the client.
        let all_devices = unsafe { device_slice(all.devices, all.num_devices) };
        // SAFETY: as above.
        let addressable_devices = unsafe {
            device_slice(
                addressable.addressable_devices,
                addressable.num_addressable_devices,
            )
        };
        self.addressable = addressable_devices.to_vec();
        for &device in all_devices {
            let mut info = self.describe(device)?;
            info.addressable = addressable_devices.contains(&device);
            self.devices.push(info);
        }
        for &device in addressable_devices {
            self.addressable_ids.push(self.describe(device)?.id);
        }
        Ok(())
    }

    fn describe(&self, device: *mut ffi::PJRT_Device) -> Result<DeviceInfo> {
        let plugin = self.plugin;
        let raw_api = plugin.raw();
        let mut description = ffi::PJRT_Device_GetDescription_Args::new();
        description.device = device;
        // SAFETY: `device` comes from this client's device list.
        unsafe {
            plugin.call(
                "PJRT_Device_GetDescription",
                raw_api.PJRT_Device_GetDescription,
                &mut description,
            )
        }?;
        let desc = description.device_description;
        let mut id = ffi::PJRT_DeviceDescription_Id_Args::new();
        id.device_description = desc;
        // SAFETY: `desc` is owned by the device, which lives as long as the client.
        unsafe {
            plugin.call(
                "PJRT_DeviceDescription_Id",
                raw_api.PJRT_DeviceDescription_Id,
                &mut id,
            )
        }?;
        let mut kind = ffi::PJRT_DeviceDescription_Kind_Args::new();
        kind.device_description = desc;
        // SAFETY: as above.
        unsafe {
            plugin.call(
                "PJRT_DeviceDescription_Kind",
                raw_api.PJRT_DeviceDescription_Kind,
                &mut kind,
            )
        }?;
        let mut debug = ffi::PJRT_DeviceDescription_DebugString_Args::new();
        debug.device_description = desc;
        // SAFETY: as above.
        unsafe {
            plugin.call(
                "PJRT_DeviceDescription_DebugString",
                raw_api.PJRT_DeviceDescription_DebugString,
                &mut debug,
            )
        }?;
        let id = usize::try_from(id.id).map_err(|_| Error::PluginLoad {
            path: plugin.path().to_path_buf(),
            message: format!("device with negative id {}", id.id),
        })?;
        Ok(DeviceInfo {
            id,
            // SAFETY: strings owned by the device description, valid for the stated sizes.
            kind: unsafe { api::string_from(kind.device_kind, kind.device_kind_size) },
            // SAFETY: as above.
            debug_string: unsafe { api::string_from(debug.debug_string, debug.debug_string_size) },
            addressable: true,
        })
    }

    /// The device index of a device handle, if addressable.
    pub(crate) fn device_index(&self, device: *mut ffi::PJRT_Device) -> Option<usize> {
        self.addressable.iter().position(|&d| d == device)
    }
}

/// # Safety
/// `ptr` must be null or point to `len` device handles that outlive the returned slice's use.
unsafe fn device_slice<'a>(
    ptr: *const *mut ffi::PJRT_Device,
    len: usize,
) -> &'a [*mut ffi::PJRT_Device] {
    if ptr.is_null() || len == 0 {
        return &[];
    }
    // SAFETY: guaranteed by the caller.
    unsafe { std::slice::from_raw_parts(ptr, len) }
}
