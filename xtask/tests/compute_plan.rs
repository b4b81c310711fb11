//! `compute = "fargate" | "ec2"` planned for dev, both in one test, without AWS:
//! infra/layers/app/tests/compute.tftest.hcl runs `terraform test` plans of the app layer with a
//! mocked provider and fixed shared/core outputs, using envs/dev.tfvars, and asserts what each
//! compute type creates (and that bad compute settings fail on the right variable).

mod support;

use std::process::Command;

use support::{copy_tree, have_terraform, repo};

#[test]
fn dev_plans_with_fargate_and_with_ec2() {
    if !have_terraform() {
        eprintln!("skipped: terraform is not installed (cargo xtask doctor says how to get it)");
        return;
    }
    let tmp = std::env::temp_dir().join(format!("xtask-compute-plan-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(&tmp).unwrap();
    // A copy, so init's lock file and working files never land in the checkout.
    copy_tree(&repo().join("infra"), &tmp.join("infra"));
    let app = tmp.join("infra/layers/app");
    let terraform = |args: &[&str]| {
        let mut cmd = Command::new("terraform");
        cmd.arg(format!("-chdir={}", app.display()))
            .args(args)
            .env("TF_DATA_DIR", tmp.join("data"))
            .env("TF_IN_AUTOMATION", "1");
        // Nothing from the host's AWS or Terraform settings leaks in; the provider is mocked.
        for (k, _) in std::env::vars_os() {
            let k = k.to_string_lossy().into_owned();
            if k.starts_with("AWS_") || k.starts_with("TF_VAR_") || k == "TF_CLI_ARGS" || k.starts_with("TF_CLI_ARGS_")
            {
                cmd.env_remove(k);
            }
        }
        // Offline machines: the provider mirror, as xtask configures it (XTASK_TF_MIRROR).
        if let Some(mirror) = std::env::var_os("XTASK_TF_MIRROR") {
            let rc = tmp.join("cli.tfrc");
            let m = std::path::PathBuf::from(mirror);
            std::fs::write(
                &rc,
                format!(
                    "provider_installation {{\n  filesystem_mirror {{\n    path    = \"{}\"\n    include = [\"registry.terraform.io/*/*\"]\n  }}\n  direct {{\n    exclude = [\"registry.terraform.io/*/*\"]\n  }}\n}}\n",
                    m.display()
                ),
            )
            .unwrap();
            cmd.env("TF_CLI_CONFIG_FILE", rc);
        }
        cmd.output().unwrap()
    };
    let init = terraform(&["init", "-backend=false", "-input=false", "-no-color", "-lockfile=readonly"]);
    let init =
        if init.status.success() { init } else { terraform(&["init", "-backend=false", "-input=false", "-no-color"]) };
    assert!(init.status.success(), "init:\n{}", String::from_utf8_lossy(&init.stderr));

    let out = terraform(&["test", "-no-color", "-var-file=../../envs/dev.tfvars"]);
    let text = String::from_utf8_lossy(&out.stdout);
    println!("{text}");
    let _ = std::fs::remove_dir_all(&tmp);
    assert!(out.status.success(), "terraform test failed:\n{text}\n{}", String::from_utf8_lossy(&out.stderr));
    for run in ["fargate", "ec2", "unknown_compute", "instance_too_small", "min_above_max"] {
        assert!(text.contains(&format!("run \"{run}\"... pass")), "run {run} did not pass:\n{text}");
    }
}
