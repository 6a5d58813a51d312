//! Device buffers: upload from host memory, download into caller memory (so the checkpoint writer
//! can copy straight into its I/O window), and the PJRT events that say when a transfer is done.

use std::ffi::c_void;
use std::sync::Arc;

use super::client::ClientInner;
use super::dtype::NativeType;
use super::ffi;
use crate::DType;
use crate::{Error, Result};

/// An array on one device. Owns its PJRT handle and destroys it on drop.
pub struct Buffer {
    pub(crate) client: Arc<ClientInner>,
    pub(crate) raw: *mut ffi::PJRT_Buffer,
    element_type: DType,
    dims: Vec<i64>,
}

// SAFETY: PJRT buffers are thread-safe handles (the runtime synchronizes access with its own
// events); we only pass the pointer to the plugin.
unsafe impl Send for Buffer {}
// SAFETY: every `&self` method is a read-only query or a download, which PJRT allows concurrently.
unsafe impl Sync for Buffer {}

impl std::fmt::Debug for Buffer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Buffer({}{:?})", self.element_type, self.dims)
    }
}

impl Drop for Buffer {
    fn drop(&mut self) {
        let plugin = self.client.plugin;
        let mut args = ffi::PJRT_Buffer_Destroy_Args::new();
        args.buffer = self.raw;
        // SAFETY: the handle is owned by this value and destroyed exactly once; destroying a
        // buffer that is still in use by a running computation is allowed (PJRT defers the free).
        let result = unsafe {
            plugin.call(
                "PJRT_Buffer_Destroy",
                plugin.raw().PJRT_Buffer_Destroy,
                &mut args,
            )
        };
        if let Err(e) = result {
            log::warn!("{e}");
        }
    }
}

/// Number of elements of a shape, or an error for negative or overflowing dimensions.
pub(crate) fn element_count(dims: &[i64]) -> Result<usize> {
    dims.iter().try_fold(1usize, |count, &dim| {
        let dim = usize::try_from(dim)
            .map_err(|_| Error::BufferShape(format!("negative dimension in {dims:?}")))?;
        count
            .checked_mul(dim)
            .ok_or_else(|| Error::BufferShape(format!("shape {dims:?} overflows")))
    })
}

/// Waits for an event and destroys it; the event's error (if any) is returned.
pub(crate) fn await_event(
    client: &ClientInner,
    event: *mut ffi::PJRT_Event,
    what: &'static str,
) -> Result<()> {
    if event.is_null() {
        return Ok(());
    }
    let plugin = client.plugin;
    let mut await_args = ffi::PJRT_Event_Await_Args::new();
    await_args.event = event;
    // SAFETY: `event` is an owned, live event from this plugin.
    let awaited = unsafe { plugin.call(what, plugin.raw().PJRT_Event_Await, &mut await_args) };
    let mut destroy_args = ffi::PJRT_Event_Destroy_Args::new();
    destroy_args.event = event;
    // SAFETY: destroyed exactly once, after awaiting it.
    let destroyed = unsafe {
        plugin.call(
            "PJRT_Event_Destroy",
            plugin.raw().PJRT_Event_Destroy,
            &mut destroy_args,
        )
    };
    awaited.and(destroyed)
}

impl Buffer {
    /// Wraps a buffer handle returned by the plugin (reading its type and shape). Takes ownership:
    /// on error the handle is still destroyed.
    pub(crate) fn from_raw(client: Arc<ClientInner>, raw: *mut ffi::PJRT_Buffer) -> Result<Buffer> {
        let mut buffer = Buffer {
            client,
            raw,
            element_type: DType::F32,
            dims: Vec::new(),
        };
        let plugin = buffer.client.plugin;
        let mut ty = ffi::PJRT_Buffer_ElementType_Args::new();
        ty.buffer = raw;
        // SAFETY: `raw` is a live buffer of this client.
        unsafe {
            plugin.call(
                "PJRT_Buffer_ElementType",
                plugin.raw().PJRT_Buffer_ElementType,
                &mut ty,
            )
        }?;
        buffer.element_type = DType::from_pjrt(ty.type_).ok_or_else(|| {
            Error::BufferShape(format!("unsupported PJRT element type {}", ty.type_))
        })?;
        let mut dims = ffi::PJRT_Buffer_Dimensions_Args::new();
        dims.buffer = raw;
        // SAFETY: as above; the dims array is owned by the buffer.
        unsafe {
            plugin.call(
                "PJRT_Buffer_Dimensions",
                plugin.raw().PJRT_Buffer_Dimensions,
                &mut dims,
            )
        }?;
        if !dims.dims.is_null() && dims.num_dims > 0 {
            // SAFETY: the plugin returned `num_dims` dimensions that live as long as the buffer.
            buffer.dims = unsafe { std::slice::from_raw_parts(dims.dims, dims.num_dims) }.to_vec();
        }
        Ok(buffer)
    }

    pub(crate) fn from_host(
        client: &Arc<ClientInner>,
        bytes: &[u8],
        ty: DType,
        dims: &[i64],
        device: usize,
    ) -> Result<Buffer> {
        let expected = element_count(dims)?
            .checked_mul(ty.byte_size())
            .ok_or_else(|| Error::BufferShape(format!("shape {dims:?} overflows")))?;
        if bytes.len() != expected {
            return Err(Error::BufferShape(format!(
                "host data has {} bytes but {ty}{dims:?} needs {expected}",
                bytes.len()
            )));
        }
        if ty == DType::Pred && bytes.iter().any(|&b| b > 1) {
            return Err(Error::BufferShape("pred data must be bytes 0 or 1".into()));
        }
        let Some(&device_handle) = client.addressable.get(device) else {
            return Err(Error::BufferShape(format!(
                "device index {device} out of range: the client has {} addressable devices",
                client.addressable.len()
            )));
        };
        let plugin = client.plugin;
        let mut args = ffi::PJRT_Client_BufferFromHostBuffer_Args::new();
        args.client = client.raw;
        args.data = bytes.as_ptr().cast::<c_void>();
        args.type_ = ty.to_pjrt();
        args.dims = dims.as_ptr();
        args.num_dims = dims.len();
        args.host_buffer_semantics = ffi::PJRT_HOST_BUFFER_IMMUTABLE_ONLY_DURING_CALL;
        args.device = device_handle;
        // SAFETY: `bytes` holds exactly the dense row-major array described by `ty` and `dims`
        // (checked above) and stays borrowed for the whole call; with "immutable only during
        // call" semantics the plugin copies it before returning. Null strides mean dense.
        unsafe {
            plugin.call(
                "PJRT_Client_BufferFromHostBuffer",
                plugin.raw().PJRT_Client_BufferFromHostBuffer,
                &mut args,
            )
        }?;
        let buffer = Buffer::from_raw(client.clone(), args.buffer);
        let done = await_event(
            client,
            args.done_with_host_buffer,
            "PJRT_Event_Await (upload)",
        );
        let buffer = buffer?;
        done?;
        Ok(buffer)
    }

    pub fn element_type(&self) -> DType {
        self.element_type
    }

    pub fn dims(&self) -> Vec<i64> {
        self.dims.clone()
    }

    /// Number of elements.
    pub fn element_count(&self) -> usize {
        element_count(&self.dims).unwrap_or(0)
    }

    /// Bytes of the dense host representation.
    pub fn byte_size(&self) -> usize {
        self.element_count() * self.element_type.byte_size()
    }

    /// The index (into the client's addressable devices) of the device holding this buffer;
    /// `usize::MAX` if the plugin cannot say (which no supported plugin does).
    pub fn device(&self) -> usize {
        let plugin = self.client.plugin;
        let mut args = ffi::PJRT_Buffer_Device_Args::new();
        args.buffer = self.raw;
        // SAFETY: live buffer; the device handle is owned by the client.
        match unsafe {
            plugin.call(
                "PJRT_Buffer_Device",
                plugin.raw().PJRT_Buffer_Device,
                &mut args,
            )
        } {
            Ok(()) => self.client.device_index(args.device).unwrap_or(usize::MAX),
            Err(_) => usize::MAX,
        }
    }

    /// Whether the buffer's memory is gone (it was donated to a computation or deleted).
    pub fn is_deleted(&self) -> bool {
        let plugin = self.client.plugin;
        let mut args = ffi::PJRT_Buffer_IsDeleted_Args::new();
        args.buffer = self.raw;
        // SAFETY: live buffer handle (IsDeleted is valid even after its memory was released).
        match unsafe {
            plugin.call(
                "PJRT_Buffer_IsDeleted",
                plugin.raw().PJRT_Buffer_IsDeleted,
                &mut args,
            )
        } {
            Ok(()) => args.is_deleted,
            Err(_) => true,
        }
    }

    /// Releases the device memory now, keeping the handle (later uses fail cleanly).
    pub fn delete(&self) -> Result<()> {
        let plugin = self.client.plugin;
        let mut args = ffi::PJRT_Buffer_Delete_Args::new();
        args.buffer = self.raw;
        // SAFETY: live buffer handle; PJRT defers the free until pending work on it is done.
        unsafe {
            plugin.call(
                "PJRT_Buffer_Delete",
                plugin.raw().PJRT_Buffer_Delete,
                &mut args,
            )
        }
    }

    /// Copies the array into `dst` (dense row-major), waiting until the copy is complete.
    /// `dst.len()` must equal [`Buffer::byte_size`].
    pub fn copy_to_host(&self, dst: &mut [u8]) -> Result<()> {
        let needed = self.byte_size();
        if dst.len() != needed {
            return Err(Error::BufferShape(format!(
                "destination has {} bytes but {}{:?} needs {needed}",
                dst.len(),
                self.element_type,
                self.dims
            )));
        }
        if needed == 0 {
            return Ok(());
        }
        let plugin = self.client.plugin;
        let mut args = ffi::PJRT_Buffer_ToHostBuffer_Args::new();
        args.src = self.raw;
        args.dst = dst.as_mut_ptr().cast::<c_void>();
        args.dst_size = dst.len();
        // SAFETY: `dst` is exclusively borrowed for this whole function, and we await the copy's
        // event before returning, so the plugin's asynchronous write ends while the borrow lives.
        let started = unsafe {
            plugin.call(
                "PJRT_Buffer_ToHostBuffer",
                plugin.raw().PJRT_Buffer_ToHostBuffer,
                &mut args,
            )
        };
        // On error the event is null and nothing is pending; otherwise wait for the copy.
        let done = await_event(&self.client, args.event, "PJRT_Event_Await (download)");
        started.and(done)
    }

    /// Downloads the array as a typed vector.
    pub fn to_vec<T: NativeType>(&self) -> Result<Vec<T>> {
        if T::TYPE != self.element_type {
            return Err(Error::BufferShape(format!(
                "cannot read a {} buffer as {}",
                self.element_type,
                T::TYPE
            )));
        }
        let mut bytes = vec![0u8; self.byte_size()];
        self.copy_to_host(&mut bytes)?;
        if T::TYPE == DType::Pred && bytes.iter().any(|&b| b > 1) {
            return Err(Error::BufferShape(
                "pred buffer holds bytes other than 0 and 1".into(),
            ));
        }
        let count = self.element_count();
        let mut values: Vec<T> = Vec::with_capacity(count);
        // SAFETY: `values` has capacity for `count` elements = `bytes.len()` bytes; `T` is a
        // sealed plain-data type whose every byte pattern we copy is valid (pred bytes checked
        // above); the regions do not overlap; `set_len` follows the full initialization.
        unsafe {
            std::ptr::copy_nonoverlapping(
                bytes.as_ptr(),
                values.as_mut_ptr().cast::<u8>(),
                bytes.len(),
            );
            values.set_len(count);
        }
        Ok(values)
    }
}
