//! The safe Rust layer over the PJRT C API: load a plugin, open a client, compile StableHLO text,
//! move arrays to and from devices, execute on one or many devices with donation, and cache
//! compiled executables on disk.
//!
//! The C declarations are our own (`ffi`), loaded at run time with `libloading`; every handle is
//! owned by a wrapper that frees it on drop, and every plugin error becomes
//! [`crate::Error::Pjrt`] with the plugin's message and code.

mod api;
mod buffer;
pub(crate) mod cache;
mod client;
mod compile_options;
mod dtype;
mod executable;
mod ffi;
pub mod provision;
pub mod signature;

pub use crate::dtype::DType;
pub use api::{with_deterministic_gpu_ops, Plugin, DETERMINISTIC_GPU_OPS};
pub use buffer::Buffer;
pub use cache::CacheStats;
pub use client::{Client, ClientOptions, DeviceInfo, DeviceKind};
pub use compile_options::CompileOptions;
pub use dtype::NativeType;
pub use executable::{Arg, CompiledMemoryStats, Executable, ExecuteOutcome};
pub use provision::WheelPin;

/// Loads (once per process) the plugin at `path` without creating a client.
pub fn load_plugin(path: &std::path::Path) -> crate::Result<&'static Plugin> {
    api::load(path)
}
