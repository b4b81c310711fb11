//! The bottom layer: small helpers every other layer may use. Imports nothing from the crate
//! above it (the tidy test checks), so anything here can be read and tested alone.

pub mod duration;
pub mod error;
pub mod git;
pub mod hex;
pub mod net;
pub mod paths;
pub mod process;
pub mod rustc;
pub mod stdout;
