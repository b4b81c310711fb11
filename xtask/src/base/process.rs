//! A `std::process::Command` as the one shell line that runs it: what `--dry-run` prints for a
//! process xtask spawns itself (a server in the background), read off the command that will run,
//! never written by hand beside it.

use std::ffi::OsStr;
use std::process::Command;

/// `K=V ... program args...`, each word quoted for a POSIX shell where it needs it. Variables
/// come sorted by name (as `Command` keeps them); a removed variable (`env_remove`) is
/// `-u K` after `env`.
pub fn display(cmd: &Command) -> String {
    let mut words = vec![];
    let mut removed = vec![];
    for (key, value) in cmd.get_envs() {
        match value {
            Some(value) => words.push(format!("{}={}", key.to_string_lossy(), quote(value))),
            None => removed.push(key.to_string_lossy().into_owned()),
        }
    }
    if !removed.is_empty() {
        let unset: Vec<String> = removed.iter().map(|k| format!("-u {k}")).collect();
        words.insert(0, format!("env {}", unset.join(" ")));
    }
    words.push(quote(cmd.get_program()));
    words.extend(cmd.get_args().map(quote));
    words.join(" ")
}

fn quote(word: &OsStr) -> String {
    let word = word.to_string_lossy();
    let plain = !word.is_empty() && word.chars().all(|c| c.is_ascii_alphanumeric() || "-_./:=@,+%".contains(c));
    if plain { word.into_owned() } else { format!("'{}'", word.replace('\'', r"'\''")) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variables_then_program_then_arguments_quoted_where_needed() {
        let mut cmd = Command::new("target/debug/app");
        cmd.env("PORT", "5000").env("DATABASE_URL", "sqlite::memory:").env("GREETING", "it's me").arg("--flag");
        assert_eq!(
            display(&cmd),
            r"DATABASE_URL=sqlite::memory: GREETING='it'\''s me' PORT=5000 target/debug/app --flag"
        );
    }

    #[test]
    fn a_removed_variable_is_unset_and_an_empty_word_is_kept() {
        let mut cmd = Command::new("moto_server");
        cmd.env_remove("AWS_PROFILE").env("X", "").arg("");
        assert_eq!(display(&cmd), "env -u AWS_PROFILE X='' moto_server ''");
    }
}
