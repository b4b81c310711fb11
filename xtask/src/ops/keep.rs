//! `--keep N`: which ACTIVE revisions of the family a successful deploy deregisters.
//!
//! The newest N stay (by revision number), and whatever else the environment still needs, even
//! when older:
//! - the serving revision;
//! - the revision Terraform's state holds (`terraform output task_definition_arn` of the app
//!   layer): deregistered, the provider reads it as deleted and plans a new one on every run, so
//!   drift reports a difference every day;
//! - the deploy's previous good revision (the one a rollback would go to).
//!
//! Only revisions of `family` are ever returned, so a stray ARN in the list is never touched.

use super::family_and_number;

/// The ARNs to deregister, oldest first.
pub fn to_deregister(
    active: &[String],
    keep: usize,
    family: &str,
    serving: &str,
    terraform: Option<&str>,
    previous_good: Option<&str>,
) -> Vec<String> {
    let mut ours: Vec<(i32, &String)> = active
        .iter()
        .filter_map(|arn| family_and_number(arn).filter(|(f, _)| *f == family).map(|(_, n)| (n, arn)))
        .collect();
    ours.sort_by_key(|(n, _)| std::cmp::Reverse(*n));
    ours.dedup_by_key(|(n, _)| *n);
    let spared = |arn: &str| arn == serving || terraform == Some(arn) || previous_good == Some(arn);
    let mut doomed: Vec<String> =
        ours.into_iter().skip(keep).filter(|(_, arn)| !spared(arn)).map(|(_, arn)| arn.clone()).collect();
    doomed.reverse();
    doomed
}

#[cfg(test)]
mod tests {
    use super::super::revisions::tests::arn;
    use super::*;

    const FAMILY: &str = "rdeploy-dev-app";

    fn active(numbers: &[i32]) -> Vec<String> {
        numbers.iter().map(|n| arn(*n)).collect()
    }

    #[test]
    fn keeps_the_newest_n_and_deregisters_the_rest_oldest_first() {
        let list = active(&[3, 9, 1, 7, 8]);
        assert_eq!(to_deregister(&list, 3, FAMILY, &arn(9), None, None), vec![arn(1), arn(3)]);
        assert_eq!(to_deregister(&list, 5, FAMILY, &arn(9), None, None), Vec::<String>::new());
    }

    #[test]
    fn spares_terraforms_revision_even_when_old() {
        let list = active(&[1, 2, 3, 4, 5, 6]);
        // Terraform registered 2 (a tfvars change) and deploys went on from there.
        let doomed = to_deregister(&list, 2, FAMILY, &arn(6), Some(&arn(2)), None);
        assert_eq!(doomed, vec![arn(1), arn(3), arn(4)]);
        assert!(!doomed.contains(&arn(2)));
    }

    #[test]
    fn spares_the_serving_and_the_previous_good_revision() {
        let list = active(&[1, 2, 3, 4, 5, 6]);
        // A rollback left 2 serving while 5 and 6 were registered later; 1 is the rollback target.
        let doomed = to_deregister(&list, 2, FAMILY, &arn(2), Some(&arn(3)), Some(&arn(1)));
        assert_eq!(doomed, vec![arn(4)]);
    }

    #[test]
    fn never_touches_another_family_or_a_malformed_arn() {
        let mut list = active(&[1, 2, 3]);
        list.push("arn:aws:ecs:eu-west-1:1:task-definition/other-app:1".into());
        list.push("garbage".into());
        list.push(arn(1)); // listed twice
        assert_eq!(to_deregister(&list, 1, FAMILY, &arn(3), None, None), vec![arn(1), arn(2)]);
    }
}
