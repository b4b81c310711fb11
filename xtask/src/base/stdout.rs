//! `--json`: standard output carries one JSON document and nothing else. For the length of the
//! command, file descriptor 1 points at standard error, so every line xtask prints and every
//! tool it runs (terraform, podman, cargo inherit fd 1) lands on stderr as progress; the
//! document goes to the real stdout, saved aside, at the end.

use std::io::Write as _;
use std::os::fd::OwnedFd;

/// The real standard output while fd 1 is redirected to stderr; [`JsonStdout::emit`] restores it.
pub struct JsonStdout {
    saved: OwnedFd,
}

impl JsonStdout {
    /// Save fd 1 and point it at fd 2.
    pub fn take() -> std::io::Result<Self> {
        std::io::stdout().flush()?;
        let saved = rustix::io::dup(std::io::stdout())?;
        rustix::stdio::dup2_stdout(std::io::stderr())?;
        Ok(Self { saved })
    }

    /// Put the real stdout back on fd 1 and write `value` there, one line.
    pub fn emit(self, value: &serde_json::Value) -> std::io::Result<()> {
        std::io::stdout().flush()?;
        rustix::stdio::dup2_stdout(&self.saved)?;
        let mut out = std::io::stdout().lock();
        writeln!(out, "{value}")?;
        out.flush()
    }
}

/// The shape every `--json` result shares (schema 1): the command, its environment, whether it
/// succeeded, the process exit code and the error text, plus the command's own `fields`.
pub fn result(
    command: &str,
    env: &str,
    result: &anyhow::Result<()>,
    fields: serde_json::Map<String, serde_json::Value>,
) -> serde_json::Value {
    let mut out = serde_json::json!({
        "schema": 1,
        "command": command,
        "environment": env,
        "ok": result.is_ok(),
        "exit_code": result.as_ref().err().map_or(0, super::error::exit_code),
        "message": result.as_ref().err().map(|e| format!("{e:#}")),
    });
    out.as_object_mut().expect("an object").extend(fields);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::base::error::CodedError;

    #[test]
    fn the_shared_shape_carries_the_exit_code_of_the_error() {
        let mut fields = serde_json::Map::new();
        fields.insert("image".into(), serde_json::Value::Null);
        let failed: anyhow::Result<()> = Err(CodedError::usage("no such environment"));
        let v = result("image", "qa", &failed, fields.clone());
        assert_eq!(
            v,
            serde_json::json!({"schema": 1, "command": "image", "environment": "qa", "ok": false,
                "exit_code": 2, "message": "no such environment", "image": null})
        );
        let v = result("image", "dev", &Ok(()), fields);
        assert_eq!((v["ok"].as_bool(), v["exit_code"].as_u64(), v["message"].is_null()), (Some(true), Some(0), true));
    }
}
