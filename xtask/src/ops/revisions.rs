//! One task definition revision as rollback, `--keep` and the listing see it, and the rows of
//! `cargo xtask revisions --env E`.
//!
//! Where "reached COMPLETED" is recorded: a tag on the revision, [`COMPLETED_TAG`], whose value
//! is the time (RFC 3339, UTC) a deploy, rollback or restart of xtask saw that revision's
//! deployment COMPLETED with every desired task running (TagResource on the task definition ARN).
//! Not ECS's ListServiceDeployments/DescribeServiceDeployments: they exist (aws-sdk-ecs 1.111)
//! but the emulator answers them with HTTP 500, so nothing built on them could be tested end to
//! end here, and their history starts only with the service deployments ECS still keeps. A tag
//! travels with the revision, reads back in the DescribeTaskDefinition the commands already make
//! (`include: [TAGS]`), and the emulator stores it. Its cost: a revision that completed under
//! another tool carries no tag, so rollback does not offer it (`--to N` says why).
//!
//! The bootstrap revision: Terraform seeds the family with the image tag `bootstrap`
//! (`container.image_tag` in infra/modules/ecs-service, `app_image_tag` in the tfvars), an image
//! that was never pushed. It never reaches COMPLETED, so it never carries the tag; it is also
//! named as such in every refusal.

use aws_sdk_ecs::primitives::DateTimeFormat;
use aws_sdk_ecs::types::{Tag, TaskDefinition};
use serde::Serialize;

/// The tag a deploy puts on a revision once its deployment reached COMPLETED.
pub const COMPLETED_TAG: &str = "rdeploy:completed";
/// The image tag of the revision Terraform seeds the family with.
pub const BOOTSTRAP_IMAGE_TAG: &str = "bootstrap";
/// The container deploys change (infra/modules/ecs-service names it so).
pub const APP_CONTAINER: &str = "app";

/// What the commands need to know about one revision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Revision {
    pub arn: String,
    pub family: String,
    pub number: i32,
    /// ACTIVE or INACTIVE (deregistered: it cannot start tasks any more).
    pub status: String,
    /// The `app` container's image (empty when there is no such container).
    pub image: String,
    /// RFC 3339, when ECS reports it.
    pub registered_at: Option<String>,
    /// The IAM principal that registered it, when ECS reports it.
    pub registered_by: Option<String>,
    /// The [`COMPLETED_TAG`] value: when a deploy saw it COMPLETED. None: it never served.
    pub completed_at: Option<String>,
}

impl Revision {
    /// From DescribeTaskDefinition (`include: [TAGS]`): the definition and its tags.
    pub fn from_sdk(def: &TaskDefinition, tags: &[Tag]) -> Self {
        let image = def
            .container_definitions()
            .iter()
            .find(|c| c.name() == Some(APP_CONTAINER))
            .and_then(|c| c.image())
            .unwrap_or_default()
            .to_owned();
        Self {
            arn: def.task_definition_arn().unwrap_or_default().to_owned(),
            family: def.family().unwrap_or_default().to_owned(),
            number: def.revision(),
            status: def.status().map(|s| s.as_str().to_owned()).unwrap_or_default(),
            image,
            registered_at: def.registered_at().and_then(|t| t.fmt(DateTimeFormat::DateTime).ok()),
            registered_by: def.registered_by().map(str::to_owned),
            completed_at: tags
                .iter()
                .find(|t| t.key() == Some(COMPLETED_TAG))
                .and_then(|t| t.value())
                .map(str::to_owned),
        }
    }

    pub fn short(&self) -> String {
        format!("{}:{}", self.family, self.number)
    }

    pub fn completed(&self) -> bool {
        self.completed_at.is_some()
    }

    pub fn active(&self) -> bool {
        self.status == "ACTIVE"
    }

    /// Terraform's seed revision: its image is the `bootstrap` tag.
    pub fn is_bootstrap(&self) -> bool {
        image_tag(&self.image) == Some(BOOTSTRAP_IMAGE_TAG)
    }

    /// The image's `sha256:...` digest, when it is pinned by one.
    pub fn digest(&self) -> Option<&str> {
        self.image.split_once('@').map(|(_, d)| d)
    }
}

/// The tag of `repo:tag` (None for `repo@sha256:...` or a bare name). A registry port
/// (`host:5000/repo`) is no tag.
pub fn image_tag(image: &str) -> Option<&str> {
    if image.contains('@') {
        return None;
    }
    let last = image.rsplit('/').next().unwrap_or(image);
    last.rsplit_once(':').map(|(_, tag)| tag)
}

/// The tag to put on `arn` (TagResource) once its deployment reached COMPLETED at `at` (RFC 3339).
pub fn completed_tag(at: &str) -> Tag {
    Tag::builder().key(COMPLETED_TAG).value(at).build()
}

/// One row of `cargo xtask revisions`, also its `--json` element.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RevisionRow {
    /// `family:N`.
    pub revision: String,
    pub number: i32,
    pub task_definition_arn: String,
    /// ACTIVE or INACTIVE.
    pub status: String,
    pub image: String,
    /// The `sha256:` digest when the image is pinned by one, else null.
    pub digest: Option<String>,
    /// RFC 3339, or null when ECS does not report it.
    pub registered_at: Option<String>,
    /// The IAM principal, or null.
    pub registered_by: Option<String>,
    /// A deploy saw it COMPLETED (the `rdeploy:completed` tag), or it is serving, settled, now.
    pub ever_served: bool,
    /// When it reached COMPLETED (the tag's value), or null.
    pub completed_at: Option<String>,
    /// The service runs it now.
    pub serving: bool,
    /// The revision Terraform's state holds (`--keep` spares it).
    pub terraform: bool,
    /// Terraform's seed revision (image tag `bootstrap`): it can never start.
    pub bootstrap: bool,
}

/// The rows, newest first. `serving_settled`: the service's only deployment is `serving` and it
/// is COMPLETED (then it counts as served even before its tag is written).
pub fn rows(revisions: &[Revision], serving: &str, serving_settled: bool, terraform: Option<&str>) -> Vec<RevisionRow> {
    let mut sorted: Vec<&Revision> = revisions.iter().collect();
    sorted.sort_by_key(|r| std::cmp::Reverse(r.number));
    sorted
        .into_iter()
        .map(|r| {
            let is_serving = r.arn == serving;
            RevisionRow {
                revision: r.short(),
                number: r.number,
                task_definition_arn: r.arn.clone(),
                status: r.status.clone(),
                image: r.image.clone(),
                digest: r.digest().map(str::to_owned),
                registered_at: r.registered_at.clone(),
                registered_by: r.registered_by.clone(),
                ever_served: r.completed() || (is_serving && serving_settled),
                completed_at: r.completed_at.clone(),
                serving: is_serving,
                terraform: terraform == Some(r.arn.as_str()),
                bootstrap: r.is_bootstrap(),
            }
        })
        .collect()
}

/// The table a terminal shows: one line per row, the marks at the end.
pub fn render(rows: &[RevisionRow]) -> String {
    let mut out = vec![format!("{:<5} {:<19} {:<6} {:<30} {}", "REV", "REGISTERED", "SERVED", "BY", "IMAGE")];
    for r in rows {
        let mut marks = Vec::new();
        if r.serving {
            marks.push("serving");
        }
        if r.terraform {
            marks.push("terraform");
        }
        if r.bootstrap {
            marks.push("bootstrap");
        }
        if r.status != "ACTIVE" {
            marks.push("deregistered");
        }
        let at = r.registered_at.as_deref().map_or("-".to_owned(), |t| t.chars().take(19).collect());
        let by = r.registered_by.as_deref().map_or("-", |b| b.rsplit('/').next().unwrap_or(b));
        let marks = if marks.is_empty() { String::new() } else { format!("  ({})", marks.join(", ")) };
        out.push(format!(
            "{:<5} {:<19} {:<6} {:<30} {}{marks}",
            r.number,
            at,
            if r.ever_served { "yes" } else { "no" },
            by,
            r.image
        ));
    }
    out.join("\n")
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use aws_sdk_ecs::primitives::DateTime;
    use aws_sdk_ecs::types::{ContainerDefinition, TaskDefinitionStatus};

    pub const FAMILY: &str = "rdeploy-dev-app";

    pub fn arn(n: i32) -> String {
        format!("arn:aws:ecs:eu-west-1:111122223333:task-definition/{FAMILY}:{n}")
    }

    /// A revision: `image` ("bootstrap" makes the seed), completed or not, ACTIVE or not.
    pub fn rev(n: i32, image: &str, completed: bool, active: bool) -> Revision {
        Revision {
            arn: arn(n),
            family: FAMILY.into(),
            number: n,
            status: if active { "ACTIVE" } else { "INACTIVE" }.into(),
            image: format!("111122223333.dkr.ecr.eu-west-1.amazonaws.com/{FAMILY}:{image}"),
            registered_at: Some(format!("2026-12-0{}T10:00:00Z", n.min(9))),
            registered_by: Some("arn:aws:sts::111122223333:assumed-role/deploy/ci".into()),
            completed_at: completed.then(|| "2026-12-06T10:05:00Z".into()),
        }
    }

    #[test]
    fn from_sdk_reads_the_app_image_the_tag_and_the_registration() {
        let def = TaskDefinition::builder()
            .task_definition_arn(arn(3))
            .family(FAMILY)
            .revision(3)
            .status(TaskDefinitionStatus::Active)
            .container_definitions(ContainerDefinition::builder().name("sidecar").image("envoy:1").build())
            .container_definitions(ContainerDefinition::builder().name("app").image("repo@sha256:abc").build())
            .registered_at(DateTime::from_secs(1_796_000_000))
            .registered_by("arn:aws:iam::1:user/alice")
            .build();
        let tags = [Tag::builder().key("Project").value("rdeploy").build(), completed_tag("2026-12-06T21:00:00Z")];
        let r = Revision::from_sdk(&def, &tags);
        assert_eq!((r.family.as_str(), r.number, r.status.as_str()), (FAMILY, 3, "ACTIVE"));
        assert_eq!(r.image, "repo@sha256:abc");
        assert_eq!(r.digest(), Some("sha256:abc"));
        assert_eq!(r.registered_at.as_deref(), Some("2026-11-30T00:53:20Z"));
        assert_eq!(r.completed_at.as_deref(), Some("2026-12-06T21:00:00Z"));
        assert!(!r.is_bootstrap());
        // No tag: never served. No app container: no image.
        let bare = Revision::from_sdk(&TaskDefinition::builder().revision(1).build(), &[]);
        assert!(!bare.completed() && bare.image.is_empty() && bare.registered_at.is_none());
    }

    #[test]
    fn the_bootstrap_revision_is_its_image_tag() {
        assert!(rev(1, "bootstrap", false, true).is_bootstrap());
        assert!(!rev(2, "0123abc", false, true).is_bootstrap());
        assert_eq!(image_tag("localhost:5000/app"), None);
        assert_eq!(image_tag("localhost:5000/app:bootstrap"), Some("bootstrap"));
        assert_eq!(image_tag("repo@sha256:bootstrap"), None);
    }

    #[test]
    fn rows_are_newest_first_with_their_marks() {
        let revisions = [rev(1, "bootstrap", false, true), rev(3, "c3", false, true), rev(2, "b2", true, true)];
        let rows = rows(&revisions, &arn(3), true, Some(&arn(1)));
        assert_eq!(rows.iter().map(|r| r.number).collect::<Vec<_>>(), [3, 2, 1]);
        // 3 serves settled: served, even before its tag; 2 has the tag; 1 is Terraform's seed.
        assert!(rows[0].serving && rows[0].ever_served && rows[0].completed_at.is_none());
        assert!(rows[1].ever_served && !rows[1].serving);
        assert!(rows[2].terraform && rows[2].bootstrap && !rows[2].ever_served);
        // Not settled: serving alone is no proof.
        assert!(!super::rows(&revisions, &arn(3), false, None)[0].ever_served);
        let table = render(&rows);
        let lines: Vec<&str> = table.lines().collect();
        assert!(lines[0].starts_with("REV"), "{table}");
        assert!(lines[1].starts_with("3 ") && lines[1].contains(" yes ") && lines[1].ends_with("(serving)"), "{table}");
        assert!(lines[3].contains(" no ") && lines[3].ends_with("(terraform, bootstrap)"), "{table}");
        assert!(lines[2].contains("ci ") && lines[2].contains("2026-12-02T10:00:00"), "{table}");
    }

    #[test]
    fn the_json_rows_name_every_documented_field() {
        let row = &rows(&[rev(2, "b2", true, false)], "", false, None)[0];
        let json = serde_json::to_value(row).unwrap();
        let keys: Vec<&str> = json.as_object().unwrap().keys().map(String::as_str).collect();
        for k in [
            "revision",
            "number",
            "task_definition_arn",
            "status",
            "image",
            "digest",
            "registered_at",
            "registered_by",
            "ever_served",
            "completed_at",
            "serving",
            "terraform",
            "bootstrap",
        ] {
            assert!(keys.contains(&k), "{k} missing: {keys:?}");
        }
        assert_eq!(json["status"], "INACTIVE");
        assert_eq!(json["digest"], serde_json::Value::Null);
    }
}
