//! Where the PostgreSQL credential comes from, and keeping the pool's copy of it fresh
//! (docs/database.md, "Rotated credentials").
//!
//! A sqlx pool opens every new connection with the options it holds; `Pool::set_connect_options`
//! replaces them for the connections opened after. So for a credential that changes (a rotated
//! password in a mounted file, an IAM token that expires after 15 minutes) a background task
//! replaces the options:
//!
//! - on a schedule ([`CredentialSource::refresh_interval`]): well inside the IAM token's
//!   lifetime, so a new connection never presents an expired token;
//! - at once when a login is refused (SQLSTATE 28P01 / 28000: [`login_rejected`], called where a
//!   database error becomes a [`super::DbError`]), so a rotated password costs the requests that
//!   met the old one, not every request until a restart.
//!
//! The work (a file read, or a SigV4 signature) is per refresh, never per request.

use std::path::{Path, PathBuf};
use std::sync::LazyLock;
use std::time::{Duration, Instant, SystemTime};

use aws_credential_types::Credentials;
use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
use sqlx::postgres::PgPool;
use tokio::sync::Notify;

use super::iam::{self, TokenTarget};

/// Where the app's database credential comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CredentialSource {
    /// A fixed password (DB_PASSWORD, or one inside DATABASE_URL): local development. Nothing to
    /// refresh; a rotated password needs a restart.
    Password,
    /// DB_PASSWORD_FILE: re-read for new connections (see the module doc): a mounted secret, or a
    /// local rotation test.
    PasswordFile(PathBuf),
    /// DB_AUTH=iam: an RDS IAM auth token signed with the task role's credentials (the standard
    /// AWS chain: in Fargate the ECS container credentials endpoint).
    Iam(TokenTarget),
}

/// How often a refreshable credential is renewed without a refused login. IAM: a token lives
/// 15 minutes and a connection may be opened with a token up to this old, so 5 minutes leaves
/// 10 of margin. A file: cheap to read; 10 s bounds how long a changed file goes unread when no
/// login fails (an open connection keeps working with the old password).
const IAM_REFRESH: Duration = Duration::from_secs(300);
const FILE_REFRESH: Duration = Duration::from_secs(10);
/// Refused logins trigger at most one refresh per this interval (a storm of 503s after a
/// rotation is one refresh, not one per request).
const MIN_FORCED_GAP: Duration = Duration::from_millis(500);
/// AWS credentials are fetched again when they expire within this (ECS's expire after ~6 h and
/// are renewed by ECS well before).
const CREDENTIALS_MARGIN: Duration = Duration::from_secs(300);

impl CredentialSource {
    pub fn refresh_interval(&self) -> Option<Duration> {
        match self {
            Self::Password => None,
            Self::PasswordFile(_) => Some(FILE_REFRESH),
            Self::Iam(_) => Some(IAM_REFRESH),
        }
    }

    /// For logs.
    pub fn describe(&self) -> String {
        match self {
            Self::Password => "password".into(),
            Self::PasswordFile(path) => format!("password file {}", path.display()),
            Self::Iam(t) => format!("IAM token (region {}, user {})", t.region, t.user),
        }
    }
}

/// The password in `path`: the file's content without one trailing newline (`echo` writes one;
/// mounted secrets usually have none). The error names DB_PASSWORD_FILE, never the content.
pub fn read_password_file(path: &Path) -> Result<String, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("DB_PASSWORD_FILE={} cannot be read: {e}", path.display()))?;
    let password = text.strip_suffix('\n').map_or(text.as_str(), |t| t.strip_suffix('\r').unwrap_or(t));
    if password.is_empty() {
        return Err(format!("DB_PASSWORD_FILE={} is empty", path.display()));
    }
    Ok(password.to_owned())
}

/// Refused logins, process-wide: every refresher wakes (a test process may hold several pools;
/// a refresh that was not needed costs one file read or signature).
static LOGIN_REJECTED: LazyLock<Notify> = LazyLock::new(Notify::new);

/// A login was refused: the credentials may have changed under us. Refresh now.
pub fn login_rejected() {
    LOGIN_REJECTED.notify_waiters();
}

/// Produces the current credential for a refreshable source.
struct Fresh {
    source: CredentialSource,
    aws: Option<SharedCredentialsProvider>,
    cached: Option<(Credentials, Instant)>,
}

impl Fresh {
    async fn credential(&mut self, forced: bool) -> Result<String, String> {
        match &self.source {
            CredentialSource::Password => Err("a fixed password is not refreshed".into()),
            CredentialSource::PasswordFile(path) => read_password_file(path),
            CredentialSource::Iam(target) => {
                let target = target.clone();
                let credentials = self.aws_credentials(forced).await?;
                iam::auth_token(&credentials, &target, SystemTime::now())
            }
        }
    }

    /// The task role's credentials, cached until they come near their expiry; after a refused
    /// login fetched again (at most every 30 s), in case the role's were replaced.
    async fn aws_credentials(&mut self, forced: bool) -> Result<Credentials, String> {
        if let Some((c, fetched)) = &self.cached {
            let expiring = c.expiry().is_some_and(|e| e <= SystemTime::now() + CREDENTIALS_MARGIN);
            let stale = forced && fetched.elapsed() >= Duration::from_secs(30);
            if !expiring && !stale {
                return Ok(c.clone());
            }
        }
        let provider = match &self.aws {
            Some(p) => p.clone(),
            None => {
                let region = match &self.source {
                    CredentialSource::Iam(t) => t.region.clone(),
                    _ => unreachable!("AWS credentials only for IAM"),
                };
                let p = SharedCredentialsProvider::new(credentials_chain(region));
                self.aws = Some(p.clone());
                p
            }
        };
        let c = provider.provide_credentials().await.map_err(|e| {
            format!(
                "no AWS credentials for the RDS IAM token (in ECS: the task role through the container credentials endpoint; locally: \
                 AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY): {}",
                aws_error_chain(&e)
            )
        })?;
        self.cached = Some((c.clone(), Instant::now()));
        Ok(c)
    }
}

/// Where the task role's credentials come from: the environment (AWS_ACCESS_KEY_ID, ...; a
/// laptop), else the ECS container credentials endpoint (Fargate and ECS on EC2:
/// AWS_CONTAINER_CREDENTIALS_RELATIVE_URI / _FULL_URI). Not the SDK's whole default chain
/// (profiles, SSO, web identity through STS, IMDS): a serving task has none of them, and they
/// cost the FROM scratch image megabytes. The HTTP client is rustls on ring, as sqlx's TLS.
fn credentials_chain(region: String) -> aws_config::meta::credentials::CredentialsProviderChain {
    use aws_smithy_http_client::tls::{Provider, rustls_provider::CryptoMode};
    let http = aws_smithy_http_client::Builder::new().tls_provider(Provider::Rustls(CryptoMode::Ring)).build_https();
    let config = aws_config::provider_config::ProviderConfig::without_region()
        .with_region(Some(aws_config::Region::new(region)))
        .with_http_client(http);
    let ecs = aws_config::ecs::EcsCredentialsProvider::builder().configure(&config).build();
    aws_config::meta::credentials::CredentialsProviderChain::first_try(
        "Environment",
        aws_config::environment::EnvironmentVariableCredentialsProvider::new(),
    )
    .or_else("EcsContainer", ecs)
}

fn aws_error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

/// Put a fresh credential into `pool`'s options for the connections it opens next; `Ok(false)`
/// when the source is fixed.
async fn refresh(pool: &PgPool, fresh: &mut Fresh, forced: bool) -> Result<(), String> {
    let credential = fresh.credential(forced).await?;
    let options = (*pool.connect_options()).clone().password(&credential);
    pool.set_connect_options(options);
    Ok(())
}

/// For a refreshable `source`: set a fresh credential now (so the first connection already has
/// one), then keep it fresh in a background task until the pool is closed. A failed first
/// refresh is logged, not fatal: the app serves `/health` and answers 503 on the API until the
/// credential can be had (e.g. the ECS credentials endpoint not answering yet).
pub async fn keep_fresh(pool: &PgPool, source: &CredentialSource) {
    let Some(interval) = source.refresh_interval() else { return };
    let mut fresh = Fresh { source: source.clone(), aws: None, cached: None };
    match refresh(pool, &mut fresh, false).await {
        Ok(()) => tracing::info!(credential = %source.describe(), "database credential set; kept fresh"),
        Err(e) => tracing::error!(credential = %source.describe(), error = %e, "no database credential yet; retrying"),
    }
    let pool = pool.clone();
    tokio::spawn(async move {
        let mut last = Instant::now();
        loop {
            // Registered before it is polled: a refused login during the refresh below is not
            // lost for the next round (Notify::notify_waiters wakes every created `Notified`).
            let rejected = LOGIN_REJECTED.notified();
            let forced = tokio::select! {
                () = tokio::time::sleep(interval) => false,
                () = rejected => true,
            };
            if pool.is_closed() {
                return;
            }
            if forced && last.elapsed() < MIN_FORCED_GAP {
                tokio::time::sleep(MIN_FORCED_GAP.saturating_sub(last.elapsed())).await;
            }
            last = Instant::now();
            match refresh(&pool, &mut fresh, forced).await {
                Ok(()) if forced => {
                    tracing::info!(credential = %fresh.source.describe(), "a login was refused: database credential renewed")
                }
                Ok(()) => tracing::debug!(credential = %fresh.source.describe(), "database credential renewed"),
                Err(e) => {
                    tracing::error!(credential = %fresh.source.describe(), error = %e, "cannot renew the database credential")
                }
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_password_file_loses_one_trailing_newline_and_names_its_variable_on_errors() {
        let dir = std::env::temp_dir().join(format!("app-pwfile-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("pw");
        for (content, password) in
            [("s3cret", "s3cret"), ("s3cret\n", "s3cret"), ("s3cret\r\n", "s3cret"), (" a b \n\n", " a b \n")]
        {
            std::fs::write(&file, content).unwrap();
            assert_eq!(read_password_file(&file).unwrap(), password, "{content:?}");
        }
        std::fs::write(&file, "\n").unwrap();
        assert!(read_password_file(&file).unwrap_err().contains("DB_PASSWORD_FILE"));
        let missing = read_password_file(&dir.join("missing")).unwrap_err();
        assert!(missing.starts_with("DB_PASSWORD_FILE=") && missing.contains("cannot be read"), "{missing}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn only_changing_credentials_are_refreshed_and_iam_well_inside_the_token_lifetime() {
        assert_eq!(CredentialSource::Password.refresh_interval(), None);
        assert!(CredentialSource::PasswordFile("/x".into()).refresh_interval().is_some());
        let iam = CredentialSource::Iam(TokenTarget {
            region: "eu-central-1".into(),
            host: "h".into(),
            port: 5432,
            user: "guestbook_app".into(),
        });
        let every = iam.refresh_interval().unwrap();
        assert!(every * 2 < iam::TOKEN_LIFETIME, "a token used for a new connection is at most {every:?} old");
    }
}
