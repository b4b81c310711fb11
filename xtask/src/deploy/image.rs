//! Which image to deploy: `--image`, or what `cargo xtask image` recorded for the environment in
//! `target/images/<env>.json`. Parsing only; the ECR lookup for prod lives in the engine's caller.

use std::path::{Path, PathBuf};

use serde::Deserialize;

/// An image reference split into its parts: `[registry/]repository[:tag][@sha256:digest]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageRef {
    /// Registry host and repository, without tag or digest.
    pub name: String,
    /// The repository path without the registry host (what ECR calls the repository name).
    pub repository: String,
    pub tag: Option<String>,
    /// `sha256:<64 hex>`.
    pub digest: Option<String>,
}

impl ImageRef {
    pub fn parse(uri: &str) -> Result<Self, String> {
        let uri = uri.trim();
        if uri.is_empty() || uri.chars().any(char::is_whitespace) {
            return Err(format!("invalid image reference '{uri}'"));
        }
        let (rest, digest) = match uri.split_once('@') {
            Some((rest, digest)) => {
                let hex = digest.strip_prefix("sha256:").unwrap_or("");
                if hex.len() != 64 || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
                    return Err(format!("invalid digest in '{uri}': expected @sha256:<64 hex digits>"));
                }
                (rest, Some(digest.to_owned()))
            }
            None => (uri, None),
        };
        let last_slash = rest.rfind('/').map_or(0, |i| i + 1);
        let (name, tag) = match rest[last_slash..].rfind(':') {
            Some(i) => (&rest[..last_slash + i], Some(rest[last_slash + i + 1..].to_owned())),
            None => (rest, None),
        };
        if name.is_empty() || tag.as_deref() == Some("") {
            return Err(format!("invalid image reference '{uri}'"));
        }
        let repository = match name.split_once('/') {
            Some((host, path)) if host.contains(['.', ':']) || host == "localhost" => path,
            _ => name,
        };
        Ok(Self { name: name.to_owned(), repository: repository.to_owned(), tag, digest })
    }

    /// What goes into the task definition: pinned by digest when known (immutable), else by tag.
    pub fn reference(&self) -> String {
        match (&self.digest, &self.tag) {
            (Some(d), _) => format!("{}@{d}", self.name),
            (None, Some(t)) => format!("{}:{t}", self.name),
            (None, None) => self.name.clone(),
        }
    }

    /// APP_VERSION: the tag, else the first 12 hex digits of the digest, else `latest`.
    pub fn version(&self) -> String {
        match (&self.tag, &self.digest) {
            (Some(t), _) => t.clone(),
            (None, Some(d)) => d.trim_start_matches("sha256:").chars().take(12).collect(),
            (None, None) => "latest".into(),
        }
    }
}

/// `target/images/<env>.json`, written by `cargo xtask image`.
#[derive(Debug, Deserialize)]
pub struct ImagesFile {
    pub uri: String,
    pub digest: Option<String>,
    pub tag: Option<String>,
}

pub fn images_file(root: &Path, env: &str) -> PathBuf {
    root.join("target/images").join(format!("{env}.json"))
}

/// The image recorded for `env`, or a usage message saying how to get one.
pub fn recorded(root: &Path, env: &str) -> Result<ImageRef, String> {
    let path = images_file(root, env);
    let shown = path.strip_prefix(root).unwrap_or(&path).display().to_string();
    let text = std::fs::read_to_string(&path).map_err(|_| {
        format!("no image to deploy: pass --image <uri> or build one first with `cargo xtask image --env {env}` (no {shown})")
    })?;
    let file: ImagesFile = serde_json::from_str(&text).map_err(|e| format!("{shown}: {e}"))?;
    let mut image = ImageRef::parse(&file.uri).map_err(|e| format!("{shown}: {e}"))?;
    if let Some(d) = file.digest.filter(|d| !d.is_empty()) {
        let pinned = ImageRef::parse(&format!("{}@{d}", image.name)).map_err(|e| format!("{shown}: {e}"))?;
        image.digest = pinned.digest;
    }
    if let Some(t) = file.tag.filter(|t| !t.is_empty()) {
        image.tag = Some(t);
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
    fn parses_ecr_uris() {
        let i = ImageRef::parse("123456789012.dkr.ecr.eu-west-1.amazonaws.com/rdeploy-dev-app:abc1234").unwrap();
        assert_eq!(i.repository, "rdeploy-dev-app");
        assert_eq!(i.tag.as_deref(), Some("abc1234"));
        assert_eq!(i.digest, None);
        assert_eq!(i.version(), "abc1234");
        assert_eq!(i.reference(), "123456789012.dkr.ecr.eu-west-1.amazonaws.com/rdeploy-dev-app:abc1234");

        let i = ImageRef::parse(&format!("localhost:5000/team/app@{D}")).unwrap();
        assert_eq!((i.repository.as_str(), i.tag.as_deref()), ("team/app", None));
        assert_eq!(i.version(), "0123456789ab");
        assert_eq!(i.reference(), format!("localhost:5000/team/app@{D}"));

        let i = ImageRef::parse(&format!("repo:v1@{D}")).unwrap();
        assert_eq!((i.tag.as_deref(), i.reference()), (Some("v1"), format!("repo@{D}")));
        assert_eq!(ImageRef::parse("app").unwrap().version(), "latest");
    }

    #[test]
    fn rejects_bad_references() {
        assert!(ImageRef::parse("repo@sha256:short").unwrap_err().contains("64 hex"));
        assert!(ImageRef::parse("repo:").is_err());
        assert!(ImageRef::parse("").is_err());
        assert!(ImageRef::parse("a b").is_err());
    }

    #[test]
    fn recorded_image_pins_the_digest_and_keeps_the_tag() {
        let root = std::env::temp_dir().join(format!("xtask-deploy-images-{}", std::process::id()));
        std::fs::create_dir_all(root.join("target/images")).unwrap();
        let err = recorded(&root, "dev").unwrap_err();
        assert!(err.contains("--image") && err.contains("cargo xtask image --env dev"), "{err}");
        std::fs::write(
            images_file(&root, "dev"),
            format!(
                r#"{{"uri": "1.dkr.ecr.r.amazonaws.com/rdeploy-dev-app:abc1234", "digest": "{D}", "tag": "abc1234"}}"#
            ),
        )
        .unwrap();
        let i = recorded(&root, "dev").unwrap();
        assert_eq!(i.reference(), format!("1.dkr.ecr.r.amazonaws.com/rdeploy-dev-app@{D}"));
        assert_eq!(i.version(), "abc1234");
        std::fs::write(
            images_file(&root, "dev"),
            r#"{"uri": "rdeploy-dev-app:abc1234", "digest": null, "tag": "abc1234"}"#,
        )
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
