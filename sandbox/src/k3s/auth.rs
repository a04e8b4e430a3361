//! Authentication, as k3s's server does it (`k3s-io/k3s:pkg/daemons/control/server.go`
//! `combineAuthenticators(basicAuth, apiserverAuth)`):
//!
//! - **Basic** `node:<pw>` / `server:<pw>` from `server/cred/passwd` — supervisor endpoints
//!   only (`pkg/authenticator/basicauth`); the Kubernetes API has no basic auth.
//! - **x509 client certificates** signed by the client CA: user = CN, groups = O
//!   (`k8s.io/apiserver/pkg/authentication/request/x509`). The TLS layer asks for a
//!   certificate but does not require one; a certificate from another CA fails here, as
//!   the apiserver's authenticator fails it, so the request gets 401.
//! - **Bootstrap tokens** `Authorization: Bearer <id>.<secret>`, checked against
//!   `kube-system/bootstrap-token-<id>` as `plugin/pkg/auth/authenticator/token/bootstrap`
//!   does: type `bootstrap.kubernetes.io/token`, `token-secret` equal (constant time),
//!   `token-id` equal, `expiration` not past (unparseable = expired),
//!   `usage-bootstrap-authentication: "true"`, `auth-extra-groups` valid. User
//!   `system:bootstrap:<id>`, groups `system:bootstrappers` plus the extra groups.
//!
//! Like k8s's union authenticator, the first success wins; if none succeeds and one of
//! them rejected credentials, the request failed authentication (401); with no
//! credentials at all it is anonymous (which k3s's apiserver refuses: 401; k3s's
//! supervisor: 403).

use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use rustls::pki_types::{CertificateDer, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use serde_json::Value;
use subtle::ConstantTimeEq as _;

use super::objects::Store;
use super::resources::SECRETS;

/// An authenticated user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// User name (`system:admin`, `system:node:<n>`, `system:bootstrap:<id>`, `node`, ...).
    pub name: String,
    /// Groups, `system:authenticated` included.
    pub groups: Vec<String>,
}

impl User {
    /// A user with these groups plus `system:authenticated`.
    pub fn new(name: &str, groups: &[&str]) -> Self {
        let mut groups: Vec<String> = groups.iter().map(|g| (*g).to_owned()).collect();
        groups.push("system:authenticated".into());
        Self {
            name: name.to_owned(),
            groups,
        }
    }

    /// Member of `group`.
    pub fn in_group(&self, group: &str) -> bool {
        self.groups.iter().any(|g| g == group)
    }

    /// The node name, for a node identity (`nodeidentifier.NodeIdentity`: user
    /// `system:node:<name>` in group `system:nodes`).
    pub fn node_name(&self) -> Option<&str> {
        let n = self.name.strip_prefix("system:node:")?;
        (!n.is_empty() && self.in_group("system:nodes")).then_some(n)
    }
}

/// The outcome of authenticating one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Authn {
    /// Authenticated.
    User(User),
    /// No credentials.
    Anonymous,
    /// Credentials were presented and rejected (the error text, for the server log only).
    Failed(String),
}

/// What the authenticators need.
pub struct Authenticator {
    verifier: Arc<dyn ClientCertVerifier>,
    node_password: String,
    server_password: String,
}

impl std::fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Authenticator(..)")
    }
}

impl Authenticator {
    /// With the client CA (DER) and the passwd users' passwords.
    pub fn new(
        client_ca_der: &[u8],
        node_password: String,
        server_password: String,
    ) -> Result<Self, String> {
        let mut roots = rustls::RootCertStore::empty();
        roots
            .add(CertificateDer::from(client_ca_der.to_vec()))
            .map_err(|e| format!("client CA: {e}"))?;
        let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
            Arc::new(roots),
            Arc::new(rustls::crypto::ring::default_provider()),
        )
        .build()
        .map_err(|e| format!("client CA verifier: {e}"))?;
        Ok(Self {
            verifier,
            node_password,
            server_password,
        })
    }

    /// The TLS-layer verifier: offers client auth with the client CA as hint, checks the
    /// handshake signature (possession of the key), and leaves the chain to
    /// [`Authenticator::authenticate`].
    pub fn tls_verifier(&self) -> Arc<dyn ClientCertVerifier> {
        Arc::new(RequestClientCert(self.verifier.clone()))
    }

    /// Authenticates a request. `basic` enables the supervisor's passwd users.
    pub fn authenticate(
        &self,
        certs: Option<&[CertificateDer<'static>]>,
        authorization: Option<&str>,
        basic: bool,
        store: &Store,
        now_unix: i64,
    ) -> Authn {
        let mut errors = Vec::new();
        if basic && let Some(creds) = authorization.and_then(|a| a.strip_prefix("Basic ")) {
            match self.basic(creds.trim()) {
                Ok(u) => return Authn::User(u),
                Err(e) => errors.push(e),
            }
        }
        if let Some(certs) = certs
            && let Some((leaf, rest)) = certs.split_first()
        {
            match self.x509(leaf, rest) {
                Ok(u) => return Authn::User(u),
                Err(e) => errors.push(e),
            }
        }
        if let Some(token) = authorization.and_then(|a| a.strip_prefix("Bearer ")) {
            match bootstrap_token(token.trim(), store, now_unix) {
                Ok(u) => return Authn::User(u),
                Err(e) => errors.push(e),
            }
        }
        if errors.is_empty() {
            Authn::Anonymous
        } else {
            Authn::Failed(errors.join(", "))
        }
    }

    fn basic(&self, b64: &str) -> Result<User, String> {
        let invalid = || "invalid username/password combination".to_owned();
        let raw = BASE64.decode(b64).map_err(|_| invalid())?;
        let raw = String::from_utf8(raw).map_err(|_| invalid())?;
        let (user, pw) = raw.split_once(':').ok_or_else(invalid)?;
        let (want, group) = match user {
            "node" => (&self.node_password, "k3s:agent"),
            "server" => (&self.server_password, "k3s:server"),
            _ => return Err(invalid()),
        };
        if bool::from(pw.as_bytes().ct_eq(want.as_bytes())) {
            Ok(User::new(user, &[group]))
        } else {
            Err(invalid())
        }
    }

    fn x509(
        &self,
        leaf: &CertificateDer<'static>,
        rest: &[CertificateDer<'static>],
    ) -> Result<User, String> {
        self.verifier
            .verify_client_cert(leaf, rest, UnixTime::now())
            .map_err(|e| format!("verifying certificate: {e}"))?;
        let (_, cert) = x509_parser::parse_x509_certificate(leaf)
            .map_err(|e| format!("parsing certificate: {e}"))?;
        let subject = cert.subject();
        let cn = subject
            .iter_common_name()
            .next()
            .and_then(|a| a.as_str().ok())
            .unwrap_or_default()
            .to_owned();
        if cn.is_empty() {
            return Err("certificate has no common name".into());
        }
        let orgs: Vec<&str> = subject
            .iter_organization()
            .filter_map(|a| a.as_str().ok())
            .collect();
        Ok(User::new(&cn, &orgs))
    }
}

fn data_str(secret: &Value, key: &str) -> Option<String> {
    let b = secret["data"][key].as_str()?;
    String::from_utf8(BASE64.decode(b).ok()?).ok()
}

/// `bootstrap.TokenAuthenticator.AuthenticateToken`, then `bearertoken`'s "invalid bearer
/// token" for every refusal.
fn bootstrap_token(token: &str, store: &Store, now_unix: i64) -> Result<User, String> {
    let invalid = || "invalid bearer token".to_owned();
    let bt = super::token::BootstrapToken::parse(token).ok_or_else(invalid)?;
    let key = (
        SECRETS,
        "kube-system".to_owned(),
        format!("bootstrap-token-{}", bt.id),
    );
    let secret = store.get(&key).ok_or_else(invalid)?;
    if secret["type"].as_str() != Some("bootstrap.kubernetes.io/token")
        || !secret["data"].is_object()
    {
        return Err(invalid());
    }
    let ts = data_str(secret, "token-secret").unwrap_or_default();
    if !bool::from(ts.as_bytes().ct_eq(bt.secret.as_bytes())) {
        return Err(invalid());
    }
    if data_str(secret, "token-id").as_deref() != Some(bt.id.as_str()) {
        return Err(invalid());
    }
    if expired(secret, now_unix) {
        return Err(invalid());
    }
    if data_str(secret, "usage-bootstrap-authentication").as_deref() != Some("true") {
        return Err(invalid());
    }
    let mut groups = vec!["system:bootstrappers".to_owned()];
    if let Some(extra) = data_str(secret, "auth-extra-groups") {
        for g in extra.split(',').map(str::trim).filter(|g| !g.is_empty()) {
            let tail = g
                .strip_prefix("system:bootstrappers:")
                .ok_or_else(invalid)?;
            let ok = !tail.is_empty()
                && tail.len() <= 256
                && tail.bytes().all(|b| {
                    b.is_ascii_lowercase() || b.is_ascii_digit() || b == b':' || b == b'-'
                })
                && tail.ends_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit());
            if !ok {
                return Err(invalid());
            }
            groups.push(g.to_owned());
        }
    }
    let refs: Vec<&str> = groups.iter().map(String::as_str).collect();
    Ok(User::new(&format!("system:bootstrap:{}", bt.id), &refs))
}

/// `bootstrapsecretutil.HasExpired`: no `expiration` = never; unparseable = expired.
pub fn expired(secret: &Value, now_unix: i64) -> bool {
    let Some(exp) = data_str(secret, "expiration") else {
        return false;
    };
    if exp.is_empty() {
        return false;
    }
    match exp.parse::<jiff::Timestamp>() {
        Ok(t) => now_unix > t.as_second(),
        Err(_) => true,
    }
}

#[derive(Debug)]
struct RequestClientCert(Arc<dyn ClientCertVerifier>);

impl ClientCertVerifier for RequestClientCert {
    fn offer_client_auth(&self) -> bool {
        true
    }
    fn client_auth_mandatory(&self) -> bool {
        false
    }
    fn root_hint_subjects(&self) -> &[rustls::DistinguishedName] {
        self.0.root_hint_subjects()
    }
    fn verify_client_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        // Like Go's tls.RequestClientCert: the chain is the authenticator's business.
        Ok(ClientCertVerified::assertion())
    }
    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }
    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }
    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}
