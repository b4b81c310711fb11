//! The database, planned and applied against a mocked provider (no AWS, no emulator):
//! - infra/modules/database/tests/database.tftest.hcl: every creation of the instance gets its
//!   own final snapshot name (two creations in a row differ; a re-plan keeps the name chosen at
//!   creation), the parameter group forces TLS, backups cannot be switched off;
//! - infra/layers/app/tests/database.tftest.hcl with dev's and prod's env files: the task
//!   definition gets DB_HOST/PORT/NAME/SSLMODE as environment and DB_USERNAME/DB_PASSWORD as
//!   `secrets` from the master secret (no credential, no DATABASE_URL in the environment), the
//!   security-group rule pair app <-> database and no CIDR egress on 5432; without a database
//!   DATABASE_URL=sqlite::memory:; DB_SSLMODE verify-full by default with no DB_SSLROOTCERT (the
//!   app's built-in RDS bundle), another mode or bundle can be chosen, a mode without TLS is
//!   refused; database_enabled with a core layer that has no database is refused.
//!
//! - infra/layers/core/tests/database.tftest.hcl with dev's and prod's env files: the database
//!   exists, backups are on, prod has deletion protection and a final snapshot.
//!
//! The execution role's policy (read exactly the master secret) is checked on the policy
//! Terraform really renders, in src/permissions/contract.rs.
//!
//! test-expected-seconds: 65

mod support;

use support::{have_terraform, terraform_test};

fn assert_runs(text: &str, runs: &[&str]) {
    for run in runs {
        assert!(text.contains(&format!("run \"{run}\"... pass")), "run {run} did not pass:\n{text}");
    }
}

#[test]
fn database_module_snapshot_names_tls_and_backups() {
    if !have_terraform() {
        eprintln!("skipped: terraform is not installed (cargo xtask doctor says how to get it)");
        return;
    }
    let (ok, text) = terraform_test("database-module", "modules/database", &[]);
    println!("{text}");
    assert!(ok, "terraform test failed:\n{text}");
    assert_runs(
        &text,
        &[
            "first_creation",
            "replan_keeps_the_name",
            "second_creation",
            "backups_cannot_be_switched_off",
            "unprotected_still_takes_the_final_snapshot",
            "disposable_skips_snapshot_and_backups",
        ],
    );
}

#[test]
fn dev_and_prod_wire_the_database_into_the_service() {
    if !have_terraform() {
        eprintln!("skipped: terraform is not installed (cargo xtask doctor says how to get it)");
        return;
    }
    for env in ["dev", "prod"] {
        let text = std::fs::read_to_string(support::repo().join(format!("infra/envs/{env}.tfvars"))).unwrap();
        assert!(
            text.lines().any(|l| l.split_whitespace().collect::<String>() == "database_enabled=true"),
            "{env}.tfvars switches the database on"
        );
        let var_file = format!("-var-file=../../envs/{env}.tfvars");
        let (ok, text) =
            terraform_test(&format!("database-{env}"), "layers/app", &["-filter=tests/database.tftest.hcl", &var_file]);
        println!("{env}:\n{text}");
        assert!(ok, "{env}: terraform test failed:\n{text}");
        let (ok, core) = terraform_test(&format!("database-core-{env}"), "layers/core", &[&var_file]);
        println!("{env} core:\n{core}");
        assert!(ok, "{env}: core layer terraform test failed:\n{core}");
        assert_runs(&core, &["prod_teardown_keeps_the_final_snapshot", "database_as_the_env_file_sets_it"]);
        assert_runs(
            &text,
            &[
                "with_database",
                "without_database",
                "another_mode_and_bundle_can_be_chosen",
                "require_needs_no_bundle",
                "a_mode_without_tls_is_refused",
                "core_without_a_database_is_refused",
            ],
        );
    }
}
