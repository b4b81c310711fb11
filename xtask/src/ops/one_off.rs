//! `cargo xtask run --env E -- <app subcommand...>`: a one-off task of the SERVING revision, the
//! way the migration task runs (deploy/migrate.rs): RunTask in the service's network and compute,
//! the `app` container's command replaced, watched with DescribeTasks; it reports the app
//! container's exit code and the last lines of its log stream. This is how to do maintenance
//! without a shell in a FROM-scratch image.
//!
//! What it shares with the migration task (phase 2): `migrate::one_off(service, cluster, revision,
//! token)` builds the whole RunTask (network, launch type or capacity provider strategy, platform
//! version) with the command `["migrate"]`, startedBy `rdeploy-migrate`, group `migrate`; given
//! [`OneOff`]'s command, started_by and group it builds this one, and `migrate::run` watches it with
//! the same verdicts (`decide_task.rs`).

/// RunTask startedBy and group of `run`'s tasks (`aws ecs list-tasks --started-by rdeploy-run`).
pub const STARTED_BY: &str = "rdeploy-run";
pub const GROUP: &str = "run";
/// ECS refuses containerOverrides above 8192 characters in all; the command is most of it.
pub const MAX_COMMAND_CHARS: usize = 8000;
/// RunTask's clientToken: at most 64 characters.
const MAX_TOKEN: usize = 64;

/// What differs from the migration task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OneOff {
    /// The `app` container's command (the image's entrypoint is the app binary).
    pub command: Vec<String>,
    pub started_by: &'static str,
    pub group: &'static str,
}

/// The words after `--`, checked: an app subcommand and its arguments.
pub fn one_off(argv: &[String], env: &str) -> Result<OneOff, String> {
    let example = format!("e.g. `cargo xtask run --env {env} -- migrate`");
    let Some(first) = argv.first() else {
        return Err(format!("run: name the app subcommand after `--`, {example}"));
    };
    if first.starts_with('-') || first == "serve" {
        return Err(format!(
            "run: '{first}' is no subcommand: without one the app serves, and a one-off task that serves never ends; {example}"
        ));
    }
    if let Some(bad) = argv.iter().find(|a| a.is_empty() || a.contains('\0')) {
        return Err(format!("run: an empty or NUL-containing argument ({bad:?}) cannot be passed to the task"));
    }
    let size: usize = argv.iter().map(|a| a.len() + 3).sum();
    if size > MAX_COMMAND_CHARS {
        return Err(format!("run: the command is {size} characters; ECS takes at most {MAX_COMMAND_CHARS}"));
    }
    Ok(OneOff { command: argv.to_vec(), started_by: STARTED_BY, group: GROUP })
}

/// A clientToken unique to this run: a retried RunTask with it starts no second task.
pub fn client_token(pid: u32, nanos: u128) -> String {
    let mut token = format!("rdeploy-run-{pid}-{nanos}");
    token.truncate(MAX_TOKEN);
    token
}

/// How the command is shown (`--dry-run` and the first line): `app migrate --check`.
pub fn shown(one_off: &OneOff) -> String {
    let words: Vec<String> =
        one_off
            .command
            .iter()
            .map(|w| {
                if w.chars().any(|c| c.is_whitespace() || c == '"' || c == '\'') { format!("{w:?}") } else { w.clone() }
            })
            .collect();
    format!("app {}", words.join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(words: &[&str]) -> Vec<String> {
        words.iter().map(|w| (*w).to_owned()).collect()
    }

    #[test]
    fn a_subcommand_and_its_arguments_go_through_as_they_are() {
        let o = one_off(&argv(&["healthcheck", "--url", "http://127.0.0.1:5000/health"]), "dev").unwrap();
        assert_eq!(o.command, argv(&["healthcheck", "--url", "http://127.0.0.1:5000/health"]));
        assert_eq!((o.started_by, o.group), ("rdeploy-run", "run"));
        assert_eq!(shown(&one_off(&argv(&["migrate", "a b"]), "dev").unwrap()), "app migrate \"a b\"");
    }

    #[test]
    fn nothing_a_flag_or_serve_is_refused_with_the_way_to_call_it() {
        for words in [&[][..], &["--port", "1"], &["serve"]] {
            let err = one_off(&argv(words), "dev").unwrap_err();
            assert!(err.contains("`cargo xtask run --env dev -- migrate`"), "{words:?}: {err}");
        }
        assert!(one_off(&argv(&["migrate", ""]), "dev").unwrap_err().contains("empty"));
        let long = "x".repeat(MAX_COMMAND_CHARS);
        assert!(one_off(&argv(&["migrate", &long]), "dev").unwrap_err().contains("at most 8000"));
    }

    #[test]
    fn the_client_token_fits_runtask() {
        let t = client_token(u32::MAX, u128::MAX);
        assert!(t.len() <= 64 && t.starts_with("rdeploy-run-4294967295-"), "{t}");
        assert_ne!(client_token(1, 2), client_token(1, 3));
    }
}
