//! `cargo xtask image --promote <repository-uri>@sha256:<digest> --env <env>`: copy an image BY
//! DIGEST from another environment's ECR repository into `<env>`'s own, through the registry API
//! only (no container engine, no docker login): BatchGetImage for the exact manifest bytes, the
//! blobs the target lacks downloaded from their presigned URLs and uploaded in parts, then
//! PutImage with the same bytes, so the digest is preserved and verified by ECR.
//!
//! Why copy: prod's execution role pulls only from prod's repository, prod's lifecycle rule is
//! prod's own, and dev (its lifecycle rule, or dev itself) can disappear without taking an image
//! prod runs with it. Every call here is declared in `permissions::ops` (`image --promote`).

use std::time::Duration;

use anyhow::{Context, Result, bail};
use aws_sdk_ecr::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_ecr::primitives::Blob;
use aws_sdk_ecr::types::ImageIdentifier;
use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use sha2::{Digest, Sha256};

use crate::deploy::image_ref::ImageRef;
use crate::permissions::{self, ops};

/// ECR accepts parts of at least 5 MiB (except the last) and at most 20 MiB.
pub const PART_BYTES: usize = 10 * 1024 * 1024;

/// Manifest types a single-platform image has; the index types are recognised to refuse them.
const MANIFEST_TYPES: [&str; 2] =
    ["application/vnd.docker.distribution.manifest.v2+json", "application/vnd.oci.image.manifest.v1+json"];
const INDEX_TYPES: [&str; 2] =
    ["application/vnd.docker.distribution.manifest.list.v2+json", "application/vnd.oci.image.index.v1+json"];

/// Where the image comes from, parsed from `<account>.dkr.ecr.<region>.amazonaws.com/<repo>@<digest>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    pub registry_id: String,
    pub region: String,
    pub repository: String,
    pub digest: String,
}

impl Source {
    pub fn parse(uri: &str) -> Result<Self, String> {
        let image = ImageRef::parse(uri)?;
        let digest = image.digest.clone().ok_or_else(|| {
            format!("--promote {uri}: promotion copies by digest; pass <repository-uri>@sha256:<digest> (what `image --push` prints)")
        })?;
        let host = image.name.split_once('/').map(|(h, _)| h).unwrap_or_default();
        let parts: Vec<&str> = host.split('.').collect();
        match parts.as_slice() {
            [account, "dkr", "ecr", region, ..]
                if account.len() == 12 && account.chars().all(|c| c.is_ascii_digit()) =>
            {
                Ok(Self {
                    registry_id: (*account).into(),
                    region: (*region).into(),
                    repository: image.repository,
                    digest,
                })
            }
            _ => Err(format!(
                "--promote {uri}: not an ECR image URI (<account>.dkr.ecr.<region>.amazonaws.com/<repository>@sha256:...)"
            )),
        }
    }
}

impl Source {
    /// `<account>.dkr.ecr.<region>.amazonaws.com/<repository>@<digest>`, as parsed.
    pub fn uri(&self) -> String {
        format!("{}.dkr.ecr.{}.amazonaws.com/{}@{}", self.registry_id, self.region, self.repository, self.digest)
    }
}

/// What [`promote`] does, in the words the run prints first and `--dry-run` prints alone.
pub fn describe(from: &Source, repository: &str) -> String {
    format!("copy {} into {repository} by digest", from.uri())
}

fn failed<E: ProvideErrorMetadata + std::error::Error + 'static, R: std::fmt::Debug>(
    op: &permissions::Operation,
    err: SdkError<E, R>,
) -> anyhow::Error {
    let mut text = format!("ECR {} failed: {}", op.name, DisplayErrorContext(&err));
    if matches!(err.code(), Some("AccessDeniedException")) {
        text.push_str(&format!("\n  {}", permissions::needs_line(op.name).unwrap_or_default()));
    }
    anyhow::anyhow!(text)
}

/// What was promoted: the target repository's URI, the (unchanged) digest and the tags it got.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Promoted {
    pub repository_uri: String,
    pub digest: String,
    pub tags: Vec<String>,
}

impl Promoted {
    pub fn pinned(&self) -> String {
        format!("{}@{}", self.repository_uri, self.digest)
    }
}

/// The copy. `source` and `target` are ECR clients for the source's and the target's region.
pub async fn promote(
    source: &aws_sdk_ecr::Client,
    target: &aws_sdk_ecr::Client,
    from: &Source,
    repository: &str,
    say: &mut dyn FnMut(&str),
) -> Result<Promoted> {
    say(&describe(from, repository));
    let repo = target
        .describe_repositories()
        .repository_names(repository)
        .send()
        .await
        .map_err(|e| failed(&ops::DESCRIBE_REPOSITORIES, e))?;
    let uri = repo.repositories().first().and_then(|r| r.repository_uri()).context("no repository URI")?.to_owned();
    let pinned = format!("{uri}@{}", from.digest);
    let by_digest = || ImageIdentifier::builder().image_digest(&from.digest).build();

    // Tags go along: the source's tags (the commit), so prod's lifecycle rule sees a tagged image.
    let described = source
        .describe_images()
        .registry_id(&from.registry_id)
        .repository_name(&from.repository)
        .image_ids(by_digest())
        .send()
        .await
        .map_err(|e| failed(&ops::DESCRIBE_SOURCE_IMAGES, e))?;
    let mut tags: Vec<String> = described.image_details().first().map(|d| d.image_tags().to_vec()).unwrap_or_default();
    if tags.is_empty() {
        tags.push(format!(
            "promoted-{}",
            from.digest.trim_start_matches("sha256:").chars().take(12).collect::<String>()
        ));
    }

    let got = source
        .batch_get_image()
        .registry_id(&from.registry_id)
        .repository_name(&from.repository)
        .image_ids(by_digest())
        .set_accepted_media_types(Some(MANIFEST_TYPES.iter().chain(&INDEX_TYPES).map(|s| s.to_string()).collect()))
        .send()
        .await
        .map_err(|e| failed(&ops::BATCH_GET_IMAGE, e))?;
    let image = got.images().first().with_context(|| {
        let why = got.failures().first().and_then(|f| f.failure_reason()).unwrap_or("not returned");
        format!("{}@{} not found in {}: {why}", from.repository, from.digest, from.registry_id)
    })?;
    let manifest = image.image_manifest().context("BatchGetImage returned no manifest")?.to_owned();
    let media_type = image.image_manifest_media_type().unwrap_or(MANIFEST_TYPES[0]).to_owned();
    if INDEX_TYPES.contains(&media_type.as_str()) {
        bail!("{} is a multi-platform index ({media_type}); promote copies single-platform images only", from.digest);
    }
    let actual = format!("sha256:{}", hex(&Sha256::digest(manifest.as_bytes())));
    if actual != from.digest {
        bail!("the manifest ECR returned hashes to {actual}, not {}: refusing to copy", from.digest);
    }
    let blobs = blob_digests(&manifest)?;

    let check = target
        .batch_check_layer_availability()
        .repository_name(repository)
        .set_layer_digests(Some(blobs.clone()))
        .send()
        .await
        .map_err(|e| failed(&ops::BATCH_CHECK_LAYER_AVAILABILITY, e))?;
    let present: Vec<&str> = check
        .layers()
        .iter()
        .filter(|l| l.layer_availability().is_some_and(|a| a.as_str() == "AVAILABLE"))
        .filter_map(|l| l.layer_digest())
        .collect();
    let http = http_client()?;
    for blob in blobs.iter().filter(|b| !present.contains(&b.as_str())) {
        let url = source
            .get_download_url_for_layer()
            .registry_id(&from.registry_id)
            .repository_name(&from.repository)
            .layer_digest(blob)
            .send()
            .await
            .map_err(|e| failed(&ops::GET_DOWNLOAD_URL_FOR_LAYER, e))?;
        let bytes = download(&http, url.download_url().context("no download URL")?).await?;
        let got = format!("sha256:{}", hex(&Sha256::digest(&bytes)));
        if &got != blob {
            bail!("downloaded blob {blob} hashes to {got}: refusing to upload it");
        }
        upload(target, repository, blob, &bytes).await?;
        say(&format!("copied blob {blob} ({} bytes)", bytes.len()));
    }

    for tag in &tags {
        let put = target
            .put_image()
            .repository_name(repository)
            .image_manifest(&manifest)
            .image_manifest_media_type(&media_type)
            .image_digest(&from.digest)
            .image_tag(tag)
            .send()
            .await;
        match put {
            Ok(out) => {
                let digest = out.image().and_then(|i| i.image_id()).and_then(|i| i.image_digest()).unwrap_or_default();
                if digest != from.digest {
                    bail!("PutImage stored digest {digest}, expected {}", from.digest);
                }
            }
            // Already promoted with this tag: the same bytes, nothing to do.
            Err(e) if e.as_service_error().is_some_and(|s| s.is_image_already_exists_exception()) => {}
            Err(e) => return Err(failed(&ops::PUT_IMAGE, e)),
        }
    }
    say(&format!("promoted {}@{} -> {pinned} (tags: {})", from.repository, from.digest, tags.join(", ")));
    Ok(Promoted { repository_uri: uri, digest: from.digest.clone(), tags })
}

/// InitiateLayerUpload, UploadLayerPart in PART_BYTES pieces, CompleteLayerUpload.
async fn upload(target: &aws_sdk_ecr::Client, repository: &str, digest: &str, bytes: &[u8]) -> Result<()> {
    let started = target
        .initiate_layer_upload()
        .repository_name(repository)
        .send()
        .await
        .map_err(|e| failed(&ops::INITIATE_LAYER_UPLOAD, e))?;
    let id = started.upload_id().context("InitiateLayerUpload returned no upload id")?;
    for (i, part) in bytes.chunks(PART_BYTES).enumerate() {
        let first = (i * PART_BYTES) as i64;
        target
            .upload_layer_part()
            .repository_name(repository)
            .upload_id(id)
            .part_first_byte(first)
            .part_last_byte(first + part.len() as i64 - 1)
            .layer_part_blob(Blob::new(part.to_vec()))
            .send()
            .await
            .map_err(|e| failed(&ops::UPLOAD_LAYER_PART, e))?;
    }
    match target.complete_layer_upload().repository_name(repository).upload_id(id).layer_digests(digest).send().await {
        Ok(_) => Ok(()),
        Err(e) if e.as_service_error().is_some_and(|s| s.is_layer_already_exists_exception()) => Ok(()),
        Err(e) => Err(failed(&ops::COMPLETE_LAYER_UPLOAD, e)),
    }
}

/// The config and layer digests a manifest references.
pub fn blob_digests(manifest: &str) -> Result<Vec<String>> {
    let v: serde_json::Value = serde_json::from_str(manifest).context("the manifest is not JSON")?;
    let mut out: Vec<String> = v["config"]["digest"].as_str().map(str::to_owned).into_iter().collect();
    out.extend(v["layers"].as_array().into_iter().flatten().filter_map(|l| l["digest"].as_str()).map(str::to_owned));
    if out.is_empty() {
        bail!("the manifest references no config or layers");
    }
    Ok(out)
}

use crate::base::hex::encode as hex;

type Http = hyper_util::client::legacy::Client<
    hyper_rustls::HttpsConnector<hyper_util::client::legacy::connect::HttpConnector>,
    Empty<Bytes>,
>;

fn http_client() -> Result<Http> {
    // The provider is named: in a workspace build rustls has both `aws-lc-rs` (ours, the AWS
    // SDK's) and `ring` (the app's sqlx) enabled, and then has no default to fall back on.
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_provider_and_native_roots(rustls::crypto::aws_lc_rs::default_provider())
        .context("loading the system's root certificates")?
        .https_or_http()
        .enable_http1()
        .build();
    Ok(hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new()).build(https))
}

/// GET a presigned layer URL (S3 over HTTPS on AWS; plain HTTP on 127.0.0.1 in tests).
async fn download(http: &Http, url: &str) -> Result<Vec<u8>> {
    let uri: hyper::Uri = url.parse().with_context(|| format!("bad download URL {url}"))?;
    let response = tokio::time::timeout(Duration::from_secs(300), http.get(uri))
        .await
        .context("layer download timed out")?
        .context("downloading a layer")?;
    if !response.status().is_success() {
        bail!("layer download answered HTTP {}", response.status());
    }
    let body = response.into_body().collect().await.context("reading a layer")?;
    Ok(body.to_bytes().to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testkit::{Seen, Server, json};
    use aws_sdk_ecr::config::{BehaviorVersion, Credentials, Region};
    use serde_json::json as j;

    const SOURCE: &str = "111111111111";
    const TARGET_URI: &str = "222222222222.dkr.ecr.eu-west-1.amazonaws.com/rdeploy-prod-app";

    fn sha(bytes: &[u8]) -> String {
        format!("sha256:{}", hex(&Sha256::digest(bytes)))
    }

    fn client(url: &str) -> aws_sdk_ecr::Client {
        let conf = aws_sdk_ecr::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("eu-west-1"))
            .endpoint_url(url)
            .credentials_provider(Credentials::new("test", "test", None, None, "test"))
            .retry_config(aws_sdk_ecr::config::retry::RetryConfig::disabled())
            .build();
        aws_sdk_ecr::Client::from_conf(conf)
    }

    /// An image (config + one layer), its manifest's exact bytes (deliberately not canonical JSON:
    /// spacing must survive the copy) and digest.
    struct Image {
        config: Vec<u8>,
        layer: Vec<u8>,
        manifest: String,
        digest: String,
    }

    fn image() -> Image {
        let config = br#"{"architecture":"amd64","os":"linux"}"#.to_vec();
        // Bigger than one part, so the upload is split.
        let layer: Vec<u8> = (0..PART_BYTES + 1234).map(|i| (i % 251) as u8).collect();
        let manifest = format!(
            "{{\n   \"schemaVersion\": 2,\n   \"mediaType\": \"application/vnd.docker.distribution.manifest.v2+json\",\n   \"config\": {{ \"mediaType\": \"application/vnd.docker.container.image.v1+json\", \"size\": {}, \"digest\": \"{}\" }},\n   \"layers\": [ {{ \"mediaType\": \"application/vnd.docker.image.rootfs.diff.tar.gzip\", \"size\": {}, \"digest\": \"{}\" }} ]\n}}",
            config.len(),
            sha(&config),
            layer.len(),
            sha(&layer)
        );
        let digest = sha(manifest.as_bytes());
        Image { config, layer, manifest, digest }
    }

    /// A registry that holds `img` in the source repository, and in the target only the config
    /// blob. `tamper` serves a corrupted layer.
    fn registry(img: &Image, tamper: bool) -> Server {
        let (manifest, digest, config, mut layer) =
            (img.manifest.clone(), img.digest.clone(), img.config.clone(), img.layer.clone());
        if tamper {
            layer[0] ^= 1;
        }
        let port_cell: std::sync::Arc<std::sync::OnceLock<String>> = Default::default();
        let url_for = port_cell.clone();
        let server = Server::start(move |r: &Seen| {
            if r.method == "GET" {
                let d = r.path.trim_start_matches("/blob/");
                return (
                    200,
                    "application/octet-stream",
                    if d == sha(&config) { config.clone() } else { layer.clone() },
                );
            }
            let body = r.json();
            match r.target() {
                "DescribeRepositories" => json(
                    200,
                    j!({"repositories": [{"repositoryName": "rdeploy-prod-app", "repositoryUri": TARGET_URI}]}),
                ),
                "DescribeImages" => {
                    json(200, j!({"imageDetails": [{"imageDigest": digest, "imageTags": ["abc1234def"]}]}))
                }
                "BatchGetImage" => json(
                    200,
                    j!({"images": [{"imageManifest": manifest, "imageManifestMediaType": "application/vnd.docker.distribution.manifest.v2+json", "imageId": {"imageDigest": digest}}], "failures": []}),
                ),
                "BatchCheckLayerAvailability" => {
                    let layers: Vec<_> = body["layerDigests"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|d| j!({"layerDigest": d, "layerAvailability": if *d == sha(&config) { "AVAILABLE" } else { "UNAVAILABLE" }}))
                        .collect();
                    json(200, j!({"layers": layers, "failures": []}))
                }
                "GetDownloadUrlForLayer" => {
                    let d = body["layerDigest"].as_str().unwrap();
                    json(200, j!({"downloadUrl": format!("{}/blob/{d}", url_for.get().unwrap()), "layerDigest": d}))
                }
                "InitiateLayerUpload" => json(200, j!({"uploadId": "u-1", "partSize": PART_BYTES})),
                "UploadLayerPart" => json(200, j!({"uploadId": "u-1", "lastByteReceived": body["partLastByte"]})),
                "CompleteLayerUpload" => json(200, j!({"uploadId": "u-1", "layerDigest": body["layerDigest"]})),
                "PutImage" => json(
                    200,
                    j!({"image": {"imageId": {"imageDigest": body["imageDigest"], "imageTag": body["imageTag"]}, "imageManifest": body["imageManifest"]}}),
                ),
                other => {
                    json(400, j!({"__type": "InvalidParameterException", "message": format!("unscripted {other}")}))
                }
            }
        });
        port_cell.set(server.url.clone()).unwrap();
        server
    }

    fn run(server: &Server, img: &Image) -> Result<Promoted> {
        run_saying(server, img).0
    }

    /// The promotion, and the lines it said.
    fn run_saying(server: &Server, img: &Image) -> (Result<Promoted>, Vec<String>) {
        let source =
            Source::parse(&format!("{SOURCE}.dkr.ecr.eu-west-1.amazonaws.com/rdeploy-dev-app@{}", img.digest)).unwrap();
        assert_eq!(Source::parse(&source.uri()).unwrap(), source, "uri() is what was parsed");
        let (c, mut lines) = (client(&server.url), Vec::new());
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let result = rt.block_on(promote(&c, &c, &source, "rdeploy-prod-app", &mut |l| lines.push(l.to_owned())));
        (result, lines)
    }

    #[test]
    fn copies_by_digest_with_the_exact_manifest_bytes() {
        let img = image();
        let server = registry(&img, false);
        let (promoted, said) = run_saying(&server, &img);
        let promoted = promoted.unwrap();
        assert_eq!(promoted.pinned(), format!("{TARGET_URI}@{}", img.digest));
        assert_eq!(
            said[0],
            format!(
                "copy {SOURCE}.dkr.ecr.eu-west-1.amazonaws.com/rdeploy-dev-app@{} into rdeploy-prod-app by digest",
                img.digest
            ),
            "first what --dry-run would print"
        );
        assert_eq!(promoted.tags, ["abc1234def"]);

        let seen = server.requests();
        let ops: Vec<&str> = seen.iter().map(|r| if r.method == "GET" { "GET blob" } else { r.target() }).collect();
        assert_eq!(
            ops,
            [
                "DescribeRepositories",
                "DescribeImages",
                "BatchGetImage",
                "BatchCheckLayerAvailability",
                "GetDownloadUrlForLayer",
                "GET blob",
                "InitiateLayerUpload",
                "UploadLayerPart",
                "UploadLayerPart",
                "CompleteLayerUpload",
                "PutImage"
            ],
            "only the missing layer is copied, in two parts"
        );
        // Source calls name the source account; the layer is the one the target lacked.
        for r in
            seen.iter().filter(|r| ["DescribeImages", "BatchGetImage", "GetDownloadUrlForLayer"].contains(&r.target()))
        {
            assert_eq!(r.json()["registryId"], SOURCE, "{}", r.target());
        }
        let parts: Vec<u8> = seen
            .iter()
            .filter(|r| r.target() == "UploadLayerPart")
            .flat_map(|r| aws_smithy_types::base64::decode(r.json()["layerPartBlob"].as_str().unwrap()).unwrap())
            .collect();
        assert_eq!(parts, img.layer, "the uploaded parts are the layer, in order");
        let first = seen.iter().find(|r| r.target() == "UploadLayerPart").unwrap().json();
        assert_eq!(
            (first["partFirstByte"].as_i64(), first["partLastByte"].as_i64()),
            (Some(0), Some(PART_BYTES as i64 - 1))
        );
        let put = seen.iter().find(|r| r.target() == "PutImage").unwrap().json();
        assert_eq!(
            put["imageManifest"].as_str().unwrap(),
            img.manifest,
            "byte-identical manifest, so the digest is kept"
        );
        assert_eq!(put["imageDigest"], img.digest.as_str());
        assert_eq!(put["imageTag"], "abc1234def");
        assert_eq!(put["repositoryName"], "rdeploy-prod-app");
    }

    #[test]
    fn a_corrupted_layer_is_never_uploaded() {
        let img = image();
        let server = registry(&img, true);
        let err = run(&server, &img).unwrap_err().to_string();
        assert!(err.contains("refusing to upload"), "{err}");
        assert!(server.requests().iter().all(|r| !["InitiateLayerUpload", "PutImage"].contains(&r.target())));
    }

    #[test]
    fn only_ecr_uris_pinned_by_digest_are_accepted() {
        let d = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
        let s = Source::parse(&format!("111111111111.dkr.ecr.us-east-2.amazonaws.com/team/app@{d}")).unwrap();
        assert_eq!(
            (s.registry_id.as_str(), s.region.as_str(), s.repository.as_str()),
            ("111111111111", "us-east-2", "team/app")
        );
        assert!(
            Source::parse("111111111111.dkr.ecr.us-east-2.amazonaws.com/app:abc").unwrap_err().contains("by digest")
        );
        assert!(Source::parse(&format!("ghcr.io/x/app@{d}")).unwrap_err().contains("not an ECR image URI"));
        assert_eq!(blob_digests(&image().manifest).unwrap().len(), 2);
        assert!(blob_digests("{}").is_err());
    }
}
