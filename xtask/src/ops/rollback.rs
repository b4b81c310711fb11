//! Which revision a rollback goes to.
//!
//! `cargo xtask rollback --env E`: the newest revision BELOW the serving one that a deploy saw
//! COMPLETED (the `rdeploy:completed` tag) and that is still ACTIVE. Below, not "the last one
//! completed": after a rollback from 7 to 5, the next rollback goes to 4 or lower, never forward
//! to the 7 it just left. `--to N` (or `family:N`, or an ARN) names it; refused with one line
//! (exit 2, nothing changed) when it is unknown, of another family, deregistered, the bootstrap
//! revision, never COMPLETED, or already serving.
//!
//! A failed deploy's own rollback ([`after_failure`]): only to a revision that reached COMPLETED.
//! The bootstrap revision (a failed first deploy) never did: ECS could not start it either, so
//! going back to it would only watch a second failure for the rollback timeout.
//!
//! The revisions passed in: the family's recent ones (ListTaskDefinitions + DescribeTaskDefinition
//! with TAGS), plus, for `--to N`, the one named (DescribeTaskDefinition `family:N` answers an
//! INACTIVE one too, so it is refused as deregistered rather than as unknown).

use super::family_and_number;
use super::revisions::Revision;

/// The rollback target, or the one line that refuses it.
pub fn choose(
    revisions: &[Revision],
    family: &str,
    serving: &str,
    to: Option<&str>,
    env: &str,
) -> Result<Revision, String> {
    let listing = format!("`cargo xtask revisions --env {env}` lists them");
    let (serving_family, serving_number) = family_and_number(serving).ok_or_else(|| {
        format!("the service has no serving revision ('{serving}'): nothing to roll back from; deploy an image first")
    })?;
    if serving_family != family {
        return Err(format!(
            "the service runs {} of family {serving_family}, not {family} (infra/envs/{env}.tfvars): refusing to roll back",
            super::short(serving)
        ));
    }
    match to {
        Some(to) => named(revisions, family, serving, to, env, &listing),
        None => revisions
            .iter()
            .filter(|r| r.family == family && r.number < serving_number && r.completed() && r.active() && !r.is_bootstrap())
            .max_by_key(|r| r.number)
            .cloned()
            .ok_or_else(|| {
                let deregistered: Vec<String> = revisions
                    .iter()
                    .filter(|r| r.family == family && r.number < serving_number && r.completed() && !r.active())
                    .map(|r| r.number.to_string())
                    .collect();
                let also = if deregistered.is_empty() {
                    String::new()
                } else {
                    format!(" (revisions {} did, but are deregistered)", deregistered.join(", "))
                };
                format!(
                    "no revision of {family} older than {family}:{serving_number} ever reached COMPLETED{also}: nothing to \
                     roll back to; {listing}"
                )
            }),
    }
}

fn named(
    revisions: &[Revision],
    family: &str,
    serving: &str,
    to: &str,
    env: &str,
    listing: &str,
) -> Result<Revision, String> {
    let to = to.trim();
    let (to_family, number) = match to.parse::<i32>() {
        Ok(n) if n > 0 => (family, n),
        _ => family_and_number(to).ok_or_else(|| {
            format!("--to '{to}': give a revision number (7), family:revision or a task definition ARN")
        })?,
    };
    if to_family != family {
        return Err(format!(
            "--to {to}: {to_family} is another family; this environment's service runs {family} (infra/envs/{env}.tfvars)"
        ));
    }
    let name = format!("{family}:{number}");
    let r = revisions
        .iter()
        .find(|r| r.family == family && r.number == number)
        .ok_or_else(|| format!("--to {to}: {name} does not exist; {listing}"))?;
    if r.arn == serving {
        return Err(format!(
            "--to {to}: {name} is already serving; to replace its tasks: `cargo xtask deploy --env {env} --force`"
        ));
    }
    if !r.active() {
        return Err(format!("--to {to}: {name} is deregistered (INACTIVE) and cannot start tasks; {listing}"));
    }
    if r.is_bootstrap() {
        return Err(format!(
            "--to {to}: {name} is Terraform's bootstrap revision (image tag bootstrap, never pushed): it can never start"
        ));
    }
    if !r.completed() {
        return Err(format!(
            "--to {to}: {name} never reached COMPLETED (no deploy saw it serve): refusing to roll back to it; {listing}"
        ));
    }
    Ok(r.clone())
}

/// What a failed deploy does about the revision that served before it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AfterFailure {
    /// Roll back to it (it reached COMPLETED).
    RollBack(String),
    /// Do not: the line says why and what to do. The deploy ends at once, exit 4 (a person must
    /// look: the failed revision stays), instead of watching a rollback that cannot succeed.
    Stay(String),
}

/// `previous`: the revision the service ran before this deploy, None when there was none.
pub fn after_failure(previous: Option<&Revision>, env: &str) -> AfterFailure {
    match previous {
        Some(p) if p.completed() && !p.is_bootstrap() && p.active() => AfterFailure::RollBack(p.arn.clone()),
        Some(p) => {
            let why = if p.is_bootstrap() {
                "is Terraform's bootstrap revision (image tag bootstrap): it never started and never will"
            } else if !p.active() {
                "is deregistered"
            } else {
                "never reached COMPLETED"
            };
            AfterFailure::Stay(format!(
                "not rolling back: the previous revision {} {why}. The failed revision stays in the service; fix the \
                 image and run `cargo xtask deploy --env {env}` again (`cargo xtask logs --env {env}` shows why it failed)",
                p.short()
            ))
        }
        None => AfterFailure::Stay(format!(
            "not rolling back: there is no previous revision. Fix the image and run `cargo xtask deploy --env {env}` again"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::super::revisions::tests::{FAMILY, arn, rev};
    use super::*;

    /// 1 bootstrap (Terraform), 2 and 4 served, 3 failed (never completed), 5 serving now.
    fn history() -> Vec<Revision> {
        vec![
            rev(1, "bootstrap", false, true),
            rev(2, "a2", true, true),
            rev(3, "a3", false, true),
            rev(4, "a4", true, true),
            rev(5, "a5", true, true),
        ]
    }

    #[test]
    fn goes_back_to_the_newest_completed_revision_below_the_serving_one() {
        let target = choose(&history(), FAMILY, &arn(5), None, "dev").unwrap();
        assert_eq!(target.number, 4);
        // After rolling back to 4, the next rollback goes further back (3 never completed), never
        // forward to 5.
        assert_eq!(choose(&history(), FAMILY, &arn(4), None, "dev").unwrap().number, 2);
        // The order of the listing does not matter.
        let mut shuffled = history();
        shuffled.reverse();
        assert_eq!(choose(&shuffled, FAMILY, &arn(5), None, "dev").unwrap().number, 4);
    }

    #[test]
    fn never_to_the_bootstrap_or_a_never_completed_revision() {
        let err = choose(&history(), FAMILY, &arn(2), None, "dev").unwrap_err();
        assert!(err.contains("ever reached COMPLETED") && err.contains("nothing to roll back to"), "{err}");
        assert!(err.contains("cargo xtask revisions --env dev"), "{err}");
        // Even if the bootstrap revision somehow carried the tag.
        let mut tagged = history();
        tagged[0].completed_at = Some("x".into());
        assert!(choose(&tagged, FAMILY, &arn(2), None, "dev").is_err());
        // A completed but deregistered revision is skipped, and named.
        let mut gone = history();
        gone[3].status = "INACTIVE".into();
        assert_eq!(choose(&gone, FAMILY, &arn(5), None, "dev").unwrap().number, 2);
        gone[1].status = "INACTIVE".into();
        let err = choose(&gone, FAMILY, &arn(5), None, "dev").unwrap_err();
        assert!(err.contains("revisions 2, 4 did, but are deregistered"), "{err}");
    }

    #[test]
    fn to_names_a_completed_revision_by_number_name_or_arn() {
        for to in ["2", "rdeploy-dev-app:2", &arn(2)] {
            assert_eq!(choose(&history(), FAMILY, &arn(5), Some(to), "dev").unwrap().number, 2, "{to}");
        }
    }

    #[test]
    fn to_refuses_each_bad_revision_with_one_line() {
        let cases = [
            ("9", "rdeploy-dev-app:9 does not exist"),
            ("other-app:2", "other-app is another family"),
            (&arn(2).replace(FAMILY, "rdeploy-prod-app"), "rdeploy-prod-app is another family"),
            ("3", "never reached COMPLETED"),
            ("1", "bootstrap revision"),
            ("5", "already serving; to replace its tasks: `cargo xtask deploy --env dev --force`"),
            ("latest", "give a revision number"),
            ("0", "give a revision number"),
        ];
        for (to, expected) in cases {
            let err = choose(&history(), FAMILY, &arn(5), Some(to), "dev").unwrap_err();
            assert!(err.contains(expected), "--to {to}: {err}");
            assert!(!err.contains('\n'), "one line: {err}");
        }
        let mut gone = history();
        gone[1].status = "INACTIVE".into();
        let err = choose(&gone, FAMILY, &arn(5), Some("2"), "dev").unwrap_err();
        assert!(err.contains("deregistered (INACTIVE)"), "{err}");
    }

    #[test]
    fn no_serving_revision_or_another_family_is_refused() {
        let err = choose(&history(), FAMILY, "", None, "dev").unwrap_err();
        assert!(err.contains("no serving revision"), "{err}");
        let err = choose(&history(), FAMILY, "arn:aws:ecs:r:1:task-definition/else:3", None, "dev").unwrap_err();
        assert!(err.contains("family else, not rdeploy-dev-app"), "{err}");
    }

    #[test]
    fn a_failed_deploy_rolls_back_only_to_a_completed_revision() {
        let h = history();
        assert_eq!(after_failure(Some(&h[3]), "dev"), AfterFailure::RollBack(arn(4)));
        // A failed first deploy: the service ran the bootstrap revision.
        let AfterFailure::Stay(why) = after_failure(Some(&h[0]), "dev") else { panic!("must not roll back") };
        assert!(why.contains("rdeploy-dev-app:1 is Terraform's bootstrap revision"), "{why}");
        assert!(why.contains("`cargo xtask deploy --env dev`"), "{why}");
        let AfterFailure::Stay(why) = after_failure(Some(&h[2]), "dev") else { panic!("must not roll back") };
        assert!(why.contains("never reached COMPLETED"), "{why}");
        assert!(matches!(after_failure(None, "dev"), AfterFailure::Stay(w) if w.contains("no previous revision")));
    }
}
