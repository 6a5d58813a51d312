//! The plugin, the client and buffers: loading, attributes, devices, uploads and downloads of
//! every element type, and clean errors (never aborts) for bad programs and bad options.

mod common;

use common::{cpu, fixture, values};
use xlatrain::pjrt::{Arg, Client, CompileOptions, DType, NativeType};
use xlatrain::Error;

#[test]
fn plugin_loads_with_a_supported_api_version_and_version_attributes() {
    let client = cpu();
    let (major, minor) = client.plugin().api_version();
    assert_eq!(major, 0);
    assert!(
        minor >= 81,
        "API minor {minor} is older than the layouts we use"
    );
    let attributes = client.plugin_attributes();
    let get = |name: &str| {
        attributes
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    assert!(get("xla_version").is_some(), "{attributes:?}");
    let stablehlo = get("stablehlo_current_version").expect("stablehlo_current_version");
    assert!(
        stablehlo.starts_with("[1,"),
        "unexpected StableHLO version {stablehlo}"
    );
    assert_eq!(get("pjrt_c_api_version"), Some(format!("{major}.{minor}")));
    assert_eq!(client.platform_name(), "cpu");
    assert!(!client.platform_version().is_empty());
}

#[test]
fn cpu_device_count_option_gives_eight_devices() {
    let client = Client::cpu_with_devices(8).unwrap();
    assert_eq!(client.device_count(), 8);
    let devices = client.devices();
    assert_eq!(devices.len(), 8);
    let mut ids: Vec<usize> = devices.iter().map(|d| d.id).collect();
    ids.sort();
    assert_eq!(ids, (0..8).collect::<Vec<_>>());
    assert!(devices.iter().all(|d| d.addressable && d.kind == "cpu"));
    // A buffer can be placed on the last device and reports it.
    let buffer = client.upload(&[1.0f32, 2.0], &[2], 7).unwrap();
    assert_eq!(buffer.device(), 7);
}

#[test]
fn bad_program_text_is_an_error_carrying_the_plugin_message() {
    let client = cpu();
    let program = "func.func @main(%a: tensor<2xf32>) -> tensor<2xf32> {\n  \
                   %0 = stablehlo.no_such_op %a : tensor<2xf32>\n  return %0 : tensor<2xf32>\n}\n";
    let error = client
        .compile(program, &CompileOptions::default())
        .unwrap_err();
    match &error {
        Error::Pjrt {
            function,
            message,
            code,
            ..
        } => {
            assert_eq!(*function, "PJRT_Client_Compile");
            assert!(message.contains("no_such_op"), "{message}");
            assert_ne!(*code, 0);
        }
        other => panic!("expected a PJRT error, got {other:?}"),
    }
    // The client is still usable afterwards.
    assert!(client
        .compile(&fixture("elementwise"), &CompileOptions::default())
        .is_ok());
}

#[test]
fn invalid_compile_options_are_rejected_by_validation() {
    let client = cpu();
    let program = fixture("all_reduce");
    let too_many = CompileOptions::replicated(client.device_count() + 1);
    let duplicated = CompileOptions {
        num_replicas: 2,
        device_assignment: Some(vec![vec![1], vec![1]]),
        ..CompileOptions::default()
    };
    let wrong_shape = CompileOptions {
        num_replicas: 2,
        device_assignment: Some(vec![vec![0, 1], vec![2, 3]]),
        ..CompileOptions::default()
    };
    let unknown_device = CompileOptions {
        device_assignment: Some(vec![vec![99]]),
        ..CompileOptions::default()
    };
    for options in [
        CompileOptions::replicated(0),
        too_many,
        duplicated,
        wrong_shape,
        unknown_device,
    ] {
        let result = client.compile_uncached(&program, &options);
        assert!(
            matches!(result, Err(Error::CompileOptions(_))),
            "{options:?} gave {result:?}"
        );
    }
}

#[test]
fn explicit_device_assignment_places_replicas_on_the_named_devices() {
    let client = cpu();
    let options = CompileOptions {
        num_replicas: 2,
        device_assignment: Some(vec![vec![3], vec![1]]),
        ..CompileOptions::default()
    };
    let exe = client
        .compile_uncached(&fixture("donate_add"), &options)
        .unwrap();
    let mut devices = exe.device_indices();
    devices.sort();
    assert_eq!(devices, vec![1, 3]);
}

#[test]
fn every_element_type_round_trips_bit_for_bit() {
    let client = cpu();
    for ty in DType::ALL {
        let dims = [3i64, 5];
        let count = 15;
        let bytes: Vec<u8> = if ty == DType::Pred {
            (0..count).map(|i| (i % 3 == 0) as u8).collect()
        } else {
            (0..count * ty.byte_size())
                .map(|i| ((i * 37 + 11) % 251) as u8)
                .collect()
        };
        let buffer = client.buffer_from_bytes(&bytes, ty, &dims, 1).unwrap();
        assert_eq!(buffer.element_type(), ty);
        assert_eq!(buffer.dims(), dims.to_vec());
        assert_eq!(buffer.byte_size(), bytes.len());
        assert_eq!(buffer.device(), 1);
        let mut back = vec![0u8; bytes.len()];
        buffer.copy_to_host(&mut back).unwrap();
        assert_eq!(back, bytes, "{ty}");
    }
}

fn typed_round_trip<T: NativeType + PartialEq + std::fmt::Debug>(client: &Client, data: &[T]) {
    let buffer = client.upload(data, &[data.len() as i64], 0).unwrap();
    assert_eq!(buffer.element_type(), T::TYPE);
    assert_eq!(buffer.to_vec::<T>().unwrap(), data);
}

#[test]
fn typed_uploads_round_trip_for_every_native_type() {
    let client = cpu();
    typed_round_trip(&client, &[1.5f32, -0.25, f32::MAX, f32::MIN_POSITIVE]);
    typed_round_trip(&client, &[1.5f64, -1e300, 3.0]);
    typed_round_trip(&client, &[-7i32, i32::MAX, i32::MIN]);
    typed_round_trip(&client, &[-7i64, i64::MAX, i64::MIN]);
    typed_round_trip(&client, &[7u32, u32::MAX]);
    typed_round_trip(&client, &[7u64, u64::MAX]);
    typed_round_trip(&client, &[0u8, 255, 128]);
    typed_round_trip(&client, &[true, false, true, true]);
    typed_round_trip(&client, &[-3i8, 100]);
    typed_round_trip(&client, &[-3i16, 30000]);
    typed_round_trip(&client, &[3u16, 60000]);
}

#[test]
fn scalar_buffers_have_no_dimensions() {
    let client = cpu();
    let buffer = client.upload(&[2.5f32], &[], 0).unwrap();
    assert_eq!(buffer.dims(), Vec::<i64>::new());
    assert_eq!(buffer.to_vec::<f32>().unwrap(), vec![2.5]);
}

#[test]
fn shape_and_size_mistakes_are_errors() {
    let client = cpu();
    assert!(matches!(
        client.upload(&[1.0f32; 5], &[2, 3], 0),
        Err(Error::BufferShape(_))
    ));
    assert!(matches!(
        client.upload(&[1.0f32; 6], &[2, -3], 0),
        Err(Error::BufferShape(_))
    ));
    assert!(matches!(
        client.upload(&[1.0f32; 6], &[6], 99),
        Err(Error::BufferShape(_))
    ));
    assert!(matches!(
        client.buffer_from_bytes(&[0, 2], DType::Pred, &[2], 0),
        Err(Error::BufferShape(_))
    ));
    let buffer = client.upload(&values(6, 1), &[2, 3], 0).unwrap();
    assert!(matches!(
        buffer.copy_to_host(&mut [0u8; 23]),
        Err(Error::BufferShape(_))
    ));
    assert!(matches!(buffer.to_vec::<i32>(), Err(Error::BufferShape(_))));
}

#[test]
fn execute_argument_mistakes_are_errors_not_crashes() {
    let client = cpu();
    let exe = client
        .compile(&fixture("dot_general"), &CompileOptions::default())
        .unwrap();
    let a = client.upload(&values(6, 1), &[2, 3], 0).unwrap();
    // Wrong number of argument lists for a single-device program.
    let result = exe.execute_replicated(vec![vec![Arg::Borrowed(&a)], vec![Arg::Borrowed(&a)]]);
    assert!(matches!(result, Err(Error::ExecuteArgs(_))));
    // Wrong number of arguments: the plugin reports it.
    assert!(exe.execute(vec![Arg::Borrowed(&a)]).is_err());
    // Wrong shape: the plugin reports it.
    let wrong = client.upload(&values(6, 1), &[3, 2], 0).unwrap();
    assert!(exe
        .execute(vec![Arg::Borrowed(&a), Arg::Borrowed(&wrong)])
        .is_err());
    // A deleted buffer is refused.
    let b = client.upload(&values(12, 2), &[3, 4], 0).unwrap();
    b.delete().unwrap();
    assert!(b.is_deleted());
    assert!(exe
        .execute(vec![Arg::Borrowed(&a), Arg::Borrowed(&b)])
        .is_err());
    // A buffer from another client is refused before reaching the plugin.
    let other = cpu();
    let foreign = other.upload(&values(12, 2), &[3, 4], 0).unwrap();
    let result = exe.execute(vec![Arg::Borrowed(&a), Arg::Borrowed(&foreign)]);
    assert!(matches!(result, Err(Error::ExecuteArgs(_))));
}
