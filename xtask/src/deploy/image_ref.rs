//! Image references: `[registry/]repository[:tag][@sha256:digest]`, split into their parts, and
//! what a task definition and APP_VERSION get from one. Parsing only.

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
}
