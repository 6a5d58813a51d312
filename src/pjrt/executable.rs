//! Compiled programs: execute on one or many devices (one argument list per device), donation of
//! inputs by move, and serialization for the on-disk cache.
//!
//! Donation: an [`Arg::Donated`] buffer is moved into the call, so nothing can read it afterwards.
//! Every [`Arg::Borrowed`] position is passed in `non_donatable_input_indices`, so a program whose
//! signature aliases an input (`tf.aliasing_output`) never consumes a buffer the caller still
//! holds.

use std::sync::Arc;

use super::buffer::{await_event, Buffer};
use super::client::ClientInner;
use super::ffi;
use crate::{Error, Result};

/// One argument of an execution.
pub enum Arg<'a> {
    /// Read only; the caller keeps the buffer.
    Borrowed(&'a Buffer),
    /// Given to the computation, which may reuse its memory for an output.
    Donated(Buffer),
}

impl Arg<'_> {
    fn buffer(&self) -> &Buffer {
        match self {
            Arg::Borrowed(buffer) => buffer,
            Arg::Donated(buffer) => buffer,
        }
    }
}

/// What an execution produced, plus the donated input handles as PJRT left them (for
/// inspection: a consumed donation reports [`Buffer::is_deleted`]).
pub struct ExecuteOutcome {
    /// `[device][output]`.
    pub outputs: Vec<Vec<Buffer>>,
    /// `[device]` lists of the donated arguments, in argument order.
    pub donated: Vec<Vec<Buffer>>,
}

/// A compiled, loaded program. Owns its handles.
pub struct Executable {
    client: Arc<ClientInner>,
    loaded: *mut ffi::PJRT_LoadedExecutable,
    executable: *mut ffi::PJRT_Executable,
    num_outputs: usize,
    num_replicas: usize,
    num_partitions: usize,
    devices: Vec<*mut ffi::PJRT_Device>,
}

// SAFETY: a loaded executable may be executed from any thread, also concurrently (PJRT
// executables are immutable after compilation); we only pass the handles to the plugin.
unsafe impl Send for Executable {}
// SAFETY: as above.
unsafe impl Sync for Executable {}

impl std::fmt::Debug for Executable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Executable")
            .field("num_outputs", &self.num_outputs)
            .field("num_replicas", &self.num_replicas)
            .field("num_partitions", &self.num_partitions)
            .finish()
    }
}

impl Drop for Executable {
    fn drop(&mut self) {
        let plugin = self.client.plugin;
        if !self.executable.is_null() {
            let mut args = ffi::PJRT_Executable_Destroy_Args::new();
            args.executable = self.executable;
            // SAFETY: obtained from GetExecutable, owned by us, destroyed once.
            let result = unsafe {
                plugin.call(
                    "PJRT_Executable_Destroy",
                    plugin.raw().PJRT_Executable_Destroy,
                    &mut args,
                )
            };
            if let Err(e) = result {
                log::warn!("{e}");
            }
        }
        let mut args = ffi::PJRT_LoadedExecutable_Destroy_Args::new();
        args.executable = self.loaded;
        // SAFETY: owned by us, destroyed once; running executions keep their own references.
        let result = unsafe {
            plugin.call(
                "PJRT_LoadedExecutable_Destroy",
                plugin.raw().PJRT_LoadedExecutable_Destroy,
                &mut args,
            )
        };
        if let Err(e) = result {
            log::warn!("{e}");
        }
    }
}

impl Executable {
    /// Takes ownership of a loaded executable returned by compile or deserialize and reads its
    /// shape of execution.
    pub(crate) fn from_loaded(
        client: Arc<ClientInner>,
        loaded: *mut ffi::PJRT_LoadedExecutable,
    ) -> Result<Executable> {
        let plugin = client.plugin;
        let raw_api = plugin.raw();
        let mut executable = Executable {
            client,
            loaded,
            executable: std::ptr::null_mut(),
            num_outputs: 0,
            num_replicas: 0,
            num_partitions: 0,
            devices: Vec::new(),
        };
        let mut get = ffi::PJRT_LoadedExecutable_GetExecutable_Args::new();
        get.loaded_executable = loaded;
        // SAFETY: `loaded` is live; the returned executable is ours to destroy (see Drop).
        unsafe {
            plugin.call(
                "PJRT_LoadedExecutable_GetExecutable",
                raw_api.PJRT_LoadedExecutable_GetExecutable,
                &mut get,
            )
        }?;
        executable.executable = get.executable;

        let mut outputs = ffi::PJRT_Executable_NumOutputs_Args::new();
        outputs.executable = executable.executable;
        // SAFETY: live executable.
        unsafe {
            plugin.call(
                "PJRT_Executable_NumOutputs",
                raw_api.PJRT_Executable_NumOutputs,
                &mut outputs,
            )
        }?;
        executable.num_outputs = outputs.num_outputs;

        let mut replicas = ffi::PJRT_Executable_NumReplicas_Args::new();
        replicas.executable = executable.executable;
        // SAFETY: live executable.
        unsafe {
            plugin.call(
                "PJRT_Executable_NumReplicas",
                raw_api.PJRT_Executable_NumReplicas,
                &mut replicas,
            )
        }?;
        executable.num_replicas = replicas.num_replicas;

        let mut partitions = ffi::PJRT_Executable_NumPartitions_Args::new();
        partitions.executable = executable.executable;
        // SAFETY: live executable.
        unsafe {
            plugin.call(
                "PJRT_Executable_NumPartitions",
                raw_api.PJRT_Executable_NumPartitions,
                &mut partitions,
            )
        }?;
        executable.num_partitions = partitions.num_partitions;

        let mut devices = ffi::PJRT_LoadedExecutable_AddressableDevices_Args::new();
        devices.executable = loaded;
        // SAFETY: live executable; the device array is owned by it.
        unsafe {
            plugin.call(
                "PJRT_LoadedExecutable_AddressableDevices",
                raw_api.PJRT_LoadedExecutable_AddressableDevices,
                &mut devices,
            )
        }?;
        if !devices.addressable_devices.is_null() && devices.num_addressable_devices > 0 {
            // SAFETY: `num_addressable_devices` handles owned by the executable.
            executable.devices = unsafe {
                std::slice::from_raw_parts(
                    devices.addressable_devices,
                    devices.num_addressable_devices,
                )
            }
            .to_vec();
        }
        Ok(executable)
    }

    /// Outputs per device.
    pub fn num_outputs(&self) -> usize {
        self.num_outputs
    }

    pub fn num_replicas(&self) -> usize {
        self.num_replicas
    }

    pub fn num_partitions(&self) -> usize {
        self.num_partitions
    }

    /// How many argument lists [`Executable::execute_replicated`] takes.
    pub fn num_devices(&self) -> usize {
        self.devices.len()
    }

    /// Device indices (into the client's addressable devices) this executable runs on, in the
    /// order of the argument lists.
    pub fn device_indices(&self) -> Vec<usize> {
        self.devices
            .iter()
            .map(|&d| self.client.device_index(d).unwrap_or(usize::MAX))
            .collect()
    }

    /// Runs a single-device executable.
    pub fn execute(&self, args: Vec<Arg<'_>>) -> Result<Vec<Buffer>> {
        if self.devices.len() != 1 {
            return Err(Error::ExecuteArgs(format!(
                "execute() is for single-device programs; this one runs on {} devices, use \
                 execute_replicated with one argument list per device",
                self.devices.len()
            )));
        }
        let mut outputs = self.execute_replicated(vec![args])?;
        Ok(outputs.pop().unwrap_or_default())
    }

    /// Runs on every device of the executable: `args[d]` is the argument list of device `d`
    /// (see [`Executable::device_indices`]); returns `[device][output]`. Waits for completion.
    pub fn execute_replicated(&self, args: Vec<Vec<Arg<'_>>>) -> Result<Vec<Vec<Buffer>>> {
        Ok(self.execute_detailed(args)?.outputs)
    }

    /// Like [`Executable::execute_replicated`], also handing back the donated input handles.
    pub fn execute_detailed(&self, args: Vec<Vec<Arg<'_>>>) -> Result<ExecuteOutcome> {
        let num_devices = self.devices.len();
        if args.len() != num_devices {
            return Err(Error::ExecuteArgs(format!(
                "got {} argument lists, the executable runs on {num_devices} devices",
                args.len()
            )));
        }
        let num_args = args.first().map_or(0, Vec::len);
        let donated_pattern: Vec<bool> = args
            .first()
            .map(|list| list.iter().map(|a| matches!(a, Arg::Donated(_))).collect())
            .unwrap_or_default();
        for (device, list) in args.iter().enumerate() {
            if list.len() != num_args {
                return Err(Error::ExecuteArgs(format!(
                    "device {device} has {} arguments, device 0 has {num_args}",
                    list.len()
                )));
            }
            for (index, arg) in list.iter().enumerate() {
                if matches!(arg, Arg::Donated(_)) != donated_pattern[index] {
                    return Err(Error::ExecuteArgs(format!(
                        "argument {index} is donated on some devices but not on others"
                    )));
                }
                if !Arc::ptr_eq(&arg.buffer().client, &self.client) {
                    return Err(Error::ExecuteArgs(format!(
                        "argument {index} of device {device} belongs to another client"
                    )));
                }
            }
        }
        let non_donatable: Vec<i64> = donated_pattern
            .iter()
            .enumerate()
            .filter(|(_, donated)| !**donated)
            .map(|(index, _)| index as i64)
            .collect();

        let argument_lists: Vec<Vec<*mut ffi::PJRT_Buffer>> = args
            .iter()
            .map(|list| list.iter().map(|a| a.buffer().raw).collect())
            .collect();
        let argument_list_ptrs: Vec<*const *mut ffi::PJRT_Buffer> =
            argument_lists.iter().map(|list| list.as_ptr()).collect();
        let mut output_lists: Vec<Vec<*mut ffi::PJRT_Buffer>> = (0..num_devices)
            .map(|_| vec![std::ptr::null_mut(); self.num_outputs])
            .collect();
        let output_list_ptrs: Vec<*mut *mut ffi::PJRT_Buffer> = output_lists
            .iter_mut()
            .map(|list| list.as_mut_ptr())
            .collect();
        let mut events: Vec<*mut ffi::PJRT_Event> = vec![std::ptr::null_mut(); num_devices];

        let mut options = ffi::PJRT_ExecuteOptions::new();
        options.non_donatable_input_indices = non_donatable.as_ptr();
        options.num_non_donatable_input_indices = non_donatable.len();

        let mut execute = ffi::PJRT_LoadedExecutable_Execute_Args::new();
        execute.executable = self.loaded;
        execute.options = &mut options;
        execute.argument_lists = argument_list_ptrs.as_ptr();
        execute.num_devices = num_devices;
        execute.num_args = num_args;
        execute.output_lists = output_list_ptrs.as_ptr();
        execute.device_complete_events = events.as_mut_ptr();

        let plugin = self.client.plugin;
        // SAFETY: `argument_lists` is an array of `num_devices` pointers, each to `num_args` live
        // buffer handles (borrowed or moved into `args`, which lives past the call);
        // `output_lists` is `num_devices` caller-allocated arrays of `num_outputs` slots; `events`
        // has `num_devices` slots; the options and index list outlive the call.
        unsafe {
            plugin.call(
                "PJRT_LoadedExecutable_Execute",
                plugin.raw().PJRT_LoadedExecutable_Execute,
                &mut execute,
            )
        }?;

        // Take ownership of every output handle first, so none leaks if something fails below.
        let mut outputs = Vec::with_capacity(num_devices);
        let mut first_error = None;
        for list in &output_lists {
            let mut device_outputs = Vec::with_capacity(list.len());
            for &raw in list {
                if raw.is_null() {
                    first_error.get_or_insert(Error::ExecuteArgs(
                        "the plugin returned a null output".into(),
                    ));
                    continue;
                }
                match Buffer::from_raw(self.client.clone(), raw) {
                    Ok(buffer) => device_outputs.push(buffer),
                    Err(e) => {
                        first_error.get_or_insert(e);
                    }
                }
            }
            outputs.push(device_outputs);
        }
        for &event in &events {
            if let Err(e) = await_event(&self.client, event, "PJRT_Event_Await (execute)") {
                first_error.get_or_insert(e);
            }
        }
        if let Some(e) = first_error {
            return Err(e);
        }
        let donated = args
            .into_iter()
            .map(|list| {
                list.into_iter()
                    .filter_map(|arg| match arg {
                        Arg::Donated(buffer) => Some(buffer),
                        Arg::Borrowed(_) => None,
                    })
                    .collect()
            })
            .collect();
        Ok(ExecuteOutcome { outputs, donated })
    }

    /// What the compiler planned for one execution: argument, output and temporary buffer
    /// bytes on the device (XLA's buffer assignment; `temp` holds every intermediate that is
    /// alive at once, e.g. the activations kept between forward and backward).
    pub fn memory_stats(&self) -> Result<CompiledMemoryStats> {
        let plugin = self.client.plugin;
        let mut args = ffi::PJRT_Executable_GetCompiledMemoryStats_Args::new();
        args.executable = self.executable;
        // SAFETY: live executable; the call only fills the integer fields of `args`.
        unsafe {
            plugin.call(
                "PJRT_Executable_GetCompiledMemoryStats",
                plugin.raw().PJRT_Executable_GetCompiledMemoryStats,
                &mut args,
            )
        }?;
        let bytes = |v: i64| u64::try_from(v).unwrap_or(0);
        Ok(CompiledMemoryStats {
            generated_code_bytes: bytes(args.generated_code_size_in_bytes),
            argument_bytes: bytes(args.argument_size_in_bytes),
            output_bytes: bytes(args.output_size_in_bytes),
            alias_bytes: bytes(args.alias_size_in_bytes),
            temp_bytes: bytes(args.temp_size_in_bytes),
            peak_bytes: bytes(args.peak_memory_in_bytes),
        })
    }

    /// The plugin's serialization of the compiled program (same plugin build only).
    pub fn serialize(&self) -> Result<Vec<u8>> {
        let plugin = self.client.plugin;
        let mut args = ffi::PJRT_Executable_Serialize_Args::new();
        args.executable = self.executable;
        // SAFETY: live executable; on success the bytes are owned by `serialized_executable`,
        // freed with its deleter below after we copy them.
        unsafe {
            plugin.call(
                "PJRT_Executable_Serialize",
                plugin.raw().PJRT_Executable_Serialize,
                &mut args,
            )
        }?;
        let bytes = if args.serialized_bytes.is_null() {
            Vec::new()
        } else {
            // SAFETY: `serialized_bytes_size` bytes backed by `serialized_executable`, still alive.
            unsafe {
                std::slice::from_raw_parts(
                    args.serialized_bytes.cast::<u8>(),
                    args.serialized_bytes_size,
                )
            }
            .to_vec()
        };
        if let Some(deleter) = args.serialized_executable_deleter {
            // SAFETY: called once on the object the plugin gave us, after the last read.
            unsafe { deleter(args.serialized_executable) };
        }
        Ok(bytes)
    }
}

/// Device memory of one execution as the compiler planned it (see [`Executable::memory_stats`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct CompiledMemoryStats {
    pub generated_code_bytes: u64,
    pub argument_bytes: u64,
    pub output_bytes: u64,
    /// Argument bytes reused for outputs (donation).
    pub alias_bytes: u64,
    /// Intermediates: the buffer space of the values that are not arguments or outputs.
    pub temp_bytes: u64,
    /// The peak of the bytes alive at once, as the plugin's heap simulation counts it (0 where
    /// the plugin does not report it).
    pub peak_bytes: u64,
}
