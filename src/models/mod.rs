//! Models: the parameter specifications of the reference models ([`spec`]) and, later, their
//! graphs.

pub mod spec;

pub use spec::{
    describe_mismatch, init_params, Architecture, GptConfig, Init, MlpConfig, ModelConfig,
    ParamSignature, ParamSpec,
};
