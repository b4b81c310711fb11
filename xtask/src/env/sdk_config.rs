//! The AWS SDK configuration of an environment, shared by every command that calls AWS (deploy,
//! migrate, image --push and --promote).

use std::path::Path;
use std::time::Duration;

use anyhow::Result;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_ecs::config::Credentials;

use crate::env::Env;
use crate::env::aws;

/// SDK configuration for `env`: its region; for `local` the emulator's endpoint and its static
/// credentials (or the caller's, see `aws::emulator_credentials`), passed explicitly, never a
/// profile; otherwise the standard credential chain. Timeouts keep a stuck connection from hanging a deploy.
pub async fn load_config(root: &Path, env: &Env) -> Result<SdkConfig> {
    let timeouts = TimeoutConfig::builder()
        .connect_timeout(Duration::from_secs(5))
        .operation_attempt_timeout(Duration::from_secs(30))
        .operation_timeout(Duration::from_secs(90))
        .build();
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new(env.region.clone()))
        .timeout_config(timeouts);
    if env.is_local() {
        let endpoint = aws::emulator_endpoint(root)?;
        let (id, secret, token) = aws::emulator_credentials()?;
        loader = loader.endpoint_url(endpoint).credentials_provider(Credentials::new(
            id,
            secret,
            token,
            None,
            "xtask-emulator",
        ));
    }
    Ok(loader.load().await)
}
