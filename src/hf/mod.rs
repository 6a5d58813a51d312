//! Hugging Face models: model files in the layouts users already have.

pub mod gguf;
