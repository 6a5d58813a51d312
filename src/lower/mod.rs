//! lower: see the module README section in lib.rs.
