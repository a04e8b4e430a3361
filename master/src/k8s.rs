//! The k3s side (DESIGN §10), through the Kubernetes API with kube-rs: the CA check
//! and hash, bootstrap-token Secrets, Nodes and their node-password Secrets, and the
//! admission deny-list of revoked names.
//!
//! Everything lives in `kube-system`, as k3s keeps it. The token secret is read back
//! only to re-seal an envelope after a crash, and is held in zeroized memory.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use daas_protocol::ObjectId;
use daas_protocol::secret::JoinToken;
use k8s_openapi::ByteString;
use k8s_openapi::api::admissionregistration::v1::{
    MatchResources, NamedRuleWithOperations, ParamKind, ParamRef, ValidatingAdmissionPolicy,
    ValidatingAdmissionPolicyBinding, ValidatingAdmissionPolicyBindingSpec,
    ValidatingAdmissionPolicySpec, Validation,
};
use k8s_openapi::api::core::v1::{ConfigMap, Node, Secret};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, DeleteParams, ListParams, PostParams};
use sha2::Digest as _;
use thiserror::Error;
use zeroize::Zeroizing;

/// The namespace of tokens, node passwords and the deny-list.
pub const NAMESPACE: &str = "kube-system";
/// Label naming the worker's node_id on its bootstrap token.
pub const LABEL_NODE_ID: &str = "k8s-daas.io/node-id";
/// Label naming the envelope's token_version on its bootstrap token.
pub const LABEL_TOKEN_VERSION: &str = "k8s-daas.io/token-version";
/// Annotation naming the Worker object id on its bootstrap token.
pub const ANNOTATION_WORKER_ID: &str = "k8s-daas.io/worker-id";
/// Label of the deny-list ConfigMaps.
pub const LABEL_REVOKED_NODES: &str = "k8s-daas.io/revoked-nodes";
/// Name of the ValidatingAdmissionPolicy and of its binding.
pub const POLICY_NAME: &str = "k8s-daas-revoked-nodes";
/// Prefix of the deny-list shards (`k8s-daas-revoked-<n>`).
pub const SHARD_PREFIX: &str = "k8s-daas-revoked-";
/// Most names per shard.
pub const SHARD_CAPACITY: usize = 5_000;
/// The CEL expression every shard must pass for a Node CREATE or UPDATE.
pub const POLICY_EXPRESSION: &str = "!has(params.data) || !(object.metadata.name in params.data)";
/// The group k3s gives agent bootstrap tokens (`k3s token create`'s default).
pub const AUTH_EXTRA_GROUPS: &str = "system:bootstrappers:k3s:default-node-token";
/// The Secret type of bootstrap tokens.
pub const BOOTSTRAP_TOKEN_TYPE: &str = "bootstrap.kubernetes.io/token";

/// A Kubernetes failure, naming the object.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum K8sError {
    /// The kubeconfig cannot be read or used.
    #[error("kubeconfig {path}: {message}")]
    Kubeconfig {
        /// The file.
        path: String,
        /// What is wrong.
        message: String,
    },
    /// The server URL agents join does not serve the kubeconfig's CA.
    #[error("kubernetes.server_url {url}: {message}")]
    CaMismatch {
        /// The URL.
        url: String,
        /// What differs and the fix.
        message: String,
    },
    /// An API call failed.
    #[error("kubernetes {what}: {source}")]
    Api {
        /// The request (`create secret kube-system/bootstrap-token-abc123`).
        what: String,
        /// kube-rs's error.
        source: kube::Error,
    },
    /// A bootstrap token id is taken (pick another).
    #[error("a token with id {0:?} already exists")]
    TokenExists(String),
    /// An object of ours that does not have the shape we wrote.
    #[error("kubernetes object {name}: {message}")]
    Malformed {
        /// The object.
        name: String,
        /// What is wrong.
        message: String,
    },
}

impl K8sError {
    fn api(what: impl Into<String>) -> impl FnOnce(kube::Error) -> K8sError {
        let what = what.into();
        move |source| K8sError::Api { what, source }
    }
}

fn status(e: &kube::Error) -> Option<&kube::core::Status> {
    match e {
        kube::Error::Api(s) => Some(s),
        _ => None,
    }
}

fn is_not_found(e: &kube::Error) -> bool {
    status(e).is_some_and(|s| s.is_not_found())
}

fn is_already_exists(e: &kube::Error) -> bool {
    status(e).is_some_and(|s| s.is_already_exists())
}

fn is_conflict(e: &kube::Error) -> bool {
    status(e).is_some_and(|s| s.is_conflict())
}

/// The characters of bootstrap token ids and secrets (`[a-z0-9]`).
const TOKEN_ALPHABET: &[u8; 36] = b"abcdefghijklmnopqrstuvwxyz0123456789";

/// `n` characters of `[a-z0-9]` from the OS random source, without modulo bias.
fn random_token_chars(n: usize) -> Zeroizing<String> {
    let mut out = Zeroizing::new(String::with_capacity(n));
    let mut buf = Zeroizing::new([0u8; 64]);
    while out.len() < n {
        getrandom::fill(buf.as_mut()).expect("the OS random source is available");
        for &b in buf.iter() {
            // 252 = 7 × 36: bytes at or above it would bias the first characters.
            if b < 252 && out.len() < n {
                out.push(TOKEN_ALPHABET[(b % 36) as usize] as char);
            }
        }
    }
    out
}

/// A fresh token id (6 characters, public).
pub fn new_token_id() -> String {
    random_token_chars(6).to_string()
}

/// The token id every master first tries for `(worker, version)`:
/// `HMAC-SHA256(node_password_key, "k8s-daas/token-id/v1" || worker || version)` mapped to
/// six `[a-z0-9]`. Token ids are public (the secret half is random); deriving them from
/// the key all masters share makes the Secret's name the same for every master, so
/// two masters minting the same issue at once (a takeover race) meet at the API
/// server — the second create is refused as existing and reuses the first — instead
/// of making two live tokens. Another worker's token under the same id (1 in 36⁶) is
/// detected by its labels, and a random id is used instead.
pub fn token_id_for(
    key: &daas_protocol::keys::NodePasswordKey,
    worker: &ObjectId,
    version: u64,
) -> String {
    use hmac::{KeyInit as _, Mac as _};
    let secret = key.secret_bytes();
    let mut mac = <hmac::Hmac<sha2::Sha256>>::new_from_slice(secret.as_ref())
        .expect("HMAC takes a key of any length");
    mac.update(b"k8s-daas/token-id/v1");
    mac.update(worker.as_bytes());
    mac.update(&version.to_le_bytes());
    let mut out = String::with_capacity(6);
    let mut counter = 0u32;
    while out.len() < 6 {
        let mut m = mac.clone();
        m.update(&counter.to_le_bytes());
        for b in m.finalize().into_bytes() {
            // 252 = 7 × 36, as for the random ids: no modulo bias.
            if b < 252 && out.len() < 6 {
                out.push(TOKEN_ALPHABET[(b % 36) as usize] as char);
            }
        }
        counter += 1;
    }
    out
}

/// A fresh token secret (16 characters).
pub fn new_token_secret() -> Zeroizing<String> {
    random_token_chars(16)
}

/// What to mint for one worker.
#[derive(Debug, Clone)]
pub struct TokenSpec {
    /// The 6-character id.
    pub token_id: String,
    /// The worker's node_id.
    pub node_id: String,
    /// The envelope's token_version.
    pub version: u64,
    /// The Worker object.
    pub worker_id: ObjectId,
    /// Expiry (ms since the epoch).
    pub expires_at_ms: u64,
}

/// One of our bootstrap tokens as listed (never its secret).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenInfo {
    /// The id.
    pub token_id: String,
    /// `k8s-daas.io/node-id`.
    pub node_id: String,
    /// `k8s-daas.io/token-version`.
    pub version: u64,
    /// `k8s-daas.io/worker-id`.
    pub worker_id: ObjectId,
    /// `expiration` (ms), if set.
    pub expires_at_ms: Option<u64>,
    /// When the Secret was created (ms), from its `creationTimestamp`.
    pub created_ms: Option<u64>,
}

/// A Node as the activation check needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeInfo {
    /// The name (node_id).
    pub name: String,
    /// The Ready condition is True.
    pub ready: bool,
    /// When the Ready condition last changed (ms).
    pub ready_since_ms: Option<u64>,
}

/// RFC 3339 UTC (seconds), as `k3s token create` writes `expiration`.
pub fn rfc3339(ms: u64) -> String {
    let ts = Timestamp::from_millisecond(ms as i64).unwrap_or(Timestamp::UNIX_EPOCH);
    ts.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

fn parse_rfc3339(s: &str) -> Option<u64> {
    s.parse::<Timestamp>()
        .ok()
        .map(|t| t.as_millisecond().max(0) as u64)
}

/// The token's Secret, exactly as `k3s token create --ttl … --description "k8s-daas
/// <node_id>"` makes it (k3s `pkg/kubeadm/utils.go BootstrapTokenToSecret`), plus
/// our labels and annotation.
pub fn token_secret(spec: &TokenSpec, token_secret: &str) -> Secret {
    let mut data = BTreeMap::new();
    let mut put = |k: &str, v: &str| {
        data.insert(k.to_string(), ByteString(v.as_bytes().to_vec()));
    };
    put("token-id", &spec.token_id);
    put("token-secret", token_secret);
    put("description", &format!("k8s-daas {}", spec.node_id));
    put("expiration", &rfc3339(spec.expires_at_ms));
    put("usage-bootstrap-authentication", "true");
    put("usage-bootstrap-signing", "true");
    put("auth-extra-groups", AUTH_EXTRA_GROUPS);
    Secret {
        metadata: ObjectMeta {
            name: Some(format!("bootstrap-token-{}", spec.token_id)),
            namespace: Some(NAMESPACE.into()),
            labels: Some(BTreeMap::from([
                (LABEL_NODE_ID.to_string(), spec.node_id.clone()),
                (LABEL_TOKEN_VERSION.to_string(), spec.version.to_string()),
            ])),
            annotations: Some(BTreeMap::from([(
                ANNOTATION_WORKER_ID.to_string(),
                spec.worker_id.to_string(),
            )])),
            ..ObjectMeta::default()
        },
        type_: Some(BOOTSTRAP_TOKEN_TYPE.into()),
        data: Some(data),
        ..Secret::default()
    }
}

fn token_info(s: &Secret) -> Result<TokenInfo, K8sError> {
    let name = s.metadata.name.clone().unwrap_or_default();
    let bad = |message: &str| K8sError::Malformed {
        name: name.clone(),
        message: message.into(),
    };
    let labels = s.metadata.labels.clone().unwrap_or_default();
    let node_id = labels
        .get(LABEL_NODE_ID)
        .cloned()
        .ok_or_else(|| bad("no node-id label"))?;
    let version = labels
        .get(LABEL_TOKEN_VERSION)
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| bad("no numeric token-version label"))?;
    let worker_id = s
        .metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(ANNOTATION_WORKER_ID))
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| bad("no worker-id annotation"))?;
    let token_id = name
        .strip_prefix("bootstrap-token-")
        .map(str::to_string)
        .ok_or_else(|| bad("not a bootstrap-token-<id> Secret"))?;
    let expires_at_ms = s
        .data
        .as_ref()
        .and_then(|d| d.get("expiration"))
        .and_then(|v| std::str::from_utf8(&v.0).ok())
        .and_then(parse_rfc3339);
    let created_ms = s
        .metadata
        .creation_timestamp
        .as_ref()
        .and_then(|t| u64::try_from(t.0.as_millisecond()).ok());
    Ok(TokenInfo {
        token_id,
        node_id,
        version,
        worker_id,
        expires_at_ms,
        created_ms,
    })
}

/// The k3s CA hash of a `/cacerts` body: SHA-256 of the PEM bytes when the bundle
/// holds one certificate (k3s `pkg/clientaccess/token.go hashCA`). Bundles of several
/// certificates (k3s hashes the root's DER) are refused.
pub fn ca_hash(cacerts: &[u8]) -> Result<[u8; 32], String> {
    let ders = pem_certificates(cacerts)?;
    if ders.len() != 1 {
        return Err(format!(
            "its CA bundle holds {} certificates; daas-master supports a cluster CA of one certificate (k3s's default)",
            ders.len()
        ));
    }
    Ok(sha2::Sha256::digest(cacerts).into())
}

/// The DER bytes of each `CERTIFICATE` block of a PEM bundle.
pub fn pem_certificates(pem: &[u8]) -> Result<Vec<Vec<u8>>, String> {
    let text = std::str::from_utf8(pem).map_err(|_| "the CA bundle is not PEM text".to_string())?;
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("-----BEGIN CERTIFICATE-----") {
        let body = &rest[start + 27..];
        let end = body
            .find("-----END CERTIFICATE-----")
            .ok_or("a CERTIFICATE block has no END line")?;
        let b64: String = body[..end].chars().filter(|c| !c.is_whitespace()).collect();
        out.push(
            BASE64
                .decode(b64)
                .map_err(|_| "a CERTIFICATE block is not Base64".to_string())?,
        );
        rest = &body[end + 25..];
    }
    if out.is_empty() {
        return Err("the CA bundle holds no certificate".into());
    }
    Ok(out)
}

/// The cluster, as the master uses it.
#[derive(Clone)]
pub struct Cluster {
    secrets: Api<Secret>,
    config_maps: Api<ConfigMap>,
    nodes: Api<Node>,
    policies: Api<ValidatingAdmissionPolicy>,
    bindings: Api<ValidatingAdmissionPolicyBinding>,
    client: kube::Client,
    ca_hash: [u8; 32],
}

impl Cluster {
    /// Connects with `kubeconfig`, fetches `<server_url>/cacerts` trusting only the
    /// kubeconfig's CA, and refuses a server whose CA is not the kubeconfig's.
    pub async fn connect(kubeconfig: &Path, server_url: &str) -> Result<Self, K8sError> {
        let kc_err = |message: String| K8sError::Kubeconfig {
            path: kubeconfig.display().to_string(),
            message,
        };
        let kc =
            kube::config::Kubeconfig::read_from(kubeconfig).map_err(|e| kc_err(e.to_string()))?;
        let config =
            kube::Config::from_custom_kubeconfig(kc, &kube::config::KubeConfigOptions::default())
                .await
                .map_err(|e| kc_err(e.to_string()))?;
        let roots = config.root_cert.clone().ok_or_else(|| {
            kc_err("it names no certificate-authority for the cluster: the master pins the cluster CA from it".into())
        })?;
        let client = kube::Client::try_from(config).map_err(|e| kc_err(e.to_string()))?;
        let cacerts = fetch_cacerts(server_url, &roots).await?;
        let mismatch = |message: String| K8sError::CaMismatch {
            url: server_url.into(),
            message,
        };
        let served = pem_certificates(&cacerts).map_err(|m| mismatch(format!("/cacerts: {m}")))?;
        if served != roots {
            return Err(mismatch(
                "its /cacerts is not the kubeconfig's certificate-authority: agents would pin another CA; point server_url at this cluster's server".into(),
            ));
        }
        let ca_hash = ca_hash(&cacerts).map_err(mismatch)?;
        Ok(Cluster {
            secrets: Api::namespaced(client.clone(), NAMESPACE),
            config_maps: Api::namespaced(client.clone(), NAMESPACE),
            nodes: Api::all(client.clone()),
            policies: Api::all(client.clone()),
            bindings: Api::all(client.clone()),
            client,
            ca_hash,
        })
    }

    /// The Lease API of `namespace` (leader election, `[ha]`).
    pub fn leases(&self, namespace: &str) -> Api<k8s_openapi::api::coordination::v1::Lease> {
        Api::namespaced(self.client.clone(), namespace)
    }

    /// The k3s CA hash (the `K10<hash>` prefix of every join token).
    pub fn ca_hash(&self) -> &[u8; 32] {
        &self.ca_hash
    }

    /// The join token for a token id and secret.
    pub fn join_token(&self, token_id: &str, token_secret: &str) -> JoinToken {
        let s = format!(
            "K10{}::{}.{}",
            hex::encode(self.ca_hash),
            token_id,
            token_secret
        );
        JoinToken::new(s).expect("a k3s-shaped token by construction")
    }

    /// A round trip to the API server (for `/readyz`).
    pub async fn ping(&self) -> Result<(), K8sError> {
        self.config_maps
            .list_metadata(&ListParams::default().limit(1))
            .await
            .map(|_| ())
            .map_err(K8sError::api("list configmaps kube-system"))
    }

    /// Creates the token's Secret; [`K8sError::TokenExists`] when the id is taken.
    pub async fn create_token(&self, spec: &TokenSpec, secret: &str) -> Result<(), K8sError> {
        let s = token_secret(spec, secret);
        match self.secrets.create(&PostParams::default(), &s).await {
            Ok(_) => Ok(()),
            Err(e) if is_already_exists(&e) => Err(K8sError::TokenExists(spec.token_id.clone())),
            Err(e) => Err(K8sError::api(format!(
                "create secret {NAMESPACE}/bootstrap-token-{}",
                spec.token_id
            ))(e)),
        }
    }

    /// Reads a token back: its labels and its secret (to re-seal after a crash).
    pub async fn read_token(
        &self,
        token_id: &str,
    ) -> Result<Option<(TokenInfo, Zeroizing<String>)>, K8sError> {
        let name = format!("bootstrap-token-{token_id}");
        let Some(s) = self
            .secrets
            .get_opt(&name)
            .await
            .map_err(K8sError::api(format!("get secret {NAMESPACE}/{name}")))?
        else {
            return Ok(None);
        };
        let info = token_info(&s)?;
        let secret = s
            .data
            .as_ref()
            .and_then(|d| d.get("token-secret"))
            .and_then(|v| std::str::from_utf8(&v.0).ok())
            .filter(|v| v.len() == 16 && v.bytes().all(|b| TOKEN_ALPHABET.contains(&b)))
            .map(|v| Zeroizing::new(v.to_string()))
            .ok_or_else(|| K8sError::Malformed {
                name: name.clone(),
                message: "no 16-character token-secret".into(),
            })?;
        Ok(Some((info, secret)))
    }

    /// Deletes a token; `false` if it was already gone.
    pub async fn delete_token(&self, token_id: &str) -> Result<bool, K8sError> {
        let name = format!("bootstrap-token-{token_id}");
        self.delete_secret(&name).await
    }

    async fn delete_secret(&self, name: &str) -> Result<bool, K8sError> {
        match self.secrets.delete(name, &DeleteParams::default()).await {
            Ok(_) => Ok(true),
            Err(e) if is_not_found(&e) => Ok(false),
            Err(e) => Err(K8sError::api(format!("delete secret {NAMESPACE}/{name}"))(
                e,
            )),
        }
    }

    /// Every bootstrap token this project labelled (other tokens are not ours).
    pub async fn list_tokens(&self) -> Result<Vec<TokenInfo>, K8sError> {
        let mut out = Vec::new();
        let mut params = ListParams::default().labels(LABEL_NODE_ID).limit(500);
        loop {
            let page = self
                .secrets
                .list(&params)
                .await
                .map_err(K8sError::api("list bootstrap-token secrets"))?;
            for s in &page.items {
                if s.type_.as_deref() != Some(BOOTSTRAP_TOKEN_TYPE) {
                    continue;
                }
                match token_info(s) {
                    Ok(t) => out.push(t),
                    Err(e) => tracing::warn!("ignoring a labelled secret: {e}"),
                }
            }
            match page.metadata.continue_.filter(|c| !c.is_empty()) {
                Some(c) => params = params.continue_token(&c),
                None => return Ok(out),
            }
        }
    }

    /// Every Node with its Ready condition.
    pub async fn nodes(&self) -> Result<Vec<NodeInfo>, K8sError> {
        let list = self
            .nodes
            .list(&ListParams::default())
            .await
            .map_err(K8sError::api("list nodes"))?;
        Ok(list
            .items
            .iter()
            .map(|n| {
                let ready = n
                    .status
                    .as_ref()
                    .and_then(|s| s.conditions.as_ref())
                    .and_then(|c| c.iter().find(|c| c.type_ == "Ready"));
                NodeInfo {
                    name: n.metadata.name.clone().unwrap_or_default(),
                    ready: ready.is_some_and(|c| c.status == "True"),
                    ready_since_ms: ready
                        .and_then(|c| c.last_transition_time.as_ref())
                        .map(|t| t.0.as_millisecond().max(0) as u64),
                }
            })
            .collect())
    }

    /// The `hash` of `kube-system/<node>.node-password.k3s`, if the Secret exists.
    pub async fn node_password_hash(&self, node: &str) -> Result<Option<String>, K8sError> {
        let name = format!("{node}.node-password.k3s");
        let s = self
            .secrets
            .get_opt(&name)
            .await
            .map_err(K8sError::api(format!("get secret {NAMESPACE}/{name}")))?;
        Ok(s.and_then(|s| s.data)
            .and_then(|d| d.get("hash").cloned())
            .and_then(|h| String::from_utf8(h.0).ok()))
    }

    /// Deletes the Node and its node-password Secret (each may already be gone).
    pub async fn delete_node(&self, node: &str) -> Result<(), K8sError> {
        match self.nodes.delete(node, &DeleteParams::default()).await {
            Ok(_) => {}
            Err(e) if is_not_found(&e) => {}
            Err(e) => return Err(K8sError::api(format!("delete node {node}"))(e)),
        }
        self.delete_secret(&format!("{node}.node-password.k3s"))
            .await
            .map(|_| ())
    }

    /// Creates or updates the deny-list policy and its binding (DESIGN §10).
    pub async fn ensure_deny_policy(&self) -> Result<(), K8sError> {
        let policy = deny_policy();
        match self
            .policies
            .get_opt(POLICY_NAME)
            .await
            .map_err(K8sError::api(format!(
                "get validatingadmissionpolicy {POLICY_NAME}"
            )))? {
            None => {
                self.policies
                    .create(&PostParams::default(), &policy)
                    .await
                    .map_err(K8sError::api(format!(
                        "create validatingadmissionpolicy {POLICY_NAME}"
                    )))?;
            }
            Some(existing) if existing.spec != policy.spec => {
                let mut p = policy.clone();
                p.metadata.resource_version = existing.metadata.resource_version;
                self.policies
                    .replace(POLICY_NAME, &PostParams::default(), &p)
                    .await
                    .map_err(K8sError::api(format!(
                        "replace validatingadmissionpolicy {POLICY_NAME}"
                    )))?;
            }
            Some(_) => {}
        }
        let binding = deny_binding();
        match self
            .bindings
            .get_opt(POLICY_NAME)
            .await
            .map_err(K8sError::api(format!(
                "get validatingadmissionpolicybinding {POLICY_NAME}"
            )))? {
            None => {
                self.bindings
                    .create(&PostParams::default(), &binding)
                    .await
                    .map_err(K8sError::api(format!(
                        "create validatingadmissionpolicybinding {POLICY_NAME}"
                    )))?;
            }
            Some(existing) if existing.spec != binding.spec => {
                let mut b = binding.clone();
                b.metadata.resource_version = existing.metadata.resource_version;
                self.bindings
                    .replace(POLICY_NAME, &PostParams::default(), &b)
                    .await
                    .map_err(K8sError::api(format!(
                        "replace validatingadmissionpolicybinding {POLICY_NAME}"
                    )))?;
            }
            Some(_) => {}
        }
        Ok(())
    }

    /// The deny-list shards (name → ConfigMap).
    async fn shards(&self) -> Result<Vec<ConfigMap>, K8sError> {
        let list = self
            .config_maps
            .list(&ListParams::default().labels(&format!("{LABEL_REVOKED_NODES}=true")))
            .await
            .map_err(K8sError::api("list deny-list configmaps"))?;
        Ok(list.items)
    }

    /// Every name on the deny-list, with its shard.
    pub async fn denied(&self) -> Result<HashMap<String, String>, K8sError> {
        let mut out = HashMap::new();
        for cm in self.shards().await? {
            let shard = cm.metadata.name.clone().unwrap_or_default();
            for k in cm.data.unwrap_or_default().into_keys() {
                out.insert(k, shard.clone());
            }
        }
        Ok(out)
    }

    /// Puts `node` on the deny-list (idempotent), in the first shard with room.
    pub async fn deny(
        &self,
        node: &str,
        worker_id: &ObjectId,
        now_ms: u64,
    ) -> Result<(), K8sError> {
        let value = format!("{worker_id} revoked {}", rfc3339(now_ms));
        for _attempt in 0..8 {
            let shards = self.shards().await?;
            if shards
                .iter()
                .any(|c| c.data.as_ref().is_some_and(|d| d.contains_key(node)))
            {
                return Ok(());
            }
            let mut names: Vec<String> = shards
                .iter()
                .filter_map(|c| c.metadata.name.clone())
                .collect();
            names.sort();
            let room = shards
                .iter()
                .filter(|c| c.data.as_ref().map_or(0, |d| d.len()) < SHARD_CAPACITY)
                .min_by_key(|c| c.metadata.name.clone());
            let result = match room {
                Some(cm) => {
                    let mut cm = cm.clone();
                    cm.data
                        .get_or_insert_with(BTreeMap::new)
                        .insert(node.to_string(), value.clone());
                    let name = cm.metadata.name.clone().unwrap_or_default();
                    self.config_maps
                        .replace(&name, &PostParams::default(), &cm)
                        .await
                        .map(|_| ())
                        .map_err(|e| (e, format!("replace configmap {NAMESPACE}/{name}")))
                }
                None => {
                    let n = (0..)
                        .find(|n| !names.contains(&format!("{SHARD_PREFIX}{n}")))
                        .expect("a free shard number");
                    let name = format!("{SHARD_PREFIX}{n}");
                    let cm = ConfigMap {
                        metadata: ObjectMeta {
                            name: Some(name.clone()),
                            namespace: Some(NAMESPACE.into()),
                            labels: Some(BTreeMap::from([(
                                LABEL_REVOKED_NODES.to_string(),
                                "true".to_string(),
                            )])),
                            ..ObjectMeta::default()
                        },
                        data: Some(BTreeMap::from([(node.to_string(), value.clone())])),
                        ..ConfigMap::default()
                    };
                    self.config_maps
                        .create(&PostParams::default(), &cm)
                        .await
                        .map(|_| ())
                        .map_err(|e| (e, format!("create configmap {NAMESPACE}/{name}")))
                }
            };
            match result {
                Ok(()) => return Ok(()),
                // Someone else wrote the shard first: read again.
                Err((e, _)) if is_conflict(&e) || is_already_exists(&e) => continue,
                Err((e, what)) => return Err(K8sError::api(what)(e)),
            }
        }
        Err(K8sError::Malformed {
            name: format!("{SHARD_PREFIX}*"),
            message: "the deny-list kept changing under 8 attempts to add a name".into(),
        })
    }

    /// Takes `node` off the deny-list (a new registration of the name is being
    /// issued a token); `false` if it was not on it.
    pub async fn undeny(&self, node: &str) -> Result<bool, K8sError> {
        for _attempt in 0..8 {
            let shards = self.shards().await?;
            let Some(mut cm) = shards
                .into_iter()
                .find(|c| c.data.as_ref().is_some_and(|d| d.contains_key(node)))
            else {
                return Ok(false);
            };
            cm.data.as_mut().expect("found in data").remove(node);
            let name = cm.metadata.name.clone().unwrap_or_default();
            match self
                .config_maps
                .replace(&name, &PostParams::default(), &cm)
                .await
            {
                Ok(_) => return Ok(true),
                Err(e) if is_conflict(&e) => continue,
                Err(e) => {
                    return Err(K8sError::api(format!(
                        "replace configmap {NAMESPACE}/{name}"
                    ))(e));
                }
            }
        }
        Err(K8sError::Malformed {
            name: format!("{SHARD_PREFIX}*"),
            message: "the deny-list kept changing under 8 attempts to remove a name".into(),
        })
    }
}

/// `GET <server_url>/cacerts`, trusting only `roots` (DER).
async fn fetch_cacerts(server_url: &str, roots: &[Vec<u8>]) -> Result<Vec<u8>, K8sError> {
    let err = |message: String| K8sError::CaMismatch {
        url: server_url.into(),
        message,
    };
    let mut b = reqwest::Client::builder()
        .tls_built_in_root_certs(false)
        .timeout(std::time::Duration::from_secs(15));
    for der in roots {
        let c = reqwest::Certificate::from_der(der)
            .map_err(|e| err(format!("the kubeconfig's CA does not parse: {e}")))?;
        b = b.add_root_certificate(c);
    }
    let client = b.build().map_err(|e| err(e.to_string()))?;
    let url = format!("{server_url}/cacerts");
    let resp = client.get(&url).send().await.map_err(|e| {
        err(format!(
            "GET {url} failed ({e}): the server must present a certificate from the kubeconfig's CA"
        ))
    })?;
    if !resp.status().is_success() {
        return Err(err(format!("GET {url} answered HTTP {}", resp.status())));
    }
    resp.bytes()
        .await
        .map(|b| b.to_vec())
        .map_err(|e| err(format!("GET {url}: {e}")))
}

/// The ValidatingAdmissionPolicy `k8s-daas-revoked-nodes`.
pub fn deny_policy() -> ValidatingAdmissionPolicy {
    ValidatingAdmissionPolicy {
        metadata: ObjectMeta {
            name: Some(POLICY_NAME.into()),
            ..ObjectMeta::default()
        },
        spec: Some(ValidatingAdmissionPolicySpec {
            failure_policy: Some("Fail".into()),
            param_kind: Some(ParamKind {
                api_version: Some("v1".into()),
                kind: Some("ConfigMap".into()),
            }),
            match_constraints: Some(MatchResources {
                resource_rules: Some(vec![NamedRuleWithOperations {
                    api_groups: Some(vec![String::new()]),
                    api_versions: Some(vec!["v1".into()]),
                    operations: Some(vec!["CREATE".into(), "UPDATE".into()]),
                    resources: Some(vec!["nodes".into()]),
                    ..NamedRuleWithOperations::default()
                }]),
                ..MatchResources::default()
            }),
            validations: Some(vec![Validation {
                expression: POLICY_EXPRESSION.into(),
                message: Some(
                    "this node name was revoked by k8s-daas: register the device again to rejoin"
                        .into(),
                ),
                reason: Some("Forbidden".into()),
                ..Validation::default()
            }]),
            ..ValidatingAdmissionPolicySpec::default()
        }),
        ..ValidatingAdmissionPolicy::default()
    }
}

/// Its binding: every shard (selected by label) is a parameter that must pass.
pub fn deny_binding() -> ValidatingAdmissionPolicyBinding {
    ValidatingAdmissionPolicyBinding {
        metadata: ObjectMeta {
            name: Some(POLICY_NAME.into()),
            ..ObjectMeta::default()
        },
        spec: Some(ValidatingAdmissionPolicyBindingSpec {
            policy_name: Some(POLICY_NAME.into()),
            param_ref: Some(ParamRef {
                namespace: Some(NAMESPACE.into()),
                selector: Some(LabelSelector {
                    match_labels: Some(BTreeMap::from([(
                        LABEL_REVOKED_NODES.to_string(),
                        "true".to_string(),
                    )])),
                    ..LabelSelector::default()
                }),
                parameter_not_found_action: Some("Allow".into()),
                ..ParamRef::default()
            }),
            validation_actions: Some(vec!["Deny".into()]),
            ..ValidatingAdmissionPolicyBindingSpec::default()
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_derived_token_id_is_the_same_for_every_master_and_new_per_issue() {
        use daas_protocol::keys::NodePasswordKey;
        let key = NodePasswordKey::from_secret_bytes([7; 32]);
        let w = ObjectId::from_u64(0x77);
        let a = token_id_for(&key, &w, 1);
        assert_eq!(a.len(), 6);
        assert!(a.bytes().all(|c| TOKEN_ALPHABET.contains(&c)), "{a}");
        // Another master holding the same key names the same Secret.
        assert_eq!(
            token_id_for(&NodePasswordKey::from_secret_bytes([7; 32]), &w, 1),
            a
        );
        // Another version, worker or cluster key: another name.
        assert_ne!(token_id_for(&key, &w, 2), a);
        assert_ne!(token_id_for(&key, &ObjectId::from_u64(0x78), 1), a);
        assert_ne!(
            token_id_for(&NodePasswordKey::from_secret_bytes([8; 32]), &w, 1),
            a
        );
    }

    #[test]
    fn token_chars_are_k3s_shaped_and_random() {
        let a = new_token_id();
        let b = new_token_id();
        assert_eq!(a.len(), 6);
        assert!(a.bytes().all(|c| TOKEN_ALPHABET.contains(&c)));
        let s = new_token_secret();
        assert_eq!(s.len(), 16);
        assert!(s.bytes().all(|c| TOKEN_ALPHABET.contains(&c)));
        // 36^6 ids: two equal draws in a row would mean a broken generator.
        assert!(a != b || new_token_id() != a);
        // Every character of the alphabet shows up (no bias towards a prefix of it).
        let many = random_token_chars(4000);
        for c in TOKEN_ALPHABET {
            assert!(many.as_bytes().contains(c), "{}", *c as char);
        }
    }

    #[test]
    fn the_token_secret_is_what_k3s_token_create_makes_plus_our_labels() {
        let spec = TokenSpec {
            token_id: "abc123".into(),
            node_id: "rpi-0123456789abcdef".into(),
            version: 3,
            worker_id: ObjectId::from_u64(0x77),
            expires_at_ms: 1_700_000_000_000,
        };
        let s = token_secret(&spec, "0123456789abcdef");
        assert_eq!(s.metadata.name.as_deref(), Some("bootstrap-token-abc123"));
        assert_eq!(s.metadata.namespace.as_deref(), Some("kube-system"));
        assert_eq!(s.type_.as_deref(), Some("bootstrap.kubernetes.io/token"));
        let data: BTreeMap<String, String> = s
            .data
            .clone()
            .unwrap()
            .into_iter()
            .map(|(k, v)| (k, String::from_utf8(v.0).unwrap()))
            .collect();
        let expect: BTreeMap<String, String> = [
            ("token-id", "abc123"),
            ("token-secret", "0123456789abcdef"),
            ("description", "k8s-daas rpi-0123456789abcdef"),
            ("expiration", "2023-11-14T22:13:20Z"),
            ("usage-bootstrap-authentication", "true"),
            ("usage-bootstrap-signing", "true"),
            (
                "auth-extra-groups",
                "system:bootstrappers:k3s:default-node-token",
            ),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        assert_eq!(data, expect);
        let labels = s.metadata.labels.clone().unwrap();
        assert_eq!(labels[LABEL_NODE_ID], "rpi-0123456789abcdef");
        assert_eq!(labels[LABEL_TOKEN_VERSION], "3");
        assert_eq!(
            s.metadata.annotations.clone().unwrap()[ANNOTATION_WORKER_ID],
            ObjectId::from_u64(0x77).to_string()
        );
        let info = token_info(&s).unwrap();
        assert_eq!(
            info,
            TokenInfo {
                token_id: "abc123".into(),
                node_id: "rpi-0123456789abcdef".into(),
                version: 3,
                worker_id: ObjectId::from_u64(0x77),
                expires_at_ms: Some(1_700_000_000_000),
                // A Secret not yet stored has no creationTimestamp.
                created_ms: None,
            }
        );
    }

    #[test]
    fn the_deny_list_policy_and_binding_are_as_designed() {
        let p = serde_json::to_value(deny_policy()).unwrap();
        assert_eq!(p["metadata"]["name"], "k8s-daas-revoked-nodes");
        assert_eq!(
            p["spec"]["validations"][0]["expression"],
            "!has(params.data) || !(object.metadata.name in params.data)"
        );
        assert_eq!(p["spec"]["paramKind"]["kind"], "ConfigMap");
        let rule = &p["spec"]["matchConstraints"]["resourceRules"][0];
        assert_eq!(rule["resources"][0], "nodes");
        assert_eq!(rule["operations"], serde_json::json!(["CREATE", "UPDATE"]));
        let b = serde_json::to_value(deny_binding()).unwrap();
        assert_eq!(b["spec"]["policyName"], "k8s-daas-revoked-nodes");
        assert_eq!(b["spec"]["paramRef"]["parameterNotFoundAction"], "Allow");
        assert_eq!(b["spec"]["paramRef"]["namespace"], "kube-system");
        assert_eq!(
            b["spec"]["paramRef"]["selector"]["matchLabels"]["k8s-daas.io/revoked-nodes"],
            "true"
        );
        assert_eq!(b["spec"]["validationActions"], serde_json::json!(["Deny"]));
    }

    #[test]
    fn the_ca_hash_is_sha256_of_a_one_certificate_pem() {
        let pem = b"-----BEGIN CERTIFICATE-----\nAAEC\n-----END CERTIFICATE-----\n";
        let h = ca_hash(pem).unwrap();
        assert_eq!(h, <[u8; 32]>::from(sha2::Sha256::digest(pem)));
        assert_eq!(pem_certificates(pem).unwrap(), vec![vec![0, 1, 2]]);
        let two = [&pem[..], &pem[..]].concat();
        assert!(ca_hash(&two).unwrap_err().contains("2 certificates"));
        assert!(pem_certificates(b"nothing").is_err());
    }

    #[test]
    fn rfc3339_is_utc_seconds() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(
            parse_rfc3339("2023-11-14T22:13:20Z"),
            Some(1_700_000_000_000)
        );
    }
}
