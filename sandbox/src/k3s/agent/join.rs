//! Joining as k3s's agent does, step for step (k3s `pkg/clientaccess/token.go`,
//! `pkg/agent/run.go createProxyAndValidateToken`, `pkg/agent/config/config.go Get`):
//!
//! 1. [`validate_until_ok`]: parse the token, fetch `/cacerts` without verifying the
//!    server, compare its hash with the token's `K10<hash>`, then fetch it again
//!    trusting only that bundle. Any failure logs `Failed to validate connection to
//!    cluster at <url>: <err>` (level=error) and retries after 2 s.
//! 2. [`get_until_ok`]: with the token's credentials (and the node's client
//!    certificate when one is kept), `/v1-k3s/config`, then the node's serving and
//!    client certificates from `/v1-k3s/serving-kubelet.crt` and
//!    `/v1-k3s/client-kubelet.crt` with the `k3s-Node-Name` / `k3s-Node-Password`
//!    headers. Any failure logs `Waiting to retrieve agent configuration; server is not
//!    ready: <err>` (level=info) and retries after a jittered 5–10 s
//!    (`wait.JitterUntilWithContext(…, 5*time.Second, 1.0, true)`).
//!
//! The stand-in has no client-side load balancer: k3s sends these requests to its
//! local proxy `https://127.0.0.1:6444`, the stand-in to `--server` itself, so the URLs
//! inside its messages name the server.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::log::{self, Level};
use super::secret::Secret;
use super::tls::{self, ClientCert};
use super::{AgentConfig, files};
use crate::k3s::token;

/// What [`validate_until_ok`] and each [`get_until_ok`] round learn from the server.
#[derive(Debug, Clone)]
pub struct Info {
    /// `--server` without trailing slashes.
    pub base_url: String,
    /// The CA bundle served at `/cacerts` (hash-checked against the token).
    pub ca_pem: Vec<u8>,
    creds: Creds,
}

#[derive(Debug, Clone)]
enum Creds {
    /// `<id>.<secret>` sent as `Authorization: Bearer`.
    Bearer(Secret),
    /// Anything else: `user:password`, sent as Basic auth with the user forced to
    /// `node` (k3s `clientaccess.WithUser("node")`).
    Basic(Secret),
    /// No token (a restart that only keeps its client certificate).
    None,
}

/// The node's credentials once the server has issued them.
#[derive(Debug, Clone)]
pub struct Joined {
    /// The server and its CA bundle.
    pub info: Info,
    /// The node's name as registered (with `-<id>` under `--with-node-id`).
    pub node_name: String,
    /// `client-kubelet.crt` + key: the node's identity towards the Kubernetes API.
    pub client: ClientCert,
}

/// Paths under `<data-dir>/agent` that k3s uses.
#[derive(Debug, Clone)]
pub struct AgentPaths {
    /// `client-kubelet.crt`
    pub client_cert: PathBuf,
    /// `client-kubelet.key`
    pub client_key: PathBuf,
    /// `serving-kubelet.crt`
    pub serving_cert: PathBuf,
    /// `serving-kubelet.key`
    pub serving_key: PathBuf,
    /// `client-ca.crt`
    pub client_ca: PathBuf,
    /// `server-ca.crt`
    pub server_ca: PathBuf,
}

impl AgentPaths {
    /// The files under `agent_dir` (`<data-dir>/agent`).
    pub fn new(agent_dir: &Path) -> AgentPaths {
        AgentPaths {
            client_cert: agent_dir.join("client-kubelet.crt"),
            client_key: agent_dir.join("client-kubelet.key"),
            serving_cert: agent_dir.join("serving-kubelet.crt"),
            serving_key: agent_dir.join("serving-kubelet.key"),
            client_ca: agent_dir.join("client-ca.crt"),
            server_ca: agent_dir.join("server-ca.crt"),
        }
    }

    /// The kept client certificate, if it loads (k3s `tls.LoadX509KeyPair`).
    pub fn kept_client_cert(&self) -> Option<ClientCert> {
        ClientCert::load(&self.client_cert, &self.client_key).ok()
    }
}

/// Step 1: loops (every 2 s, logging k3s's error line) until the token's CA hash matches
/// the server's `/cacerts` and the server's certificate chains to that bundle.
pub async fn validate_until_ok(server: &str, token: &Secret) -> Info {
    loop {
        match parse_and_validate(server, token).await {
            Ok(info) => return info,
            Err(e) => {
                log::logrus(
                    Level::Error,
                    &format!("Failed to validate connection to cluster at {server}: {e}"),
                );
                tokio::time::sleep(Duration::from_secs(2)).await;
            }
        }
    }
}

/// Step 2: loops (jittered 5–10 s after each failure, logging k3s's info line) until
/// the node's certificates are issued; returns them.
pub async fn get_until_ok(cfg: &AgentConfig, token: &Secret, paths: &AgentPaths) -> Joined {
    loop {
        match get(cfg, token, paths).await {
            Ok(joined) => return joined,
            Err(e) => {
                log::logrus(
                    Level::Info,
                    &format!("Waiting to retrieve agent configuration; server is not ready: {e}"),
                );
                tokio::time::sleep(jittered(Duration::from_secs(5), 1.0)).await;
            }
        }
    }
}

/// `wait.Jitter(d, factor)`: `d + rand[0,1) * factor * d`.
pub fn jittered(d: Duration, factor: f64) -> Duration {
    let mut b = [0u8; 8];
    let r = if getrandom::fill(&mut b).is_ok() {
        (u64::from_le_bytes(b) >> 11) as f64 / (1u64 << 53) as f64
    } else {
        0.5
    };
    d + d.mul_f64(r * factor)
}

/// k3s `clientaccess.ParseAndValidateToken`.
pub async fn parse_and_validate(server: &str, token: &Secret) -> Result<Info, String> {
    let parsed = token::Token::parse(token.expose())
        .map_err(|e| e.to_string())?
        .with_user("node");
    let url = reqwest::Url::parse(server)
        .map_err(|e| format!("Invalid server url, failed to parse: {server}: {e}"))?;
    if url.scheme() != "https" {
        return Err(format!(
            "only https:// URLs are supported, invalid scheme: {server}"
        ));
    }
    let base_url = base_url(&url);
    let ca_pem = get_ca_certs(&base_url).await?;
    if parsed.ca_hash.is_none() {
        log::logrus(
            Level::Warn,
            "Cluster CA certificate is not trusted by the host CA bundle, but the token does not include a CA hash. Use the full token from the server's node-token file to enable Cluster CA validation.",
        );
    }
    if let Err((want, got)) = parsed.check_ca(&ca_pem) {
        return Err(format!(
            "token CA hash does not match the Cluster CA certificate hash: {want} != {got}"
        ));
    }
    let creds = match parsed.creds {
        token::Creds::Bootstrap(b) => Creds::Bearer(Secret::new(b.bearer())),
        token::Creds::Basic { password, .. } => Creds::Basic(Secret::new(password)),
    };
    Ok(Info {
        base_url,
        ca_pem,
        creds,
    })
}

fn base_url(url: &reqwest::Url) -> String {
    let mut s = format!("{}://{}", url.scheme(), url.host_str().unwrap_or_default());
    if let Some(port) = url.port() {
        s.push_str(&format!(":{port}"));
    }
    s.push_str(url.path().trim_end_matches('/'));
    s
}

/// k3s `getCACerts` (minus the first try with the OS trust store, which never accepts
/// the stand-in's own CA).
async fn get_ca_certs(base_url: &str) -> Result<Vec<u8>, String> {
    let url = format!("{}/cacerts", origin(base_url));
    let insecure = tls::insecure()?;
    let cacerts = plain_get(&insecure, &url, &Creds::None)
        .await
        .map_err(|e| format!("failed to get CA certs: {e}"))?;
    let pinned = tls::pinned(&cacerts, None)?;
    plain_get(&pinned, &url, &Creds::None)
        .await
        .map_err(|e| format!("CA cert validation failed: {e}"))?;
    Ok(cacerts)
}

fn origin(base_url: &str) -> String {
    reqwest::Url::parse(base_url)
        .map(|u| {
            let mut s = format!("{}://{}", u.scheme(), u.host_str().unwrap_or_default());
            if let Some(p) = u.port() {
                s.push_str(&format!(":{p}"));
            }
            s
        })
        .unwrap_or_else(|_| base_url.to_string())
}

fn with_creds(req: reqwest::RequestBuilder, creds: &Creds) -> reqwest::RequestBuilder {
    match creds {
        Creds::Bearer(t) => req.bearer_auth(t.expose()),
        Creds::Basic(p) => req.basic_auth("node", Some(p.expose())),
        Creds::None => req,
    }
}

fn status_text(s: reqwest::StatusCode) -> String {
    format!("{} {}", s.as_u16(), s.canonical_reason().unwrap_or(""))
}

/// k3s `clientaccess.get`: any status outside 2xx is `<url>: <status>`.
async fn plain_get(client: &reqwest::Client, url: &str, creds: &Creds) -> Result<Vec<u8>, String> {
    let resp = with_creds(client.get(url), creds)
        .send()
        .await
        .map_err(|e| tls::go_error("GET", url, &e))?;
    let status = resp.status();
    if !status.is_success() {
        return Err(format!("{url}: {}", status_text(status)));
    }
    let body = resp
        .bytes()
        .await
        .map_err(|e| tls::go_error("GET", url, &e))?;
    Ok(body.to_vec())
}

/// k3s `config.get`: one round of fetching the node's configuration and certificates.
async fn get(cfg: &AgentConfig, token: &Secret, paths: &AgentPaths) -> Result<Joined, String> {
    let info = parse_and_validate(&cfg.server, token).await?;
    let kept = paths.kept_client_cert();
    let client = tls::pinned(&info.ca_pem, kept.as_ref())?;
    let origin = origin(&info.base_url);

    plain_get(&client, &format!("{origin}/v1-k3s/config"), &info.creds)
        .await
        .map_err(|e| format!("failed to retrieve configuration from server: {e}"))?;
    for (name, path) in [
        ("client-ca.crt", &paths.client_ca),
        ("server-ca.crt", &paths.server_ca),
    ] {
        let body = plain_get(&client, &format!("{origin}/v1-k3s/{name}"), &info.creds).await?;
        files::write_new(path, &body, 0o600)
            .map_err(|e| format!("failed to write cert {}: {e}", path.display()))?;
    }

    let password =
        files::ensure_node_password(&cfg.node_password_file).map_err(|e| e.to_string())?;
    let mut node_name = cfg.node_name.clone();
    if cfg.with_node_id {
        let id = files::ensure_node_id(&cfg.node_id_file()).map_err(|e| e.to_string())?;
        node_name = format!("{node_name}-{id}");
    }
    let named = NodeNamed {
        node_name: &node_name,
        password: &password,
        password_file: &cfg.node_password_file,
        creds: &info.creds,
        ca_pem: &info.ca_pem,
        kept: kept.as_ref(),
    };

    // Newer k3s (`getKubeletServingCert`, `getKubeletClientCert`) POSTs a CSR for a key
    // it keeps (generated once, 0600); a server that answers with a key of its own
    // (older servers) wins, as k3s splits the answer and keeps that key.
    let serving_csr = csr_for(&paths.serving_key).map_err(|e| {
        format!(
            "failed to create certificate request {}: {e}",
            paths.serving_cert.display()
        )
    })?;
    let serving = named
        .request(
            &client,
            &format!("{origin}/v1-k3s/serving-kubelet.crt"),
            &serving_csr,
        )
        .await
        .map_err(|e| format!("{}: {e}", paths.serving_cert.display()))?;
    let (cert, key) = split_cert_key_pem(&serving);
    write_pair(&paths.serving_cert, &cert, &paths.serving_key, &key)?;

    let client_csr = csr_for(&paths.client_key).map_err(|e| {
        format!(
            "failed to create certificate request {}: {e}",
            paths.client_cert.display()
        )
    })?;
    let client_pem = named
        .request(
            &client,
            &format!("{origin}/v1-k3s/client-kubelet.crt"),
            &client_csr,
        )
        .await
        .map_err(|e| format!("{}: {e}", paths.client_cert.display()))?;
    let (cert, key) = split_cert_key_pem(&client_pem);
    write_pair(&paths.client_cert, &cert, &paths.client_key, &key)?;
    let key = std::fs::read(&paths.client_key)
        .map_err(|e| format!("open {}: {e}", paths.client_key.display()))?;
    let client_cert = ClientCert::from_pem(&cert, &key)
        .map_err(|e| format!("{}: {e}", paths.client_cert.display()))?;

    Ok(Joined {
        info,
        node_name,
        client: client_cert,
    })
}

fn write_pair(cert_path: &Path, cert: &[u8], key_path: &Path, key: &[u8]) -> Result<(), String> {
    files::write_new(cert_path, cert, 0o600)
        .map_err(|e| format!("failed to write cert {}: {e}", cert_path.display()))?;
    if !key.is_empty() {
        files::write_new(key_path, key, 0o600)
            .map_err(|e| format!("failed to write key {}: {e}", key_path.display()))?;
    }
    Ok(())
}

struct NodeNamed<'a> {
    node_name: &'a str,
    password: &'a Secret,
    password_file: &'a Path,
    creds: &'a Creds,
    ca_pem: &'a [u8],
    kept: Option<&'a ClientCert>,
}

impl NodeNamed<'_> {
    /// k3s `getNodeNamedCrt`: the node headers; a 401 while presenting the client
    /// certificate is retried once without it; 403 is the node-password rejection.
    async fn request(
        &self,
        client: &reqwest::Client,
        url: &str,
        csr: &[u8],
    ) -> Result<Vec<u8>, String> {
        let mut resp = self.send(client, url, csr).await?;
        if resp.status() == reqwest::StatusCode::UNAUTHORIZED && self.kept.is_some() {
            log::logrus(
                Level::Info,
                "Node authorization rejected, retrying without client certificate authentication",
            );
            let bare = tls::pinned(self.ca_pem, None)?;
            resp = self.send(&bare, url, csr).await?;
        }
        let status = resp.status();
        if status == reqwest::StatusCode::FORBIDDEN {
            return Err(format!(
                "Node password rejected, duplicate hostname or contents of '{}' may not match server node-passwd entry, try enabling a unique node name with the --with-node-id flag",
                self.password_file.display()
            ));
        }
        if status != reqwest::StatusCode::OK {
            return Err(format!("{url}: {}", status_text(status)));
        }
        let body = resp
            .bytes()
            .await
            .map_err(|e| tls::go_error("POST", url, &e))?;
        Ok(body.to_vec())
    }

    async fn send(
        &self,
        client: &reqwest::Client,
        url: &str,
        csr: &[u8],
    ) -> Result<reqwest::Response, String> {
        with_creds(client.post(url), self.creds)
            .body(csr.to_vec())
            .header("k3s-Node-Name", self.node_name)
            .header("k3s-Node-Password", self.password.expose())
            .header("k3s-Node-IP", "127.0.0.1")
            .send()
            .await
            .map_err(|e| tls::go_error("POST", url, &e))
    }
}

/// k3s `getCSRBytes`: the key in `key_file` (an ECDSA P-256 key generated and written
/// 0600 when there is none, as `certutil.LoadOrGenerateKeyFile`), and a CSR for it with
/// an empty subject (the server names the certificate).
fn csr_for(key_file: &Path) -> Result<Vec<u8>, String> {
    let key = match std::fs::read_to_string(key_file) {
        Ok(pem) => rcgen::KeyPair::from_pem(&pem).map_err(|e| e.to_string())?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let key = rcgen::KeyPair::generate().map_err(|e| e.to_string())?;
            files::write_new(key_file, key.serialize_pem().as_bytes(), 0o600)
                .map_err(|e| e.to_string())?;
            key
        }
        Err(e) => return Err(format!("open {}: {e}", key_file.display())),
    };
    let mut params = rcgen::CertificateParams::default();
    params.distinguished_name = rcgen::DistinguishedName::new();
    let csr = params.serialize_request(&key).map_err(|e| e.to_string())?;
    Ok(csr.der().to_vec())
}

/// k3s `splitCertKeyPEM`: certificates and keys of a PEM bundle, re-encoded apart.
pub fn split_cert_key_pem(bytes: &[u8]) -> (Vec<u8>, Vec<u8>) {
    let text = String::from_utf8_lossy(bytes);
    let mut certs = String::new();
    let mut keys = String::new();
    let mut rest = text.as_ref();
    while let Some(start) = rest.find("-----BEGIN ") {
        let after = &rest[start + 11..];
        let Some(label_end) = after.find("-----") else {
            break;
        };
        let label = &after[..label_end];
        let end_marker = format!("-----END {label}-----");
        let Some(end) = rest[start..].find(&end_marker) else {
            break;
        };
        let block_end = start + end + end_marker.len();
        let block = &rest[start..block_end];
        let target = if label.contains("PRIVATE KEY") {
            &mut keys
        } else {
            &mut certs
        };
        target.push_str(block);
        target.push('\n');
        rest = &rest[block_end..];
    }
    (certs.into_bytes(), keys.into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_separates_certificates_from_keys() {
        let pem = "-----BEGIN CERTIFICATE-----\nAAA\n-----END CERTIFICATE-----\n-----BEGIN CERTIFICATE-----\nBBB\n-----END CERTIFICATE-----\n-----BEGIN EC PRIVATE KEY-----\nKKK\n-----END EC PRIVATE KEY-----\n";
        let (c, k) = split_cert_key_pem(pem.as_bytes());
        let c = String::from_utf8(c).unwrap();
        let k = String::from_utf8(k).unwrap();
        assert_eq!(c.matches("BEGIN CERTIFICATE").count(), 2);
        assert!(!c.contains("KKK"));
        assert_eq!(
            k,
            "-----BEGIN EC PRIVATE KEY-----\nKKK\n-----END EC PRIVATE KEY-----\n"
        );
    }

    #[test]
    fn jitter_stays_between_d_and_two_d() {
        for _ in 0..100 {
            let j = jittered(Duration::from_secs(5), 1.0);
            assert!(
                j >= Duration::from_secs(5) && j < Duration::from_secs(10),
                "{j:?}"
            );
        }
    }

    #[test]
    fn base_url_drops_trailing_slashes() {
        let u = reqwest::Url::parse("https://127.0.0.1:6443//").unwrap();
        assert_eq!(base_url(&u), "https://127.0.0.1:6443");
    }

    #[tokio::test]
    async fn a_non_https_server_is_refused_with_k3s_text() {
        let err = parse_and_validate("http://127.0.0.1:1", &Secret::new("K10::server:x".into()))
            .await
            .unwrap_err();
        assert_eq!(
            err,
            "only https:// URLs are supported, invalid scheme: http://127.0.0.1:1"
        );
    }

    #[tokio::test]
    async fn an_unreachable_server_gives_go_s_dial_error() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        drop(l);
        let server = format!("https://127.0.0.1:{port}");
        let err = parse_and_validate(&server, &Secret::new("K10::server:x".into()))
            .await
            .unwrap_err();
        assert_eq!(
            err,
            format!(
                "failed to get CA certs: Get \"{server}/cacerts\": dial tcp 127.0.0.1:{port}: connect: connection refused"
            )
        );
    }
}
