//! `target/images/<env>.json`: the image `cargo xtask image` built, pushed or promoted for an
//! environment, which deploy and migrate use when no `--image` is given. One record type and one
//! path for the writer (`image.rs`) and the readers.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use super::image_ref::ImageRef;

/// What `cargo xtask image` (a build, a push or a promotion) records for `deploy`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageRecord {
    /// The image URI with its tag (`<repository>:<tag>`).
    pub uri: String,
    /// The tag, usually the commit; empty when unknown.
    #[serde(default)]
    pub tag: String,
    /// `sha256:...` once pushed (or promoted); a local build has none.
    pub digest: Option<String>,
    /// The local image id; empty for a promotion.
    #[serde(default)]
    pub id: String,
    #[serde(default)]
    pub size_bytes: u64,
}

/// `target/images/<env>.json`.
pub fn path(root: &Path, env: &str) -> PathBuf {
    crate::base::paths::images(root).join(format!("{env}.json"))
}

/// `path` as the messages show it: relative to the repository.
pub fn shown(root: &Path, env: &str) -> String {
    let path = path(root, env);
    path.strip_prefix(root).unwrap_or(&path).display().to_string()
}

/// Record `record` as the image `env` deploys by default.
pub fn write(root: &Path, env: &str, record: &ImageRecord) -> Result<()> {
    let path = path(root, env);
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    std::fs::write(&path, serde_json::to_vec_pretty(record)?).with_context(|| format!("writing {}", path.display()))
}

/// The image recorded for `env`, or a usage message saying how to get one.
pub fn recorded(root: &Path, env: &str) -> Result<ImageRef, String> {
    let shown = shown(root, env);
    let text = std::fs::read_to_string(path(root, env)).map_err(|_| {
        format!("no image to deploy: pass --image <uri> or build one first with `cargo xtask image --env {env}` (no {shown})")
    })?;
    let file: ImageRecord = serde_json::from_str(&text).map_err(|e| format!("{shown}: {e}"))?;
    let mut image = ImageRef::parse(&file.uri).map_err(|e| format!("{shown}: {e}"))?;
    if let Some(d) = file.digest.filter(|d| !d.is_empty()) {
        let pinned = ImageRef::parse(&format!("{}@{d}", image.name)).map_err(|e| format!("{shown}: {e}"))?;
        image.digest = pinned.digest;
    }
    if !file.tag.is_empty() {
        image.tag = Some(file.tag);
    }
    Ok(image)
}

/// A tag that is a commit hash must be HEAD's, so the default never deploys a stale build.
pub fn check_commit_tag(image: &ImageRef, head: Option<&str>, shown: &str) -> Result<(), String> {
    let (Some(tag), Some(head)) = (image.tag.as_deref(), head) else { return Ok(()) };
    let is_commit = (7..=40).contains(&tag.len()) && tag.chars().all(|c| c.is_ascii_hexdigit());
    if is_commit && !head.starts_with(tag) {
        return Err(format!(
            "{shown} is for commit {tag} but HEAD is {}: rebuild with `cargo xtask image`, or pass --image",
            &head[..head.len().min(12)]
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const D: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    #[test]
    fn what_image_writes_is_what_deploy_reads() {
        let root = std::env::temp_dir().join(format!("xtask-images-file-{}", std::process::id()));
        let record = ImageRecord {
            uri: "1.dkr.ecr.r.amazonaws.com/rdeploy-dev-app:abc1234".into(),
            tag: "abc1234".into(),
            digest: Some(D.into()),
            id: "sha256:local".into(),
            size_bytes: 42,
        };
        write(&root, "dev", &record).unwrap();
        let text = std::fs::read_to_string(root.join("target/images/dev.json")).unwrap();
        assert_eq!(serde_json::from_str::<ImageRecord>(&text).unwrap(), record);
        let keys: Vec<String> = serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(&text)
            .unwrap()
            .keys()
            .cloned()
            .collect();
        assert_eq!(keys.len(), 5, "uri, tag, digest, id, size_bytes: {text}");
        let image = recorded(&root, "dev").unwrap();
        assert_eq!(image.reference(), format!("1.dkr.ecr.r.amazonaws.com/rdeploy-dev-app@{D}"));
        assert_eq!(image.version(), "abc1234");
        assert_eq!(shown(&root, "dev"), "target/images/dev.json");
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn recorded_image_pins_the_digest_and_keeps_the_tag() {
        let root = std::env::temp_dir().join(format!("xtask-deploy-images-{}", std::process::id()));
        std::fs::create_dir_all(root.join("target/images")).unwrap();
        let err = recorded(&root, "dev").unwrap_err();
        assert!(err.contains("--image") && err.contains("cargo xtask image --env dev"), "{err}");
        std::fs::write(
            path(&root, "dev"),
            format!(
                r#"{{"uri": "1.dkr.ecr.r.amazonaws.com/rdeploy-dev-app:abc1234", "digest": "{D}", "tag": "abc1234"}}"#
            ),
        )
        .unwrap();
        let i = recorded(&root, "dev").unwrap();
        assert_eq!(i.reference(), format!("1.dkr.ecr.r.amazonaws.com/rdeploy-dev-app@{D}"));
        assert_eq!(i.version(), "abc1234");
        std::fs::write(path(&root, "dev"), r#"{"uri": "rdeploy-dev-app:abc1234", "digest": null, "tag": "abc1234"}"#)
            .unwrap();
        assert_eq!(recorded(&root, "dev").unwrap().reference(), "rdeploy-dev-app:abc1234");
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn a_commit_tag_must_be_head() {
        let i = ImageRef::parse("repo:abc1234").unwrap();
        assert!(check_commit_tag(&i, Some("abc1234ffff"), "f.json").is_ok());
        assert!(check_commit_tag(&i, Some("0000000ffff"), "f.json").unwrap_err().contains("HEAD is 0000000ffff"));
        assert!(check_commit_tag(&ImageRef::parse("repo:v1.2").unwrap(), Some("0000000"), "f").is_ok());
    }
}
