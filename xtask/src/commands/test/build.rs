//! Build every test binary of the workspace once (`cargo test --no-run`), plain or instrumented
//! for coverage, and list what cargo built: the test binaries and each package's executables.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use xshell::{Cmd, cmd};

use crate::base::paths;
use crate::run::{Ctx, Step};

/// Where the instrumented build lives: cargo-llvm-cov's own default, so `cargo llvm-cov report`
/// finds the objects and the `*.profraw` files without being told.
pub const COVERAGE_TARGET_DIR: &str = paths::COVERAGE_TARGET_REL;

/// The flags cargo-llvm-cov itself builds with (`cargo llvm-cov show-env` prints the same), so
/// the instrumented dependencies are shared with plain `cargo llvm-cov` runs.
pub const COVERAGE_RUSTFLAGS: &str = "-C instrument-coverage --cfg=coverage --cfg=trybuild_no_target";

/// One test binary, as cargo reported it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestBinary {
    /// nextest-style id: `app` (lib unit tests), `xtask::bin/xtask`, `xtask::local_env`.
    pub id: String,
    pub package: String,
    pub exe: PathBuf,
    /// The target's root source file (its `test-cache-ignores:` line lives there).
    pub src: PathBuf,
    /// The package directory: cargo runs tests from there, and so do we.
    pub package_dir: PathBuf,
}

/// An executable a package builds (`CARGO_BIN_EXE_<name>` of its integration tests).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackageBin {
    pub package: String,
    pub name: String,
    pub exe: PathBuf,
}

#[derive(Debug, Default, PartialEq, Eq)]
pub struct Built {
    pub tests: Vec<TestBinary>,
    pub bins: Vec<PackageBin>,
}

/// `cargo test --no-run` for the whole workspace, JSON artifacts on stdout (diagnostics still
/// rendered on stderr). Instrumented: cargo-llvm-cov's flags and target directory, and build
/// scripts (instrumented too) write their profiles out of the way of the report.
pub fn step<'a>(ctx: &'a Ctx, instrument: bool) -> Step<'a> {
    let sh = &ctx.sh;
    let cmd = cmd!(sh, "cargo test --workspace --locked --no-run --message-format=json-render-diagnostics");
    Step::new("build tests", None, if instrument { instrumented(ctx, cmd) } else { cmd })
}

fn instrumented<'a>(ctx: &Ctx, cmd: Cmd<'a>) -> Cmd<'a> {
    let target = ctx.root.join(COVERAGE_TARGET_DIR);
    cmd.env("RUSTFLAGS", COVERAGE_RUSTFLAGS)
        .env("CARGO_TARGET_DIR", &target)
        .env("LLVM_PROFILE_FILE", target.join("build-scripts/%p-%m.profraw"))
}

pub fn build(ctx: &Ctx, instrument: bool) -> Result<Built> {
    let step = step(ctx, instrument);
    if ctx.verbose {
        eprintln!("$ {step}");
    }
    let out = step.cmd.read().map_err(|e| step.failure(e.to_string()))?;
    parse(&out)
}

/// The artifacts of `cargo test --no-run --message-format=json`.
pub fn parse(json_lines: &str) -> Result<Built> {
    let mut built = Built::default();
    for line in json_lines.lines().filter(|l| l.starts_with('{')) {
        let v: serde_json::Value = serde_json::from_str(line).context("cargo printed a line that is not JSON")?;
        if v["reason"] != "compiler-artifact" {
            continue;
        }
        let Some(exe) = v["executable"].as_str() else { continue };
        let package = package_name(v["package_id"].as_str().unwrap_or_default());
        let name = v["target"]["name"].as_str().unwrap_or_default().to_owned();
        let kinds: Vec<&str> =
            v["target"]["kind"].as_array().into_iter().flatten().filter_map(|k| k.as_str()).collect();
        let manifest = PathBuf::from(v["manifest_path"].as_str().unwrap_or_default());
        let is_test = v["profile"]["test"].as_bool().unwrap_or(false);
        if is_test {
            let id = match kinds.first().copied().unwrap_or("") {
                "lib" | "proc-macro" => package.clone(),
                "test" => format!("{package}::{name}"),
                kind => format!("{package}::{kind}/{name}"),
            };
            built.tests.push(TestBinary {
                id,
                package,
                exe: exe.into(),
                src: v["target"]["src_path"].as_str().unwrap_or_default().into(),
                package_dir: manifest.parent().unwrap_or(Path::new(".")).to_owned(),
            });
        } else if kinds.contains(&"bin") {
            built.bins.push(PackageBin { package, name, exe: exe.into() });
        }
    }
    built.tests.sort_by(|a, b| a.id.cmp(&b.id));
    built.tests.dedup_by(|a, b| a.id == b.id);
    Ok(built)
}

/// `path+file:///work/rdeploy/app#0.1.0` -> `app`; `...#name@0.1.0` -> `name`.
fn package_name(id: &str) -> String {
    let (url, fragment) = id.split_once('#').unwrap_or((id, ""));
    match fragment.split_once('@') {
        Some((name, _)) => name.to_owned(),
        None => url.rsplit('/').next().unwrap_or(url).to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = r#"{"reason":"compiler-artifact","package_id":"path+file:///w/app#0.1.0","manifest_path":"/w/app/Cargo.toml","target":{"kind":["lib"],"name":"app","src_path":"/w/app/src/lib.rs"},"profile":{"test":false},"executable":null}
{"reason":"compiler-artifact","package_id":"path+file:///w/app#0.1.0","manifest_path":"/w/app/Cargo.toml","target":{"kind":["lib"],"name":"app","src_path":"/w/app/src/lib.rs"},"profile":{"test":true},"executable":"/w/target/debug/deps/app-1"}
{"reason":"compiler-artifact","package_id":"path+file:///w/app#0.1.0","manifest_path":"/w/app/Cargo.toml","target":{"kind":["bin"],"name":"app","src_path":"/w/app/src/main.rs"},"profile":{"test":false},"executable":"/w/target/debug/app"}
{"reason":"compiler-artifact","package_id":"path+file:///w/tools#my-xtask@0.1.0","manifest_path":"/w/tools/Cargo.toml","target":{"kind":["test"],"name":"local_env","src_path":"/w/tools/tests/local_env.rs"},"profile":{"test":true},"executable":"/w/target/debug/deps/local_env-2"}
{"reason":"compiler-artifact","package_id":"path+file:///w/tools#my-xtask@0.1.0","manifest_path":"/w/tools/Cargo.toml","target":{"kind":["bin"],"name":"xtask","src_path":"/w/tools/src/main.rs"},"profile":{"test":true},"executable":"/w/target/debug/deps/xtask-3"}
{"reason":"build-finished","success":true}
"#;

    #[test]
    fn artifacts_become_test_binaries_and_package_bins() {
        let built = parse(SAMPLE).unwrap();
        let ids: Vec<&str> = built.tests.iter().map(|t| t.id.as_str()).collect();
        assert_eq!(ids, ["app", "my-xtask::bin/xtask", "my-xtask::local_env"]);
        assert_eq!(built.tests[2].package_dir, Path::new("/w/tools"));
        assert_eq!(built.tests[2].src, Path::new("/w/tools/tests/local_env.rs"));
        assert_eq!(
            built.bins,
            [PackageBin { package: "app".into(), name: "app".into(), exe: "/w/target/debug/app".into() }]
        );
    }

    #[test]
    fn instrumented_build_uses_cargo_llvm_covs_flags_and_directory() {
        let ctx = Ctx::new(Path::new("/repo"), true, false).unwrap();
        let step = step(&ctx, true);
        assert_eq!(
            step.to_string(),
            "cargo test --workspace --locked --no-run --message-format=json-render-diagnostics"
        );
        let debug = format!("{:?}", step.cmd);
        assert!(debug.contains(COVERAGE_RUSTFLAGS) && debug.contains("/repo/target/llvm-cov-target"), "{debug}");
    }
}
