//! `cargo xtask doctor`: every external tool, what was found where, and how to fix it.

use anyhow::Result;

use crate::run::Ctx;
use crate::tools::{self, ALL, Probe, Source};

pub fn run(ctx: &Ctx) -> Result<()> {
    let path = ctx.sh.var_os("PATH").unwrap_or_default();
    println!("tools directory: {} (set XTASK_TOOLS_DIR to move it)", tools::tools_dir(&ctx.root).display());
    println!("{:<15} {:<9} {:<12} {:<7} {:<24} where / fix", "tool", "pin", "found", "status", "used by");
    let mut problems = 0;
    for tool in ALL {
        let probe = tools::probe(tool, &path);
        let auto = !matches!(tool.source, Source::System { .. });
        let (found, status, detail) = match &probe {
            Probe::Ok { path, version } => (version.clone(), "ok", path.display().to_string()),
            Probe::WrongVersion { path, version } => {
                let status = if auto { "auto" } else { "OLD" };
                (version.clone(), status, format!("{} -> {}", path.display(), tools::install_hint(tool, &ctx.root)))
            }
            Probe::NoVersion { path } => ("?".into(), "?", format!("{} (no version output)", path.display())),
            Probe::Missing => {
                let status = if auto { "auto" } else { "MISSING" };
                ("-".into(), status, tools::install_hint(tool, &ctx.root))
            }
        };
        if !probe.is_ok() && !auto {
            problems += 1;
        }
        let pin = if auto || tool.locate == tools::Locate::Llvm {
            tool.version.to_owned()
        } else {
            format!(">={}", tool.version)
        };
        let detail = match (&probe, tool.locate) {
            (Probe::Ok { .. }, tools::Locate::Llvm) => {
                tools::find_llvm(&path).map_or(detail, |l| format!("{} ({})", l.cov.display(), l.origin))
            }
            _ => detail,
        };
        let used_by = if tool.used_by.is_empty() { "pip tools".to_owned() } else { tool.used_by.join(",") };
        println!("{:<15} {:<9} {:<12} {:<7} {:<24} {}", tool.name, pin, found, status, used_by, detail);
    }
    let mirror = std::env::var("XTASK_TF_MIRROR")
        .map_or_else(|_| "not set: terraform uses the public registry".into(), |m| format!("provider mirror {m}"));
    println!("\nterraform providers: {mirror}");
    let db = std::env::var("XTASK_ADVISORY_DB").map_or_else(
        |_| "not set: cargo audit fetches the RustSec database".into(),
        |d| format!("offline database {d}"),
    );
    println!("advisory database: {db}");
    println!(
        "\nstatus: ok = ready; auto = installed on first use by the command that needs it; MISSING/OLD = install it yourself with the command shown."
    );
    if problems > 0 {
        println!("{problems} system tool(s) need attention; commands that don't use them still work.");
    }
    Ok(())
}
