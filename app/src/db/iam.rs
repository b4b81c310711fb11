//! RDS IAM database authentication: the token the app sends as its password instead of a
//! stored one (docs/database.md, "Credentials").
//!
//! The token is a SigV4 presigned URL for `GET https://{host}:{port}/?Action=connect&DBUser={user}`
//! (service `rds-db`, valid 900 s) without its `https://` prefix, as every AWS SDK's
//! `generate_db_auth_token` builds it. The signature comes from the `aws-sigv4` crate (the AWS
//! SDK's own signer): no cryptography of ours. A test checks the token byte for byte against
//! botocore's for the same credentials, time, region, host, port and user.

use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{SignableBody, SignableRequest, SignatureLocation, SigningSettings, sign};
use aws_sigv4::sign::v4;

/// How long RDS accepts a token (fixed by RDS: 15 minutes). A token only has to be valid when a
/// connection logs in; an open connection outlives it.
pub const TOKEN_LIFETIME: Duration = Duration::from_secs(900);

/// The signing name of RDS database logins.
const SERVICE: &str = "rds-db";

/// Where a token lets whom log in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenTarget {
    pub region: String,
    pub host: String,
    pub port: u16,
    pub user: String,
}

/// The token for `target`, signed with `credentials` at `now`.
pub fn auth_token(credentials: &Credentials, target: &TokenTarget, now: SystemTime) -> Result<String, String> {
    let identity = credentials.clone().into();
    let mut settings = SigningSettings::default();
    settings.signature_location = SignatureLocation::QueryParams;
    settings.expires_in = Some(TOKEN_LIFETIME);
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(&target.region)
        .name(SERVICE)
        .time(now)
        .settings(settings)
        .build()
        .map_err(|e| format!("cannot sign the RDS auth token: {e}"))?;
    let authority = format!("{}:{}", target.host, target.port);
    let query = format!("Action=connect&DBUser={}", encode(&target.user));
    let url = format!("https://{authority}/?{query}");
    let request = SignableRequest::new("GET", url.as_str(), std::iter::empty(), SignableBody::Bytes(&[]))
        .map_err(|e| format!("cannot sign the RDS auth token for {authority}: {e}"))?;
    let (instructions, _signature) =
        sign(request, &params.into()).map_err(|e| format!("cannot sign the RDS auth token: {e}"))?.into_parts();
    let mut token = format!("{authority}/?{query}");
    // The signer lists X-Amz-Signature before X-Amz-Security-Token; the SDKs' tokens end with the
    // signature. Same parameters either way: this order makes the token the SDKs' byte for byte.
    let mut params: Vec<_> = instructions.params().iter().collect();
    params.sort_by_key(|(name, _)| *name == "X-Amz-Signature");
    for (name, value) in params {
        token.push('&');
        token.push_str(name);
        token.push('=');
        token.push_str(&encode(value));
    }
    Ok(token)
}

/// RFC 3986 percent-encoding of a query value: everything but the unreserved characters, the
/// way SigV4 (and botocore) encode query strings.
fn encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;
    use std::process::Command;

    /// The emulator's python (moto brings botocore): the same lookup as xtask's tests
    /// (`$XTASK_TOOLS_DIR/venvs/moto/bin/python`, else `target/tools/...`, else `python3`).
    fn python_with_botocore() -> PathBuf {
        let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
        let dir = std::env::var_os("XTASK_TOOLS_DIR").map_or_else(|| repo.join("target/tools"), PathBuf::from);
        [dir.join("venvs/moto/bin/python"), PathBuf::from("python3")]
            .into_iter()
            .find(|p| Command::new(p).args(["-c", "import botocore"]).output().is_ok_and(|o| o.status.success()))
            .unwrap_or_else(|| {
                panic!(
                    "no python with botocore (the reference for the RDS token): it comes with the emulator's venv, \
                     which `cargo xtask local up` installs into $XTASK_TOOLS_DIR/venvs/moto (moto[server] 5.2.1 \
                     brings boto3/botocore); or `pip install botocore` for python3"
                )
            })
    }

    /// botocore's `generate_db_auth_token`, its clock frozen at `epoch` (newer botocore reads
    /// `botocore.auth.get_current_datetime`, older `botocore.auth.datetime.datetime.utcnow`).
    const REFERENCE: &str = r#"
import datetime, sys
from unittest import mock
import botocore.auth, botocore.session
key, secret, token, epoch, region, host, port, user = sys.argv[1:]
frozen = datetime.datetime.fromtimestamp(int(epoch), datetime.timezone.utc).replace(tzinfo=None)
if hasattr(botocore.auth, "get_current_datetime"):
    clock = mock.patch.object(botocore.auth, "get_current_datetime", return_value=frozen)
else:
    fake = mock.Mock(wraps=datetime)
    fake.datetime.utcnow.return_value = frozen
    clock = mock.patch.object(botocore.auth, "datetime", fake)
client = botocore.session.get_session().create_client(
    "rds", region_name=region, aws_access_key_id=key, aws_secret_access_key=secret,
    aws_session_token=token or None)
with clock:
    print(client.generate_db_auth_token(host, int(port), user, Region=region), end="")
"#;

    fn botocore_token(credentials: &Credentials, target: &TokenTarget, epoch: u64) -> String {
        let out = Command::new(python_with_botocore())
            .args(["-c", REFERENCE])
            .args([credentials.access_key_id(), credentials.secret_access_key()])
            .arg(credentials.session_token().unwrap_or_default())
            .args([epoch.to_string(), target.region.clone(), target.host.clone(), target.port.to_string()])
            .arg(&target.user)
            .env_remove("AWS_PROFILE")
            .env("AWS_CONFIG_FILE", "/dev/null")
            .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
            .output()
            .unwrap();
        assert!(out.status.success(), "botocore failed: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap()
    }

    #[test]
    fn the_token_is_botocores_byte_for_byte() {
        let epoch = 1_796_644_805; // 2026-12-07T12:00:05Z
        let at = SystemTime::UNIX_EPOCH + Duration::from_secs(epoch);
        let cases = [
            (
                Credentials::new(
                    "ASIAEXAMPLEKEY123456",
                    "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
                    Some("IQoJb3JpZ2luX2VjEPT//////////wEaCXVzLWVhc3QtMSJHMEUCIQ+a/b=c*d".into()),
                    None,
                    "test",
                ),
                TokenTarget {
                    region: "eu-central-1".into(),
                    host: "rdeploy-prod-db.abcdefghij.eu-central-1.rds.amazonaws.com".into(),
                    port: 5432,
                    user: "guestbook_app".into(),
                },
            ),
            (
                Credentials::new("AKIDEXAMPLE", "secret+with/odd=chars", None, None, "test"),
                TokenTarget {
                    region: "us-east-1".into(),
                    host: "db.internal".into(),
                    port: 6543,
                    user: "app user".into(),
                },
            ),
        ];
        for (credentials, target) in cases {
            let ours = auth_token(&credentials, &target, at).unwrap();
            let reference = botocore_token(&credentials, &target, epoch);
            assert_eq!(ours, reference, "{target:?}");
            assert!(ours.starts_with(&format!("{}:{}/?Action=connect&DBUser=", target.host, target.port)), "{ours}");
            assert!(ours.contains("X-Amz-Expires=900") && ours.contains("%2Frds-db%2Faws4_request"), "{ours}");
        }
    }

    #[test]
    fn query_values_are_rfc3986_encoded() {
        assert_eq!(encode("a-b_c.d~e"), "a-b_c.d~e");
        assert_eq!(encode("a b/c+d=e*f"), "a%20b%2Fc%2Bd%3De%2Af");
    }
}
