//! The agent's HTTPS clients (rustls on ring, as k3s's Go clients behave):
//! - [`insecure`]: accepts any server certificate — k3s fetches `/cacerts` this way
//!   when the OS trust store does not accept the server (`clientaccess.insecureClient`);
//! - [`pinned`]: trusts exactly the cluster CA bundle from `/cacerts` (no OS roots) and
//!   optionally presents the node's client certificate (`clientaccess.GetHTTPClient`).

use std::sync::Arc;
use std::time::Duration;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};

/// k3s's client timeout (`defaultClientTimeout`).
pub const CLIENT_TIMEOUT: Duration = Duration::from_secs(10);

/// A client certificate chain and its key (PEM from the join endpoints).
#[derive(Clone)]
pub struct ClientCert {
    certs: Vec<CertificateDer<'static>>,
    key: Arc<PrivateKeyDer<'static>>,
}

impl std::fmt::Debug for ClientCert {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientCert")
            .field("certs", &self.certs.len())
            .finish_non_exhaustive()
    }
}

impl ClientCert {
    /// Parses a PEM certificate chain and a PEM private key, and checks that the key
    /// belongs to the first certificate (what Go's `tls.X509KeyPair` checks).
    pub fn from_pem(cert_pem: &[u8], key_pem: &[u8]) -> Result<ClientCert, String> {
        let certs = CertificateDer::pem_slice_iter(cert_pem)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| format!("tls: failed to parse certificate PEM data: {e}"))?;
        if certs.is_empty() {
            return Err("tls: failed to find any PEM data in certificate input".into());
        }
        let key = PrivateKeyDer::from_pem_slice(key_pem)
            .map_err(|e| format!("tls: failed to find any PEM data in key input: {e}"))?;
        rustls::sign::CertifiedKey::from_der(certs.clone(), key.clone_key(), &provider())
            .map_err(|e| format!("tls: private key does not match public key: {e}"))?;
        Ok(ClientCert {
            certs,
            key: Arc::new(key),
        })
    }

    /// Loads `cert` and `key` files, as `tls.LoadX509KeyPair`.
    pub fn load(cert: &std::path::Path, key: &std::path::Path) -> Result<ClientCert, String> {
        let c = std::fs::read(cert).map_err(|e| format!("open {}: {e}", cert.display()))?;
        let k = std::fs::read(key).map_err(|e| format!("open {}: {e}", key.display()))?;
        ClientCert::from_pem(&c, &k)
    }
}

/// The ring provider (the only one the stand-in links).
pub fn provider() -> CryptoProvider {
    rustls::crypto::ring::default_provider()
}

fn builder() -> rustls::ConfigBuilder<ClientConfig, rustls::WantsVerifier> {
    ClientConfig::builder_with_provider(Arc::new(provider()))
        .with_safe_default_protocol_versions()
        .expect("ring supports the default protocol versions")
}

/// A client that accepts any server certificate (signatures on the handshake are still
/// checked, so the peer holds the key of the certificate it showed).
pub fn insecure() -> Result<reqwest::Client, String> {
    let verifier = AnyServerCert(Arc::new(provider()));
    let cfg = builder()
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier))
        .with_no_client_auth();
    client(cfg)
}

/// A client that trusts exactly the certificates in `ca_pem` (an empty or unparsable
/// bundle trusts nothing, as Go's empty pool) and presents `cert` if given.
pub fn pinned(ca_pem: &[u8], cert: Option<&ClientCert>) -> Result<reqwest::Client, String> {
    let mut roots = RootCertStore::empty();
    for der in CertificateDer::pem_slice_iter(ca_pem).flatten() {
        let _ = roots.add(der);
    }
    let b = builder().with_root_certificates(roots);
    let cfg = match cert {
        Some(c) => b
            .with_client_auth_cert(c.certs.clone(), c.key.clone_key())
            .map_err(|e| format!("tls: {e}"))?,
        None => b.with_no_client_auth(),
    };
    client(cfg)
}

fn client(cfg: ClientConfig) -> Result<reqwest::Client, String> {
    reqwest::Client::builder()
        .use_preconfigured_tls(cfg)
        .timeout(CLIENT_TIMEOUT)
        .no_proxy()
        .build()
        .map_err(|e| format!("building the https client: {e}"))
}

#[derive(Debug)]
struct AnyServerCert(Arc<CryptoProvider>);

impl ServerCertVerifier for AnyServerCert {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// Go's rendering of a failed `client.Do` for `url`, e.g. `Get "https://…/cacerts":
/// dial tcp 127.0.0.1:1: connect: connection refused` — the text k3s logs.
pub fn go_error(method: &str, url: &str, err: &reqwest::Error) -> String {
    let method = match method {
        "GET" => "Get",
        "PUT" => "Put",
        "POST" => "Post",
        other => other,
    };
    let cause = if err.is_timeout() {
        "context deadline exceeded (Client.Timeout exceeded while awaiting headers)".to_string()
    } else if let Some(t) = find_rustls(err) {
        tls_text(&t)
    } else if let Some(io) = find_io(err) {
        let hostport = reqwest::Url::parse(url)
            .ok()
            .and_then(|u| Some(format!("{}:{}", u.host_str()?, u.port_or_known_default()?)))
            .unwrap_or_default();
        match io.kind() {
            std::io::ErrorKind::ConnectionRefused => {
                format!("dial tcp {hostport}: connect: connection refused")
            }
            std::io::ErrorKind::TimedOut => format!("dial tcp {hostport}: i/o timeout"),
            _ => io.to_string(),
        }
    } else {
        chain(err)
    };
    format!("{method} \"{url}\": {cause}")
}

fn tls_text(rustls_msg: &str) -> String {
    if rustls_msg.contains("UnknownIssuer") || rustls_msg.contains("unknown issuer") {
        "tls: failed to verify certificate: x509: certificate signed by unknown authority".into()
    } else {
        format!("tls: {rustls_msg}")
    }
}

fn find_io<'a>(err: &'a (dyn std::error::Error + 'static)) -> Option<&'a std::io::Error> {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(e) = cur {
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            return Some(io);
        }
        cur = e.source();
    }
    None
}

fn find_rustls(err: &(dyn std::error::Error + 'static)) -> Option<String> {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(e) = cur {
        if let Some(r) = e.downcast_ref::<rustls::Error>() {
            return Some(r.to_string());
        }
        if let Some(inner) = e
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
            .and_then(|i| i.downcast_ref::<rustls::Error>())
        {
            return Some(inner.to_string());
        }
        cur = e.source();
    }
    None
}

fn chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut out = err.to_string();
    let mut cur = err.source();
    while let Some(e) = cur {
        out.push_str(": ");
        out.push_str(&e.to_string());
        cur = e.source();
    }
    out
}
