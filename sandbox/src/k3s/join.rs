//! The supervisor endpoints a k3s agent joins through, as
//! `k3s-io/k3s:pkg/server/handlers/router.go` and `handlers.go` serve them:
//!
//! - `/cacerts` (no auth): the server CA PEM; `/ping`: `pong`.
//! - `/v1-k3s/...`, for users in `k3s:agent`, `k3s:server`, `system:nodes` or
//!   `system:bootstrappers` (`auth.HasRole`; bad credentials 401 "not authorized", none or
//!   the wrong role 403 "forbidden", as `doAuth` answers): `serving-kubelet.crt` and
//!   `client-kubelet.crt` (node-named: headers `k3s-Node-Name`, `k3s-Node-Password`,
//!   optional `k3s-Node-IP`; node password checked by [`ensure_node_password`]; a GET gets
//!   certificate + CA + the shared key, a POST with a DER CSR body gets certificate + CA),
//!   `client-kube-proxy.crt`, `client-k3s-controller.crt`, `client-ca.crt`,
//!   `server-ca.crt`, `apiservers`, `config`, `readyz`.
//! - `nodepassword.GetNodeAuthValidator`: a node client certificate must name the same
//!   node as the header (400) and its Node must exist (401 "unable to verify node
//!   identity", so a kubelet whose Node was deleted falls back to its token).

use std::net::IpAddr;
use std::sync::Arc;

use serde_json::{Value, json};

use super::auth::{Authn, User};
use super::nodepassword;
use super::pki::SubjectKey;
use super::resources::{NODES, SECRETS};
use super::server::{Body, Shared, json_response, status_response, text_response};
use super::status::ApiError;

/// The endpoints under `/v1-k3s/` this stand-in serves.
pub const PATHS: [&str; 9] = [
    "serving-kubelet.crt",
    "client-kubelet.crt",
    "client-kube-proxy.crt",
    "client-k3s-controller.crt",
    "client-ca.crt",
    "server-ca.crt",
    "apiservers",
    "config",
    "readyz",
];

/// Server-only and tunnel endpoints k3s has that are not modelled.
const UNMODELLED: [&str; 8] = [
    "connect",
    "encrypt/status",
    "encrypt/config",
    "cert/cacerts",
    "server-bootstrap",
    "token",
    "cert/status",
    "p2p",
];

/// The user the supervisor writes the node-password Secret as.
pub fn supervisor() -> User {
    User::new("system:k3s-supervisor", &["system:masters"])
}

/// Whether `path` is routed here rather than to the Kubernetes API (k3s falls through to
/// the apiserver for everything else).
pub fn is_supervisor_path(path: &str) -> bool {
    path == "/cacerts"
        || path == "/ping"
        || path
            .strip_prefix("/v1-k3s/")
            .is_some_and(|p| PATHS.contains(&p) || UNMODELLED.contains(&p))
}

fn k3s_error(code: u16, message: &str) -> http::Response<Body> {
    let err = match code {
        400 => ApiError::bad_request(message),
        401 => ApiError::unauthorized(message),
        403 => ApiError::forbidden_message(message, None),
        503 => ApiError {
            code: 503,
            reason: "ServiceUnavailable",
            message: message.into(),
            details: None,
        },
        _ => ApiError::internal(message),
    };
    let mut resp = status_response(&err);
    resp.headers_mut().insert(
        http::header::CONNECTION,
        http::HeaderValue::from_static("close"),
    );
    resp
}

/// Handles a supervisor request.
pub async fn handle(
    shared: &Arc<Shared>,
    authn: Authn,
    method: &http::Method,
    path: &str,
    headers: &http::HeaderMap,
    body: bytes::Bytes,
) -> http::Response<Body> {
    if path == "/cacerts" {
        return text_response(200, shared.pki.server_ca.pem.clone().into_bytes());
    }
    if path == "/ping" {
        return text_response(200, b"pong".to_vec());
    }
    let user = match authn {
        Authn::User(u) => u,
        Authn::Failed(why) => {
            tracing::info!(path, error = %why, "refused supervisor request: not authorized");
            return k3s_error(401, "not authorized");
        }
        Authn::Anonymous => return k3s_error(403, "forbidden"),
    };
    let roles = [
        "k3s:agent",
        "k3s:server",
        "system:nodes",
        "system:bootstrappers",
    ];
    if !roles.iter().any(|r| user.in_group(r)) {
        return k3s_error(403, "forbidden");
    }
    let sub = path.trim_start_matches("/v1-k3s/");
    if UNMODELLED.contains(&sub) {
        return status_response(&ApiError::no_route(format!(
            "daas-k3s does not model /v1-k3s/{sub}"
        )));
    }
    let pki = &shared.pki;
    match sub {
        "serving-kubelet.crt" | "client-kubelet.crt" => {
            let (node, code, err) = match node_auth(shared, &user, headers).await {
                Ok(n) => (n, 200, String::new()),
                Err((code, msg)) => (String::new(), code, msg),
            };
            if code != 200 {
                tracing::info!(path, node = %header(headers, "k3s-Node-Name"), code, error = %err, "refused node certificate");
                return k3s_error(code, &err);
            }
            let csr = (method == http::Method::POST && !body.is_empty()).then_some(&body[..]);
            let (ca_pem, shared_key, result) = if sub == "serving-kubelet.crt" {
                let mut ips: Vec<IpAddr> = Vec::new();
                for ip in header(headers, "k3s-Node-IP")
                    .split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                {
                    match ip.parse() {
                        Ok(ip) => ips.push(ip),
                        Err(_) => return k3s_error(500, &format!("invalid node IP address {ip}")),
                    }
                }
                let key = csr.map_or(
                    SubjectKey::Shared(&pki.serving_kubelet_key),
                    SubjectKey::Csr,
                );
                (
                    &pki.server_ca.pem,
                    &pki.serving_kubelet_key,
                    pki.sign_serving_kubelet(&node, &ips, key),
                )
            } else {
                let key = csr.map_or(SubjectKey::Shared(&pki.client_kubelet_key), SubjectKey::Csr);
                (
                    &pki.client_ca.pem,
                    &pki.client_kubelet_key,
                    pki.sign_client(&format!("system:node:{node}"), &["system:nodes"], key),
                )
            };
            match result {
                Ok(cert) => {
                    let mut out = cert.into_bytes();
                    out.extend_from_slice(ca_pem.as_bytes());
                    if csr.is_none() {
                        out.extend_from_slice(shared_key.as_bytes());
                    }
                    text_response(200, out)
                }
                Err(e) => k3s_error(500, &e.to_string()),
            }
        }
        "client-kube-proxy.crt" => cert_and_key(&pki.kube_proxy, &pki.client_ca.pem),
        "client-k3s-controller.crt" => cert_and_key(&pki.k3s_controller, &pki.client_ca.pem),
        "client-ca.crt" => text_response(200, pki.client_ca.pem.clone().into_bytes()),
        "server-ca.crt" => text_response(200, pki.server_ca.pem.clone().into_bytes()),
        "apiservers" => json_response(200, &json!([shared.advertise.to_string()])),
        "config" => json_response(200, &agent_config(shared)),
        "readyz" => text_response(200, b"ok".to_vec()),
        _ => status_response(&ApiError::no_route(format!(
            "daas-k3s does not serve {path}"
        ))),
    }
}

fn cert_and_key(ck: &super::pki::CertKey, ca: &str) -> http::Response<Body> {
    let mut out = ck.cert_pem.clone().into_bytes();
    out.extend_from_slice(ca.as_bytes());
    out.extend_from_slice(ck.key_pem.as_bytes());
    text_response(200, out)
}

fn header<'a>(headers: &'a http::HeaderMap, name: &str) -> &'a str {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
}

/// The part of k3s's `config.Control` (Go field names, as k3s encodes it) that a k3s agent
/// reads and that means something here.
fn agent_config(shared: &Shared) -> Value {
    let port = shared.advertise.port();
    json!({
        "HTTPSPort": port,
        "SupervisorPort": port,
        "APIServerPort": port,
        "ClusterDomain": "cluster.local",
        "ClusterDNS": "10.43.0.10",
        "ClusterIPRange": { "IP": "10.42.0.0", "Mask": "//8AAA==" },
        "ServiceIPRange": { "IP": "10.43.0.0", "Mask": "//8AAA==" },
        "FlannelBackend": "vxlan",
        "EgressSelectorMode": "agent",
        "DisableKubeProxy": false,
        "DisableCCM": false,
        "DisableNPC": false,
        "EmbeddedRegistry": false,
        "SystemDefaultRegistry": "",
        "SupervisorMetrics": false,
    })
}

/// `GetNodeAuthValidator`: the node name, or (HTTP code, message).
async fn node_auth(
    shared: &Arc<Shared>,
    user: &User,
    headers: &http::HeaderMap,
) -> Result<String, (u16, String)> {
    let name = header(headers, "k3s-Node-Name").to_lowercase();
    if name.is_empty() {
        return Err((400, "node name not set".into()));
    }
    let password = header(headers, "k3s-Node-Password").to_owned();
    if password.is_empty() {
        return Err((400, "node password not set".into()));
    }
    if let Some(cert_node) = user.node_name() {
        if cert_node != name {
            return Err((400, "header node name does not match auth node name".into()));
        }
        let exists = {
            let store = shared.store.lock().expect("poisoned");
            store.get(&(NODES, String::new(), name.clone())).is_some()
        };
        if !exists {
            return Err((
                401,
                format!("unable to verify node identity: nodes \"{name}\" not found"),
            ));
        }
    }
    match ensure_node_password(shared, &name, &password).await {
        Ok(()) => Ok(name),
        Err(EnsureError::Verify(msg)) => Err((403, msg)),
        Err(EnsureError::Create(msg)) => {
            // k3s lets the request through and retries the Secret later (`verifyRemotePassword`),
            // so an outage of Secret creation cannot keep nodes out; the stand-in logs it.
            tracing::warn!(node = %name, error = %msg, "node password secret not created; allowing as k3s does");
            Ok(name)
        }
    }
}

/// Why [`ensure_node_password`] failed.
#[derive(Debug)]
pub enum EnsureError {
    /// The stored hash does not match (→ 403).
    Verify(String),
    /// The Secret could not be created for another reason.
    Create(String),
}

/// The node-password Secret's name (`getSecretName`).
pub fn secret_name(node: &str) -> String {
    format!("{node}.node-password.k3s").to_lowercase()
}

/// `nodePasswordController.ensure`: verify the Secret if it exists; else create it
/// (immutable, type `k3s.cattle.io/node-password`, data `hash`); on AlreadyExists verify
/// again.
pub async fn ensure_node_password(
    shared: &Arc<Shared>,
    node: &str,
    password: &str,
) -> Result<(), EnsureError> {
    let key = (SECRETS, "kube-system".to_owned(), secret_name(node));
    let stored = {
        let store = shared.store.lock().expect("poisoned");
        store.get(&key).map(|s| s.as_ref().clone())
    };
    if let Some(secret) = stored {
        return verify(&secret, node, password).await;
    }
    let pw = password.to_owned();
    let hash = tokio::task::spawn_blocking(move || nodepassword::create_hash(&pw))
        .await
        .map_err(|e| EnsureError::Create(e.to_string()))?;
    use base64::Engine as _;
    let body = json!({
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": { "name": key.2, "namespace": "kube-system" },
        "immutable": true,
        "type": "k3s.cattle.io/node-password",
        "data": { "hash": base64::engine::general_purpose::STANDARD.encode(hash) },
    });
    match super::api::create(shared, &supervisor(), SECRETS, "kube-system", body, false) {
        Ok(_) => Ok(()),
        Err(e) if e.reason == "AlreadyExists" => {
            let secret = {
                let store = shared.store.lock().expect("poisoned");
                store.get(&key).map(|s| s.as_ref().clone())
            };
            match secret {
                Some(s) => verify(&s, node, password).await,
                None => Err(EnsureError::Create(e.message)),
            }
        }
        Err(e) => Err(EnsureError::Create(e.message)),
    }
}

async fn verify(secret: &Value, node: &str, password: &str) -> Result<(), EnsureError> {
    use base64::Engine as _;
    let err =
        |e: String| EnsureError::Verify(format!("unable to verify password for node {node}: {e}"));
    let Some(hash) = secret["data"]["hash"]
        .as_str()
        .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
        .and_then(|b| String::from_utf8(b).ok())
    else {
        return Err(err("password hash not found in node secret".into()));
    };
    let pw = password.to_owned();
    tokio::task::spawn_blocking(move || nodepassword::verify_hash(&hash, &pw))
        .await
        .map_err(|e| err(e.to_string()))?
        .map_err(|e| err(e.to_string()))
}
