//! The one error type that carries its process exit code. Everything else is an
//! `anyhow::Error` and exits 1; `main` reads the code with `downcast_ref::<CodedError>()`.

use std::fmt;

/// An error with the exit code the process ends with (deploy, plan and drift document theirs).
#[derive(Debug)]
pub struct CodedError {
    pub code: u8,
    pub message: String,
}

impl CodedError {
    pub fn new(code: u8, message: impl Into<String>) -> Self {
        Self { code, message: message.into() }
    }

    /// Usage or configuration error (exit 2): bad input, a missing tool, nothing was changed.
    pub fn usage(message: impl Into<String>) -> anyhow::Error {
        Self::new(2, message).into()
    }

    /// A check or step failed (exit 1).
    pub fn failed(message: impl Into<String>) -> anyhow::Error {
        Self::new(1, message).into()
    }
}

impl fmt::Display for CodedError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for CodedError {}

/// The exit code of `err`: its [`CodedError`]'s (anyhow sees through added context), else 1.
pub fn exit_code(err: &anyhow::Error) -> u8 {
    err.downcast_ref::<CodedError>().map_or(1, |e| e.code)
}
