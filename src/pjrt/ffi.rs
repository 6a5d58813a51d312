//! Raw declarations of the part of the PJRT C API that xlatrain uses, written by hand from the
//! layouts of `pjrt_c_api.h` at API minor version 81 (the oldest layout the current plugins accept
//! and the newest one every plugin we support understands). Nothing here is safe to call directly;
//! the wrappers in the sibling modules own the handles and uphold the rules.
//!
//! Every `*_Args` struct starts with `struct_size` and `extension_start`. The C header defines
//! `struct_size` as the end offset of the struct's last field (not `sizeof`, which may include
//! tail padding), so [`pjrt_args!`] computes exactly that.

#![allow(non_camel_case_types, non_snake_case)]

use std::ffi::{c_char, c_int, c_void};

/// The API major version these declarations describe; a plugin with another major is refused.
pub const PJRT_API_MAJOR: c_int = 0;
/// The minor version of the Args layouts below.
pub const PJRT_API_MINOR: c_int = 81;

macro_rules! opaque {
    ($($name:ident),* $(,)?) => {
        $(
            #[repr(C)]
            pub struct $name {
                _private: [u8; 0],
            }
        )*
    };
}

opaque!(
    PJRT_Error,
    PJRT_Event,
    PJRT_Client,
    PJRT_Device,
    PJRT_DeviceDescription,
    PJRT_Memory,
    PJRT_Executable,
    PJRT_LoadedExecutable,
    PJRT_Buffer,
    PJRT_SerializedExecutable,
    PJRT_ExecuteContext,
);

/// Declares an Args struct with the two standard leading fields and a `new()` that zero-fills it
/// and sets `struct_size` to the end of the last field, as the C macro `PJRT_STRUCT_SIZE` does.
macro_rules! pjrt_args {
    ($(pub struct $name:ident { $(pub $field:ident : $ty:ty,)* })*) => {
        $(
            #[repr(C)]
            pub struct $name {
                pub struct_size: usize,
                pub extension_start: *mut c_void,
                $(pub $field: $ty,)*
            }

            impl $name {
                pub const STRUCT_SIZE: usize = {
                    #[allow(unused_mut)]
                    let mut end = std::mem::offset_of!($name, extension_start)
                        + std::mem::size_of::<*mut c_void>();
                    $(
                        let field_end =
                            std::mem::offset_of!($name, $field) + std::mem::size_of::<$ty>();
                        if field_end > end {
                            end = field_end;
                        }
                    )*
                    end
                };

                /// A zero-filled instance with `struct_size` set.
                pub fn new() -> Self {
                    // SAFETY: every field is a raw pointer, an integer, a bool, a C enum
                    // represented as an integer, or an `Option` of a function pointer; the
                    // all-zero bit pattern is a valid value (null / 0 / false / None) for each.
                    let mut args: Self = unsafe { std::mem::zeroed() };
                    args.struct_size = Self::STRUCT_SIZE;
                    args
                }
            }
        )*
    };
}

pub type PJRT_Error_Code = c_int;
pub type PJRT_Buffer_Type = c_int;
pub type PJRT_NamedValue_Type = c_int;
pub type PJRT_HostBufferSemantics = c_int;

pub const PJRT_NAMED_VALUE_STRING: PJRT_NamedValue_Type = 0;
pub const PJRT_NAMED_VALUE_INT64: PJRT_NamedValue_Type = 1;
pub const PJRT_NAMED_VALUE_INT64_LIST: PJRT_NamedValue_Type = 2;
pub const PJRT_NAMED_VALUE_FLOAT: PJRT_NamedValue_Type = 3;
pub const PJRT_NAMED_VALUE_BOOL: PJRT_NamedValue_Type = 4;

pub const PJRT_HOST_BUFFER_IMMUTABLE_ONLY_DURING_CALL: PJRT_HostBufferSemantics = 0;

/// The value of a [`PJRT_NamedValue`]; which member is live is given by its `type_`.
#[repr(C)]
#[derive(Clone, Copy)]
pub union PJRT_NamedValue_Value {
    pub string_value: *const c_char,
    pub int64_value: i64,
    pub int64_array_value: *const i64,
    pub float_value: f32,
    pub bool_value: bool,
}

#[repr(C)]
pub struct PJRT_NamedValue {
    pub struct_size: usize,
    pub extension_start: *mut c_void,
    pub name: *const c_char,
    pub name_size: usize,
    pub type_: PJRT_NamedValue_Type,
    pub value: PJRT_NamedValue_Value,
    pub value_size: usize,
}

impl PJRT_NamedValue {
    pub const STRUCT_SIZE: usize =
        std::mem::offset_of!(PJRT_NamedValue, value_size) + std::mem::size_of::<usize>();
}

#[repr(C)]
pub struct PJRT_Api_Version {
    pub struct_size: usize,
    pub extension_start: *mut c_void,
    pub major_version: c_int,
    pub minor_version: c_int,
}

#[repr(C)]
pub struct PJRT_Program {
    pub struct_size: usize,
    pub extension_start: *mut c_void,
    pub code: *mut c_char,
    pub code_size: usize,
    pub format: *const c_char,
    pub format_size: usize,
}

impl PJRT_Program {
    pub const STRUCT_SIZE: usize =
        std::mem::offset_of!(PJRT_Program, format_size) + std::mem::size_of::<usize>();
}

pjrt_args! {
    pub struct PJRT_Error_Destroy_Args {
        pub error: *mut PJRT_Error,
    }
    pub struct PJRT_Error_Message_Args {
        pub error: *const PJRT_Error,
        pub message: *const c_char,
        pub message_size: usize,
    }
    pub struct PJRT_Error_GetCode_Args {
        pub error: *const PJRT_Error,
        pub code: PJRT_Error_Code,
    }
    pub struct PJRT_Plugin_Initialize_Args {
    }
    pub struct PJRT_Plugin_Attributes_Args {
        pub attributes: *const PJRT_NamedValue,
        pub num_attributes: usize,
    }
    pub struct PJRT_Event_Destroy_Args {
        pub event: *mut PJRT_Event,
    }
    pub struct PJRT_Event_Await_Args {
        pub event: *mut PJRT_Event,
    }
    pub struct PJRT_Client_Create_Args {
        pub create_options: *const PJRT_NamedValue,
        pub num_options: usize,
        pub kv_get_callback: *mut c_void,
        pub kv_get_user_arg: *mut c_void,
        pub kv_put_callback: *mut c_void,
        pub kv_put_user_arg: *mut c_void,
        pub client: *mut PJRT_Client,
        pub kv_try_get_callback: *mut c_void,
        pub kv_try_get_user_arg: *mut c_void,
    }
    pub struct PJRT_Client_Destroy_Args {
        pub client: *mut PJRT_Client,
    }
    pub struct PJRT_Client_PlatformName_Args {
        pub client: *mut PJRT_Client,
        pub platform_name: *const c_char,
        pub platform_name_size: usize,
    }
    pub struct PJRT_Client_PlatformVersion_Args {
        pub client: *mut PJRT_Client,
        pub platform_version: *const c_char,
        pub platform_version_size: usize,
    }
    pub struct PJRT_Client_Devices_Args {
        pub client: *mut PJRT_Client,
        pub devices: *const *mut PJRT_Device,
        pub num_devices: usize,
    }
    pub struct PJRT_Client_AddressableDevices_Args {
        pub client: *mut PJRT_Client,
        pub addressable_devices: *const *mut PJRT_Device,
        pub num_addressable_devices: usize,
    }
    pub struct PJRT_Client_Compile_Args {
        pub client: *mut PJRT_Client,
        pub program: *const PJRT_Program,
        pub compile_options: *const c_char,
        pub compile_options_size: usize,
        pub executable: *mut PJRT_LoadedExecutable,
    }
    pub struct PJRT_Client_BufferFromHostBuffer_Args {
        pub client: *mut PJRT_Client,
        pub data: *const c_void,
        pub type_: PJRT_Buffer_Type,
        pub dims: *const i64,
        pub num_dims: usize,
        pub byte_strides: *const i64,
        pub num_byte_strides: usize,
        pub host_buffer_semantics: PJRT_HostBufferSemantics,
        pub device: *mut PJRT_Device,
        pub memory: *mut PJRT_Memory,
        pub device_layout: *mut c_void,
        pub done_with_host_buffer: *mut PJRT_Event,
        pub buffer: *mut PJRT_Buffer,
    }
    pub struct PJRT_DeviceDescription_Id_Args {
        pub device_description: *mut PJRT_DeviceDescription,
        pub id: c_int,
    }
    pub struct PJRT_DeviceDescription_Kind_Args {
        pub device_description: *mut PJRT_DeviceDescription,
        pub device_kind: *const c_char,
        pub device_kind_size: usize,
    }
    pub struct PJRT_DeviceDescription_DebugString_Args {
        pub device_description: *mut PJRT_DeviceDescription,
        pub debug_string: *const c_char,
        pub debug_string_size: usize,
    }
    pub struct PJRT_Device_GetDescription_Args {
        pub device: *mut PJRT_Device,
        pub device_description: *mut PJRT_DeviceDescription,
    }
    pub struct PJRT_Executable_Destroy_Args {
        pub executable: *mut PJRT_Executable,
    }
    pub struct PJRT_Executable_NumReplicas_Args {
        pub executable: *mut PJRT_Executable,
        pub num_replicas: usize,
    }
    pub struct PJRT_Executable_NumPartitions_Args {
        pub executable: *mut PJRT_Executable,
        pub num_partitions: usize,
    }
    pub struct PJRT_Executable_NumOutputs_Args {
        pub executable: *mut PJRT_Executable,
        pub num_outputs: usize,
    }
    pub struct PJRT_Executable_Serialize_Args {
        pub executable: *const PJRT_Executable,
        pub serialized_bytes: *const c_char,
        pub serialized_bytes_size: usize,
        pub serialized_executable: *mut PJRT_SerializedExecutable,
        pub serialized_executable_deleter:
            Option<unsafe extern "C" fn(exec: *mut PJRT_SerializedExecutable)>,
    }
    pub struct PJRT_Executable_GetCompiledMemoryStats_Args {
        pub executable: *mut PJRT_Executable,
        pub generated_code_size_in_bytes: i64,
        pub argument_size_in_bytes: i64,
        pub output_size_in_bytes: i64,
        pub alias_size_in_bytes: i64,
        pub temp_size_in_bytes: i64,
        pub host_generated_code_size_in_bytes: i64,
        pub host_argument_size_in_bytes: i64,
        pub host_output_size_in_bytes: i64,
        pub host_alias_size_in_bytes: i64,
        pub host_temp_size_in_bytes: i64,
        pub peak_memory_in_bytes: i64,
        pub total_size_in_bytes: i64,
    }
    pub struct PJRT_LoadedExecutable_Destroy_Args {
        pub executable: *mut PJRT_LoadedExecutable,
    }
    pub struct PJRT_LoadedExecutable_GetExecutable_Args {
        pub loaded_executable: *mut PJRT_LoadedExecutable,
        pub executable: *mut PJRT_Executable,
    }
    pub struct PJRT_LoadedExecutable_AddressableDevices_Args {
        pub executable: *mut PJRT_LoadedExecutable,
        pub addressable_devices: *const *mut PJRT_Device,
        pub num_addressable_devices: usize,
    }
    pub struct PJRT_ExecuteOptions {
        pub send_callbacks: *mut *mut c_void,
        pub recv_callbacks: *mut *mut c_void,
        pub num_send_ops: usize,
        pub num_recv_ops: usize,
        pub launch_id: c_int,
        pub non_donatable_input_indices: *const i64,
        pub num_non_donatable_input_indices: usize,
        pub context: *mut PJRT_ExecuteContext,
        pub call_location: *const c_char,
        pub num_tasks: usize,
        pub task_ids: *mut c_int,
        pub incarnation_ids: *mut i64,
    }
    pub struct PJRT_LoadedExecutable_Execute_Args {
        pub executable: *mut PJRT_LoadedExecutable,
        pub options: *mut PJRT_ExecuteOptions,
        pub argument_lists: *const *const *mut PJRT_Buffer,
        pub num_devices: usize,
        pub num_args: usize,
        pub output_lists: *const *mut *mut PJRT_Buffer,
        pub device_complete_events: *mut *mut PJRT_Event,
        pub execute_device: *mut PJRT_Device,
    }
    pub struct PJRT_Executable_DeserializeAndLoad_Args {
        pub client: *mut PJRT_Client,
        pub serialized_executable: *const c_char,
        pub serialized_executable_size: usize,
        pub loaded_executable: *mut PJRT_LoadedExecutable,
        pub overridden_serialized_compile_options: *const c_char,
        pub overridden_serialized_compile_options_size: usize,
    }
    pub struct PJRT_Buffer_Destroy_Args {
        pub buffer: *mut PJRT_Buffer,
    }
    pub struct PJRT_Buffer_ElementType_Args {
        pub buffer: *mut PJRT_Buffer,
        pub type_: PJRT_Buffer_Type,
    }
    pub struct PJRT_Buffer_Dimensions_Args {
        pub buffer: *mut PJRT_Buffer,
        pub dims: *const i64,
        pub num_dims: usize,
    }
    pub struct PJRT_Buffer_Device_Args {
        pub buffer: *mut PJRT_Buffer,
        pub device: *mut PJRT_Device,
    }
    pub struct PJRT_Buffer_Delete_Args {
        pub buffer: *mut PJRT_Buffer,
    }
    pub struct PJRT_Buffer_IsDeleted_Args {
        pub buffer: *mut PJRT_Buffer,
        pub is_deleted: bool,
    }
    pub struct PJRT_Buffer_ToHostBuffer_Args {
        pub src: *mut PJRT_Buffer,
        pub host_layout: *mut c_void,
        pub dst: *mut c_void,
        pub dst_size: usize,
        pub event: *mut PJRT_Event,
    }
}

/// A PJRT entry point: every function takes a pointer to its Args and returns an owned error or
/// null.
pub type PjrtFn<A> = unsafe extern "C" fn(args: *mut A) -> *mut PJRT_Error;
/// The two error functions that cannot fail.
pub type PjrtVoidFn<A> = unsafe extern "C" fn(args: *mut A);
/// A function-table slot xlatrain does not call.
pub type Unused = Option<unsafe extern "C" fn()>;

/// The `PJRT_Api` function table, declared up to the last slot xlatrain uses
/// (`PJRT_Executable_GetCompiledMemoryStats`); the plugin's `struct_size` must reach at least
/// that far.
#[repr(C)]
pub struct PJRT_Api {
    pub struct_size: usize,
    pub extension_start: *mut c_void,
    pub pjrt_api_version: PJRT_Api_Version,

    pub PJRT_Error_Destroy: Option<PjrtVoidFn<PJRT_Error_Destroy_Args>>,
    pub PJRT_Error_Message: Option<PjrtVoidFn<PJRT_Error_Message_Args>>,
    pub PJRT_Error_GetCode: Option<PjrtFn<PJRT_Error_GetCode_Args>>,

    pub PJRT_Plugin_Initialize: Option<PjrtFn<PJRT_Plugin_Initialize_Args>>,
    pub PJRT_Plugin_Attributes: Option<PjrtFn<PJRT_Plugin_Attributes_Args>>,

    pub PJRT_Event_Destroy: Option<PjrtFn<PJRT_Event_Destroy_Args>>,
    pub PJRT_Event_IsReady: Unused,
    pub PJRT_Event_Error: Unused,
    pub PJRT_Event_Await: Option<PjrtFn<PJRT_Event_Await_Args>>,
    pub PJRT_Event_OnReady: Unused,

    pub PJRT_Client_Create: Option<PjrtFn<PJRT_Client_Create_Args>>,
    pub PJRT_Client_Destroy: Option<PjrtFn<PJRT_Client_Destroy_Args>>,
    pub PJRT_Client_PlatformName: Option<PjrtFn<PJRT_Client_PlatformName_Args>>,
    pub PJRT_Client_ProcessIndex: Unused,
    pub PJRT_Client_PlatformVersion: Option<PjrtFn<PJRT_Client_PlatformVersion_Args>>,
    pub PJRT_Client_Devices: Option<PjrtFn<PJRT_Client_Devices_Args>>,
    pub PJRT_Client_AddressableDevices: Option<PjrtFn<PJRT_Client_AddressableDevices_Args>>,
    pub PJRT_Client_LookupDevice: Unused,
    pub PJRT_Client_LookupAddressableDevice: Unused,
    pub PJRT_Client_AddressableMemories: Unused,
    pub PJRT_Client_Compile: Option<PjrtFn<PJRT_Client_Compile_Args>>,
    pub PJRT_Client_DefaultDeviceAssignment: Unused,
    pub PJRT_Client_BufferFromHostBuffer: Option<PjrtFn<PJRT_Client_BufferFromHostBuffer_Args>>,

    pub PJRT_DeviceDescription_Id: Option<PjrtFn<PJRT_DeviceDescription_Id_Args>>,
    pub PJRT_DeviceDescription_ProcessIndex: Unused,
    pub PJRT_DeviceDescription_Attributes: Unused,
    pub PJRT_DeviceDescription_Kind: Option<PjrtFn<PJRT_DeviceDescription_Kind_Args>>,
    pub PJRT_DeviceDescription_DebugString: Option<PjrtFn<PJRT_DeviceDescription_DebugString_Args>>,
    pub PJRT_DeviceDescription_ToString: Unused,

    pub PJRT_Device_GetDescription: Option<PjrtFn<PJRT_Device_GetDescription_Args>>,
    pub PJRT_Device_IsAddressable: Unused,
    pub PJRT_Device_LocalHardwareId: Unused,
    pub PJRT_Device_AddressableMemories: Unused,
    pub PJRT_Device_DefaultMemory: Unused,
    pub PJRT_Device_MemoryStats: Unused,

    pub PJRT_Memory_Id: Unused,
    pub PJRT_Memory_Kind: Unused,
    pub PJRT_Memory_DebugString: Unused,
    pub PJRT_Memory_ToString: Unused,
    pub PJRT_Memory_AddressableByDevices: Unused,

    pub PJRT_Executable_Destroy: Option<PjrtFn<PJRT_Executable_Destroy_Args>>,
    pub PJRT_Executable_Name: Unused,
    pub PJRT_Executable_NumReplicas: Option<PjrtFn<PJRT_Executable_NumReplicas_Args>>,
    pub PJRT_Executable_NumPartitions: Option<PjrtFn<PJRT_Executable_NumPartitions_Args>>,
    pub PJRT_Executable_NumOutputs: Option<PjrtFn<PJRT_Executable_NumOutputs_Args>>,
    pub PJRT_Executable_SizeOfGeneratedCodeInBytes: Unused,
    pub PJRT_Executable_GetCostAnalysis: Unused,
    pub PJRT_Executable_OutputMemoryKinds: Unused,
    pub PJRT_Executable_OptimizedProgram: Unused,
    pub PJRT_Executable_Serialize: Option<PjrtFn<PJRT_Executable_Serialize_Args>>,

    pub PJRT_LoadedExecutable_Destroy: Option<PjrtFn<PJRT_LoadedExecutable_Destroy_Args>>,
    pub PJRT_LoadedExecutable_GetExecutable:
        Option<PjrtFn<PJRT_LoadedExecutable_GetExecutable_Args>>,
    pub PJRT_LoadedExecutable_AddressableDevices:
        Option<PjrtFn<PJRT_LoadedExecutable_AddressableDevices_Args>>,
    pub PJRT_LoadedExecutable_Delete: Unused,
    pub PJRT_LoadedExecutable_IsDeleted: Unused,
    pub PJRT_LoadedExecutable_Execute: Option<PjrtFn<PJRT_LoadedExecutable_Execute_Args>>,
    pub PJRT_Executable_DeserializeAndLoad: Option<PjrtFn<PJRT_Executable_DeserializeAndLoad_Args>>,
    pub PJRT_LoadedExecutable_Fingerprint: Unused,

    pub PJRT_Buffer_Destroy: Option<PjrtFn<PJRT_Buffer_Destroy_Args>>,
    pub PJRT_Buffer_ElementType: Option<PjrtFn<PJRT_Buffer_ElementType_Args>>,
    pub PJRT_Buffer_Dimensions: Option<PjrtFn<PJRT_Buffer_Dimensions_Args>>,
    pub PJRT_Buffer_UnpaddedDimensions: Unused,
    pub PJRT_Buffer_DynamicDimensionIndices: Unused,
    pub PJRT_Buffer_GetMemoryLayout: Unused,
    pub PJRT_Buffer_OnDeviceSizeInBytes: Unused,
    pub PJRT_Buffer_Device: Option<PjrtFn<PJRT_Buffer_Device_Args>>,
    pub PJRT_Buffer_Memory: Unused,
    pub PJRT_Buffer_Delete: Option<PjrtFn<PJRT_Buffer_Delete_Args>>,
    pub PJRT_Buffer_IsDeleted: Option<PjrtFn<PJRT_Buffer_IsDeleted_Args>>,
    pub PJRT_Buffer_CopyToDevice: Unused,
    pub PJRT_Buffer_ToHostBuffer: Option<PjrtFn<PJRT_Buffer_ToHostBuffer_Args>>,
    pub PJRT_Buffer_IsOnCpu: Unused,
    pub PJRT_Buffer_ReadyEvent: Unused,
    pub PJRT_Buffer_UnsafePointer: Unused,
    pub PJRT_Buffer_IncreaseExternalReferenceCount: Unused,
    pub PJRT_Buffer_DecreaseExternalReferenceCount: Unused,
    pub PJRT_Buffer_OpaqueDeviceMemoryDataPointer: Unused,

    pub PJRT_CopyToDeviceStream_Destroy: Unused,
    pub PJRT_CopyToDeviceStream_AddChunk: Unused,
    pub PJRT_CopyToDeviceStream_TotalBytes: Unused,
    pub PJRT_CopyToDeviceStream_GranuleSize: Unused,
    pub PJRT_CopyToDeviceStream_CurrentBytes: Unused,

    pub PJRT_TopologyDescription_Create: Unused,
    pub PJRT_TopologyDescription_Destroy: Unused,
    pub PJRT_TopologyDescription_PlatformName: Unused,
    pub PJRT_TopologyDescription_PlatformVersion: Unused,
    pub PJRT_TopologyDescription_GetDeviceDescriptions: Unused,
    pub PJRT_TopologyDescription_Serialize: Unused,
    pub PJRT_TopologyDescription_Attributes: Unused,

    pub PJRT_Compile: Unused,
    pub PJRT_Executable_OutputElementTypes: Unused,
    pub PJRT_Executable_OutputDimensions: Unused,
    pub PJRT_Buffer_CopyToMemory: Unused,
    pub PJRT_Client_CreateViewOfDeviceBuffer: Unused,
    pub PJRT_Executable_Fingerprint: Unused,
    pub PJRT_Client_TopologyDescription: Unused,
    pub PJRT_Executable_GetCompiledMemoryStats:
        Option<PjrtFn<PJRT_Executable_GetCompiledMemoryStats_Args>>,
}

/// The one symbol a plugin exports.
pub type GetPjrtApiFn = unsafe extern "C" fn() -> *const PJRT_Api;

#[cfg(test)]
mod tests {
    use super::*;

    /// Sizes the C header states for minor 81 (computed there as end offset of the last field).
    #[test]
    fn args_sizes_match_the_c_layout() {
        assert_eq!(PJRT_Client_Create_Args::STRUCT_SIZE, 88);
        assert_eq!(PJRT_Error_GetCode_Args::STRUCT_SIZE, 28);
        assert_eq!(PJRT_Plugin_Initialize_Args::STRUCT_SIZE, 16);
        assert_eq!(PJRT_NamedValue::STRUCT_SIZE, 56);
        assert_eq!(PJRT_Buffer_IsDeleted_Args::STRUCT_SIZE, 25);
        assert_eq!(PJRT_LoadedExecutable_Execute_Args::STRUCT_SIZE, 80);
        assert_eq!(PJRT_Client_BufferFromHostBuffer_Args::STRUCT_SIZE, 120);
        assert_eq!(PJRT_ExecuteOptions::STRUCT_SIZE, 112);
        assert_eq!(PJRT_Executable_Serialize_Args::STRUCT_SIZE, 56);
        assert_eq!(PJRT_Executable_DeserializeAndLoad_Args::STRUCT_SIZE, 64);
        assert_eq!(
            PJRT_Executable_GetCompiledMemoryStats_Args::STRUCT_SIZE,
            120
        );
        assert_eq!(PJRT_Buffer_ToHostBuffer_Args::STRUCT_SIZE, 56);
        assert_eq!(PJRT_Client_Compile_Args::STRUCT_SIZE, 56);
        assert_eq!(PJRT_Program::STRUCT_SIZE, 48);
        assert_eq!(std::mem::offset_of!(PJRT_Api, PJRT_Error_Destroy), 40);
        assert_eq!(std::mem::offset_of!(PJRT_Api, PJRT_Buffer_IsDeleted), 584);
        assert_eq!(std::mem::offset_of!(PJRT_Api, PJRT_Buffer_ReadyEvent), 616);
    }
}
