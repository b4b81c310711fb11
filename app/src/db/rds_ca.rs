//! The RDS CA bundle (`app/certs/rds-global-bundle.pem`, AWS's `global-bundle.pem`), compiled
//! into the binary: the `FROM scratch` image has no CA store, and `verify-ca` / `verify-full`
//! need RDS's roots. Used when `DB_SSLROOTCERT` is not set (docs/database.md, "TLS"); where it
//! came from and its SHA-256: `app/certs/README.md`.

/// Every current RDS root (rds-ca-rsa2048-g1, rds-ca-rsa4096-g1, rds-ca-ecc384-g1), one per
/// region and family, PEM.
pub const BUNDLE: &[u8] = include_bytes!("../../certs/rds-global-bundle.pem");

#[cfg(test)]
mod tests {
    use std::path::Path;
    use std::time::{Duration, SystemTime, UNIX_EPOCH};

    use sha2::{Digest, Sha256};
    use x509_parser::pem::Pem;
    use x509_parser::time::ASN1Time;

    use super::BUNDLE;

    const YEAR: Duration = Duration::from_secs(365 * 24 * 3600);

    fn repo() -> &'static Path {
        Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
    }

    /// `region = "..."` of every `infra/**/*.tfvars`: the environments we deploy to.
    fn tfvars_regions() -> Vec<String> {
        fn walk(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
            for entry in std::fs::read_dir(dir).unwrap().map(Result::unwrap) {
                let path = entry.path();
                let name = entry.file_name();
                if path.is_dir() && name != ".terraform" {
                    walk(&path, out);
                } else if path.extension().is_some_and(|e| e == "tfvars") {
                    out.push(path);
                }
            }
        }
        let mut files = Vec::new();
        walk(&repo().join("infra"), &mut files);
        let mut regions: Vec<String> = files
            .iter()
            .flat_map(|f| {
                std::fs::read_to_string(f)
                    .unwrap()
                    .lines()
                    .filter_map(|line| {
                        let (key, value) = line.split_once('=')?;
                        (key.trim() == "region").then(|| value.trim().trim_matches('"').to_owned())
                    })
                    .collect::<Vec<_>>()
            })
            .collect();
        regions.sort();
        regions.dedup();
        assert!(!regions.is_empty(), "no `region = ...` found in infra/**/*.tfvars: {files:?}");
        regions
    }

    /// The default of `ca_cert_identifier` in infra/modules/database, as the CN suffix of its
    /// roots: `rds-ca-rsa2048-g1` -> `RSA2048 G1`.
    fn configured_family() -> String {
        let tf = std::fs::read_to_string(repo().join("infra/modules/database/variables.tf")).unwrap();
        let block = &tf[tf.find("variable \"ca_cert_identifier\"").expect("variable ca_cert_identifier")..];
        let default = block.lines().find_map(|l| l.trim().strip_prefix("default")).expect("a default");
        let id = default.trim().trim_start_matches('=').trim().trim_matches('"');
        let family = id.strip_prefix("rds-ca-").unwrap_or_else(|| panic!("unexpected ca_cert_identifier {id}"));
        family.to_uppercase().replacen('-', " ", 1)
    }

    struct Root {
        cn: String,
        self_signed: bool,
        not_after: ASN1Time,
    }

    fn roots() -> Vec<Root> {
        Pem::iter_from_buffer(BUNDLE)
            .map(|pem| {
                let pem = pem.expect("a PEM block");
                assert_eq!(pem.label, "CERTIFICATE");
                let cert = pem.parse_x509().expect("an X.509 certificate");
                let cn =
                    cert.subject().iter_common_name().next().and_then(|c| c.as_str().ok()).unwrap_or("").to_owned();
                Root { cn, self_signed: cert.subject() == cert.issuer(), not_after: cert.validity().not_after }
            })
            .collect()
    }

    fn asn1(t: SystemTime) -> ASN1Time {
        ASN1Time::from_timestamp(t.duration_since(UNIX_EPOCH).unwrap().as_secs() as i64).unwrap()
    }

    /// The bundle holds a valid root of the database's CA family for every region we deploy
    /// to (and, as a warning only, of the other two families); any certificate that expires
    /// within a year is a warning on stderr, so the bundle is replaced before it matters.
    #[test]
    fn the_embedded_bundle_covers_every_region_of_the_tfvars() {
        let now = asn1(SystemTime::now());
        let in_a_year = asn1(SystemTime::now() + YEAR);
        let roots = roots();
        assert!(roots.len() >= 3, "{} certificates", roots.len());
        for r in &roots {
            if r.not_after < in_a_year {
                eprintln!(
                    "warning: {} in app/certs/rds-global-bundle.pem expires {} (replace the bundle: app/certs/README.md)",
                    r.cn, r.not_after
                );
            }
        }
        let configured = configured_family();
        let mut failures = Vec::new();
        for region in tfvars_regions() {
            for family in ["RSA2048 G1", "RSA4096 G1", "ECC384 G1"] {
                let cn = format!("Amazon RDS {region} Root CA {family}");
                let problem = match roots.iter().find(|r| r.cn == cn) {
                    None => Some(format!("{cn} is missing")),
                    Some(r) if !r.self_signed => Some(format!("{cn} is not a self-signed root")),
                    Some(r) if r.not_after <= now => Some(format!("{cn} expired {}", r.not_after)),
                    Some(_) => None,
                };
                match problem {
                    Some(p) if family == configured => failures.push(p),
                    Some(p) => eprintln!("warning: {p} (not the family of ca_cert_identifier, {configured})"),
                    None => {}
                }
            }
        }
        assert!(failures.is_empty(), "app/certs/rds-global-bundle.pem: {failures:?}");
    }

    #[test]
    fn configured_family_is_read_from_the_database_module() {
        assert_eq!(configured_family(), "RSA2048 G1");
    }

    /// The SHA-256 recorded in app/certs/README.md is the file's: a replaced bundle updates its
    /// record.
    #[test]
    fn the_readme_records_the_bundles_sha256() {
        let digest: String = Sha256::digest(BUNDLE).iter().map(|b| format!("{b:02x}")).collect();
        let readme = std::fs::read_to_string(repo().join("app/certs/README.md")).unwrap();
        assert!(
            readme.contains(&format!("SHA-256: `{digest}`")),
            "app/certs/README.md does not record SHA-256 {digest}"
        );
    }
}
