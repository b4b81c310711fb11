//! `aws sso login` then `cargo xtask deploy`: the SDK must resolve an IAM Identity Center (SSO)
//! profile. A temp AWS_CONFIG_FILE holds an SSO profile, a temp HOME the token `aws sso login`
//! caches, and AWS_ENDPOINT_URL points every AWS client, the SSO portal's included, at a scripted
//! server on 127.0.0.1. The portal hands out role credentials for the cached token; the deploy's
//! first ECS call must be signed with them. Without aws-config's `sso` feature the chain finds no
//! credentials and the deploy stops with exit 2 before any request.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::process::Command;
use std::sync::{Arc, Mutex};

const XTASK: &str = env!("CARGO_BIN_EXE_xtask");
/// `aws sso login` caches the token under sha1(<sso-session name>): sha1("rdeploy").
const CACHE_FILE: &str = "96d3f57e02eced40440fea89cf27bfe995d09ad6.json";

type Seen = Arc<Mutex<Vec<(String, BTreeMap<String, String>)>>>;

/// One request per connection: enough for the two calls this test makes.
fn server() -> (String, Seen) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let seen: Seen = Arc::default();
    let log = seen.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            let mut headers = BTreeMap::new();
            loop {
                let mut h = String::new();
                reader.read_line(&mut h).unwrap();
                if h.trim().is_empty() {
                    break;
                }
                if let Some((k, v)) = h.split_once(':') {
                    headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_owned());
                }
            }
            let len = headers.get("content-length").and_then(|l| l.parse().ok()).unwrap_or(0);
            let mut body = vec![0; len];
            reader.read_exact(&mut body).unwrap();
            let (ctype, reply) = if line.contains("/federation/credentials") {
                // SSO portal GetRoleCredentials.
                ("application/json", r#"{"roleCredentials":{"accessKeyId":"ASIASSOPORTALTEST","secretAccessKey":"s","sessionToken":"t","expiration":4102444800000}}"#.to_owned())
            } else {
                // ECS DescribeServices: the service does not exist (the deploy stops there).
                (
                    "application/x-amz-json-1.1",
                    r#"{"services":[],"failures":[{"arn":"x","reason":"MISSING"}]}"#.to_owned(),
                )
            };
            log.lock().unwrap().push((line.trim().to_owned(), headers));
            let mut out = stream;
            let _ = write!(
                out,
                "HTTP/1.1 200 OK\r\ncontent-type: {ctype}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{reply}",
                reply.len()
            );
        }
    });
    (url, seen)
}

#[test]
fn deploy_uses_credentials_from_an_sso_login() {
    let root = std::env::temp_dir().join(format!("xtask-sso-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    let home = root.join("home");
    std::fs::create_dir_all(home.join(".aws/sso/cache")).unwrap();
    std::fs::create_dir_all(root.join("infra/envs")).unwrap();
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    std::fs::copy(repo.join("infra/envs/dev.tfvars"), root.join("infra/envs/dev.tfvars")).unwrap();
    let config = root.join("aws-config");
    std::fs::write(
        &config,
        "[profile deployer]\nsso_session = rdeploy\nsso_account_id = 111111111111\nsso_role_name = Deployer\nregion = eu-west-1\n\n\
         [sso-session rdeploy]\nsso_start_url = https://example.awsapps.com/start\nsso_region = eu-west-1\nsso_registration_scopes = sso:account:access\n",
    )
    .unwrap();
    std::fs::write(
        home.join(".aws/sso/cache").join(CACHE_FILE),
        r#"{"startUrl":"https://example.awsapps.com/start","region":"eu-west-1","accessToken":"cached-sso-token","expiresAt":"2099-01-01T00:00:00Z"}"#,
    )
    .unwrap();
    let (url, seen) = server();

    let mut cmd = Command::new(XTASK);
    for (k, _) in std::env::vars_os() {
        if k.to_string_lossy().starts_with("AWS_") {
            cmd.env_remove(k);
        }
    }
    let image = "111111111111.dkr.ecr.eu-west-1.amazonaws.com/rdeploy-dev-app@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
    let out = cmd
        .env("XTASK_ROOT", &root)
        .env("HOME", &home)
        .env("AWS_CONFIG_FILE", &config)
        .env("AWS_SHARED_CREDENTIALS_FILE", root.join("no-credentials"))
        .env("AWS_PROFILE", "deployer")
        .env("AWS_ENDPOINT_URL", &url)
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .args(["deploy", "--env", "dev", "--image", image])
        .output()
        .unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    let seen = seen.lock().unwrap().clone();
    let _ = std::fs::remove_dir_all(&root);

    let portal = seen
        .iter()
        .find(|(l, _)| l.contains("/federation/credentials"))
        .unwrap_or_else(|| panic!("no SSO portal call: {text}"));
    assert!(portal.0.contains("account_id=111111111111") && portal.0.contains("role_name=Deployer"), "{portal:?}");
    assert_eq!(portal.1.get("x-amz-sso_bearer_token").map(String::as_str), Some("cached-sso-token"));
    let ecs = seen
        .iter()
        .find(|(_, h)| h.get("x-amz-target").is_some_and(|t| t.ends_with("DescribeServices")))
        .unwrap_or_else(|| panic!("{text}"));
    let auth = ecs.1.get("authorization").cloned().unwrap_or_default();
    assert!(
        auth.contains("Credential=ASIASSOPORTALTEST/"),
        "DescribeServices not signed with the SSO role credentials: {auth}"
    );
    // The deploy itself then stops: the scripted ECS has no such service.
    assert_eq!(out.status.code(), Some(2), "{text}");
    assert!(text.contains("not found"), "{text}");
}
