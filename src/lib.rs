//! xlatrain: a compiler-backed trainer.
//!
//! A model is a graph built in Rust ([`graph`]), differentiated in Rust, lowered to one StableHLO
//! program per train step ([`lower`]) and compiled by XLA through the PJRT C API ([`pjrt`]), so the
//! same binary runs on CPU, GPU or TPU by loading the matching plugin. Training state stays on the
//! device; [`checkpoint`] streams it back into safetensors shards and restores it bit
//! for bit.

// Raw pointers and FFI live behind the safe wrappers of `pjrt` and `mmap`; nothing else may
// write `unsafe`.
#![deny(unsafe_code)]

pub mod bench;
pub mod checkpoint;
pub mod cli;
pub mod config;
pub mod data;
pub mod dtype;
pub mod error;
pub mod export;
pub mod graph;
pub mod hf;
pub mod infer;
pub mod lower;
#[allow(unsafe_code)]
pub mod mmap;
pub mod models;
pub mod optim;
#[allow(unsafe_code)]
pub mod pjrt;
pub mod provision;
pub mod rng;
pub mod signals;
pub mod tensor_spec;
pub mod tokenizer;
pub mod train;

pub use dtype::DType;
pub use error::{Error, Result};
pub use tensor_spec::TensorSpec;
