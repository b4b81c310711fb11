//! Captures the git commit at build time so `APP_VERSION` defaults to `<crate version>+<commit>`.
//! Container builds without `.git` can pass `GIT_COMMIT` instead; otherwise it is "unknown".
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-env-changed=GIT_COMMIT");
    let commit = std::env::var("GIT_COMMIT").ok().filter(|c| !c.is_empty()).or_else(|| {
        let out = Command::new("git").args(["rev-parse", "--short=12", "HEAD"]).output().ok()?;
        out.status.success().then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
    });
    // Rebuild when HEAD moves, so the embedded commit is never stale.
    if let Ok(out) = Command::new("git").args(["rev-parse", "--git-dir"]).output() {
        let git_dir = String::from_utf8_lossy(&out.stdout).trim().to_owned();
        if out.status.success() && !git_dir.is_empty() {
            println!("cargo:rerun-if-changed={git_dir}/HEAD");
            println!("cargo:rerun-if-changed={git_dir}/refs/heads");
        }
    }
    println!("cargo:rustc-env=APP_GIT_COMMIT={}", commit.unwrap_or_else(|| "unknown".into()));
}
