//! Compile options: how many replicas and partitions a program runs on and which device runs
//! each, validated in Rust and hand-encoded as the `xla.CompileOptionsProto` bytes PJRT expects.
//!
//! Validation matters more than usual here: XLA CHECK-fails (aborts the whole process) on an
//! inconsistent device assignment instead of returning an error, so nothing reaches the plugin
//! unless it is consistent.
//!
//! Encoded fields (protobuf field numbers from xla/pjrt/compile_options.proto and xla.proto):
//! `CompileOptionsProto.executable_build_options = 3`; in `ExecutableBuildOptionsProto`
//! `num_replicas = 4`, `num_partitions = 5`, `use_spmd_partitioning = 6`, `device_assignment = 9`;
//! in `DeviceAssignmentProto` `replica_count = 1`, `computation_count = 2`,
//! `computation_devices = 3` (one per partition) each with `replica_device_ids = 1` (packed).

use crate::{Error, Result};

/// How a program is laid out over devices.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompileOptions {
    pub num_replicas: usize,
    pub num_partitions: usize,
    /// Device ids indexed `[replica][partition]`; `None` assigns devices `0, 1, 2, ...` in
    /// replica-major order.
    pub device_assignment: Option<Vec<Vec<usize>>>,
    pub use_spmd_partitioning: bool,
}

impl Default for CompileOptions {
    fn default() -> Self {
        CompileOptions {
            num_replicas: 1,
            num_partitions: 1,
            device_assignment: None,
            use_spmd_partitioning: false,
        }
    }
}

impl CompileOptions {
    /// `n` replicas of a data-parallel program on devices `0..n`.
    pub fn replicated(n: usize) -> Self {
        CompileOptions {
            num_replicas: n,
            ..CompileOptions::default()
        }
    }

    /// One program split over `n` devices by the SPMD partitioner.
    pub fn spmd(n: usize) -> Self {
        CompileOptions {
            num_partitions: n,
            use_spmd_partitioning: true,
            ..CompileOptions::default()
        }
    }

    /// Checks the options against the client's device ids and returns the full assignment
    /// `[replica][partition]` that will be encoded.
    pub fn resolve(&self, device_ids: &[usize]) -> Result<Vec<Vec<usize>>> {
        let bad = |message: String| Err(Error::CompileOptions(message));
        if self.num_replicas == 0 {
            return bad("num_replicas must be at least 1".into());
        }
        if self.num_partitions == 0 {
            return bad("num_partitions must be at least 1".into());
        }
        let Some(total) = self.num_replicas.checked_mul(self.num_partitions) else {
            return bad("num_replicas x num_partitions overflows".into());
        };
        if total > device_ids.len() {
            return bad(format!(
                "{} replicas x {} partitions need {total} devices, the client has {}",
                self.num_replicas,
                self.num_partitions,
                device_ids.len()
            ));
        }
        if total > i32::MAX as usize {
            return bad(format!(
                "{total} devices do not fit the protobuf's int32 counts"
            ));
        }
        let assignment = match &self.device_assignment {
            Some(assignment) => assignment.clone(),
            None => (0..self.num_replicas)
                .map(|r| {
                    (0..self.num_partitions)
                        .map(|p| device_ids[r * self.num_partitions + p])
                        .collect()
                })
                .collect(),
        };
        if assignment.len() != self.num_replicas {
            return bad(format!(
                "device_assignment has {} rows, expected one per replica ({})",
                assignment.len(),
                self.num_replicas
            ));
        }
        let mut seen = Vec::with_capacity(total);
        for (replica, row) in assignment.iter().enumerate() {
            if row.len() != self.num_partitions {
                return bad(format!(
                    "device_assignment row {replica} has {} entries, expected one per partition ({})",
                    row.len(),
                    self.num_partitions
                ));
            }
            for &device in row {
                if !device_ids.contains(&device) {
                    return bad(format!(
                        "device_assignment names device {device}, which the client does not have \
                         (devices: {device_ids:?})"
                    ));
                }
                if seen.contains(&device) {
                    return bad(format!(
                        "device {device} appears twice in device_assignment"
                    ));
                }
                seen.push(device);
            }
        }
        Ok(assignment)
    }

    /// Validates against the client's device ids and encodes the `CompileOptionsProto` bytes.
    pub fn encode(&self, device_ids: &[usize]) -> Result<Vec<u8>> {
        let assignment = self.resolve(device_ids)?;
        let mut device_assignment = Vec::new();
        put_varint_field(&mut device_assignment, 1, self.num_replicas as u64);
        put_varint_field(&mut device_assignment, 2, self.num_partitions as u64);
        for partition in 0..self.num_partitions {
            let mut packed_ids = Vec::new();
            for row in &assignment {
                put_varint(&mut packed_ids, row[partition] as u64);
            }
            let mut computation_devices = Vec::new();
            put_bytes_field(&mut computation_devices, 1, &packed_ids);
            put_bytes_field(&mut device_assignment, 3, &computation_devices);
        }

        let mut build_options = Vec::new();
        put_varint_field(&mut build_options, 4, self.num_replicas as u64);
        put_varint_field(&mut build_options, 5, self.num_partitions as u64);
        if self.use_spmd_partitioning {
            put_varint_field(&mut build_options, 6, 1);
        }
        put_bytes_field(&mut build_options, 9, &device_assignment);

        let mut compile_options = Vec::new();
        put_bytes_field(&mut compile_options, 3, &build_options);
        Ok(compile_options)
    }
}

fn put_varint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push((value as u8 & 0x7f) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

/// Wire type 0 (varint) field.
fn put_varint_field(out: &mut Vec<u8>, field: u64, value: u64) {
    put_varint(out, field << 3);
    put_varint(out, value);
}

/// Wire type 2 (length-delimited) field.
fn put_bytes_field(out: &mut Vec<u8>, field: u64, bytes: &[u8]) {
    put_varint(out, (field << 3) | 2);
    put_varint(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints_follow_the_protobuf_wire_format() {
        let mut out = Vec::new();
        put_varint(&mut out, 1);
        put_varint(&mut out, 300);
        put_varint(&mut out, 127);
        put_varint(&mut out, 128);
        assert_eq!(out, [0x01, 0xac, 0x02, 0x7f, 0x80, 0x01]);
    }

    #[test]
    fn single_device_options_extend_the_known_minimal_bytes() {
        let bytes = CompileOptions::default().encode(&[0, 1, 2, 3]).unwrap();
        // executable_build_options { num_replicas: 1, num_partitions: 1,
        //   device_assignment { replica_count: 1, computation_count: 1,
        //                       computation_devices { replica_device_ids: [0] } } }
        let expected = [
            0x1a, 0x0f, 0x20, 0x01, 0x28, 0x01, 0x4a, 0x09, 0x08, 0x01, 0x10, 0x01, 0x1a, 0x03,
            0x0a, 0x01, 0x00,
        ];
        assert_eq!(bytes, expected);
    }

    #[test]
    fn assignment_is_encoded_per_partition_over_replicas() {
        let options = CompileOptions {
            num_replicas: 2,
            num_partitions: 2,
            device_assignment: Some(vec![vec![3, 1], vec![0, 2]]),
            use_spmd_partitioning: true,
        };
        let bytes = options.encode(&[0, 1, 2, 3]).unwrap();
        // partition 0 runs on [3, 0] (replica 0, replica 1), partition 1 on [1, 2].
        let tail = [
            0x1a, 0x04, 0x0a, 0x02, 0x03, 0x00, 0x1a, 0x04, 0x0a, 0x02, 0x01, 0x02,
        ];
        assert!(bytes.ends_with(&tail), "{bytes:02x?}");
        assert!(
            bytes.windows(2).any(|w| w == [0x30, 0x01]),
            "spmd flag missing"
        );
    }

    #[test]
    fn inconsistent_options_are_rejected_before_reaching_xla() {
        let ids = [0, 1, 2, 3];
        let cases = [
            CompileOptions::replicated(0),
            CompileOptions::spmd(0),
            CompileOptions::replicated(5),
            CompileOptions {
                num_replicas: 2,
                device_assignment: Some(vec![vec![0]]),
                ..CompileOptions::default()
            },
            CompileOptions {
                num_replicas: 2,
                device_assignment: Some(vec![vec![0], vec![0]]),
                ..CompileOptions::default()
            },
            CompileOptions {
                num_replicas: 1,
                device_assignment: Some(vec![vec![7]]),
                ..CompileOptions::default()
            },
            CompileOptions {
                num_partitions: 2,
                device_assignment: Some(vec![vec![0]]),
                ..CompileOptions::default()
            },
        ];
        for options in cases {
            assert!(
                matches!(options.encode(&ids), Err(Error::CompileOptions(_))),
                "accepted {options:?}"
            );
        }
    }
}
