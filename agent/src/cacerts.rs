//! The cluster-CA check the agent makes itself before it starts k3s (DESIGN §2 step 5):
//! k3s skips its own CA-hash check when the OS trust store accepts the server, so the
//! agent fetches `<server>/cacerts`, hashes it as k3s does (`hashCA` in
//! `k3s-io/k3s:pkg/clientaccess/token.go`) and compares it with the token's
//! `K10<hash>`; then it fetches `/cacerts` again trusting only that CA, so the server's
//! certificate must chain to the CA the token pins (k3s's third step).
//!
//! k3s's hash: a bundle of one certificate is hashed over its raw bytes (the PEM file as
//! served); a bundle of several over the DER of the root of the first certificate's
//! chain. For several certificates the agent accepts the token when its hash is the
//! SHA-256 of the DER of one certificate in the bundle and then trusts only that
//! certificate — the same trust (the server must chain to the pinned certificate)
//! without an X.509 path builder on the board.

use std::time::Duration;

use base64::Engine as _;
use daas_protocol::secret::JoinToken;
use sha2::{Digest as _, Sha256};
use thiserror::Error;

/// The largest `/cacerts` body accepted.
const MAX_BUNDLE: usize = 256 * 1024;

/// Why the server's CA was not accepted. Never carries the token.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum CaError {
    /// The server could not be asked (retry later).
    #[error("cannot fetch {url}: {reason}")]
    Fetch {
        /// `<server>/cacerts`.
        url: String,
        /// Why.
        reason: String,
    },
    /// The body is not a PEM certificate bundle.
    #[error("{url} did not serve a PEM certificate bundle")]
    NotPem {
        /// `<server>/cacerts`.
        url: String,
    },
    /// The CA does not hash to the token's `K10<hash>`.
    #[error(
        "token CA hash does not match the cluster CA certificate hash: {token} != {server} (the envelope names another cluster, or the server was reinstalled): not starting k3s"
    )]
    Mismatch {
        /// The token's hash (hex; not secret).
        token: String,
        /// The served bundle's hash.
        server: String,
    },
    /// The server's certificate does not chain to the pinned CA.
    #[error("{url}: the server's certificate does not chain to the CA the token pins: {reason}")]
    Untrusted {
        /// `<server>/cacerts`.
        url: String,
        /// The TLS error.
        reason: String,
    },
    /// The second fetch served another bundle.
    #[error("{url} served a different CA bundle on the verified connection")]
    Changed {
        /// `<server>/cacerts`.
        url: String,
    },
}

impl CaError {
    /// Whether the server may simply have been unreachable (try again on the next poll)
    /// rather than having proved to be the wrong cluster.
    pub fn is_transient(&self) -> bool {
        matches!(self, CaError::Fetch { .. })
    }
}

/// The PEM `CERTIFICATE` blocks of a bundle, as DER.
pub fn pem_certificates(bundle: &[u8]) -> Option<Vec<Vec<u8>>> {
    const BEGIN: &str = "-----BEGIN CERTIFICATE-----";
    const END: &str = "-----END CERTIFICATE-----";
    let text = std::str::from_utf8(bundle).ok()?;
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find(BEGIN) {
        let after = &rest[start + BEGIN.len()..];
        let end = after.find(END)?;
        let b64: String = after[..end].split_whitespace().collect();
        out.push(base64::engine::general_purpose::STANDARD.decode(b64).ok()?);
        rest = &after[end + END.len()..];
    }
    (!out.is_empty()).then_some(out)
}

/// What to trust once the hash matched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Anchor {
    /// The whole (single-certificate) PEM bundle.
    Pem(Vec<u8>),
    /// One certificate of a bundle, DER.
    Der(Vec<u8>),
}

/// k3s's hash of a one-certificate bundle: SHA-256 of the bytes as served.
pub fn hash_bundle(bundle: &[u8]) -> [u8; 32] {
    Sha256::digest(bundle).into()
}

/// Matches `bundle` against the token's CA hash: `Ok(anchor)` to trust, or the
/// mismatch (token hash, bundle hash) in hex.
pub fn match_hash(bundle: &[u8], want: &[u8; 32]) -> Result<Anchor, Option<(String, String)>> {
    let certs = pem_certificates(bundle).ok_or(None)?;
    let whole = hash_bundle(bundle);
    if certs.len() == 1 {
        return if &whole == want {
            Ok(Anchor::Pem(bundle.to_vec()))
        } else {
            Err(Some((hex(want), hex(&whole))))
        };
    }
    certs
        .into_iter()
        .find(|der| <[u8; 32]>::from(Sha256::digest(der)) == *want)
        .map(Anchor::Der)
        .ok_or_else(|| Some((hex(want), hex(&whole))))
}

fn hex(b: &[u8; 32]) -> String {
    daas_protocol::hex::encode_0x(b)[2..].to_string()
}

async fn fetch(client: &reqwest::Client, url: &str) -> Result<Vec<u8>, reqwest::Error> {
    let mut resp = client.get(url).send().await?.error_for_status()?;
    let mut body = Vec::new();
    while let Some(chunk) = resp.chunk().await? {
        body.extend_from_slice(&chunk);
        if body.len() > MAX_BUNDLE {
            break;
        }
    }
    Ok(body)
}

fn reason(e: &reqwest::Error) -> String {
    let mut s = e.to_string();
    let mut src = std::error::Error::source(e);
    while let Some(inner) = src {
        s.push_str(": ");
        s.push_str(&inner.to_string());
        src = inner.source();
    }
    s
}

/// Checks `server`'s CA against `token` as described in the module docs.
pub async fn verify(server: &str, token: &JoinToken, timeout: Duration) -> Result<Anchor, CaError> {
    let url = format!("{server}/cacerts");
    let fetch_err = |e: &reqwest::Error| CaError::Fetch {
        url: url.clone(),
        reason: reason(e),
    };
    let blind = reqwest::Client::builder()
        .use_rustls_tls()
        .danger_accept_invalid_certs(true)
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(timeout)
        .build()
        .map_err(|e| fetch_err(&e))?;
    let bundle = fetch(&blind, &url).await.map_err(|e| fetch_err(&e))?;
    if bundle.len() > MAX_BUNDLE {
        return Err(CaError::NotPem { url });
    }
    let anchor = match match_hash(&bundle, &token.ca_hash()) {
        Ok(a) => a,
        Err(None) => return Err(CaError::NotPem { url }),
        Err(Some((token, server))) => return Err(CaError::Mismatch { token, server }),
    };
    let root = match &anchor {
        Anchor::Pem(pem) => reqwest::Certificate::from_pem(pem),
        Anchor::Der(der) => reqwest::Certificate::from_der(der),
    }
    .map_err(|_| CaError::NotPem { url: url.clone() })?;
    let pinned = reqwest::Client::builder()
        .use_rustls_tls()
        .tls_built_in_root_certs(false)
        .add_root_certificate(root)
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(timeout)
        .build()
        .map_err(|e| fetch_err(&e))?;
    let again = fetch(&pinned, &url).await.map_err(|e| {
        if e.is_connect() && reason(&e).to_lowercase().contains("certificate") {
            CaError::Untrusted {
                url: url.clone(),
                reason: reason(&e),
            }
        } else {
            fetch_err(&e)
        }
    })?;
    if again != bundle {
        return Err(CaError::Changed { url });
    }
    Ok(anchor)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pem(der: &[u8]) -> String {
        let b64 = base64::engine::general_purpose::STANDARD.encode(der);
        let lines: Vec<&str> = b64
            .as_bytes()
            .chunks(64)
            .map(|c| std::str::from_utf8(c).unwrap())
            .collect();
        format!(
            "-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n",
            lines.join("\n")
        )
    }

    #[test]
    fn one_certificate_is_hashed_over_the_bytes_as_served() {
        let bundle = pem(&[1u8; 300]);
        let want = hash_bundle(bundle.as_bytes());
        assert_eq!(
            match_hash(bundle.as_bytes(), &want),
            Ok(Anchor::Pem(bundle.as_bytes().to_vec()))
        );
        // k3s hashes the literal bytes: a trailing newline more is another hash.
        let other = format!("{bundle}\n");
        let (tok, srv) = match_hash(other.as_bytes(), &want).unwrap_err().unwrap();
        assert_eq!(tok, hex(&want));
        assert_ne!(tok, srv);
        assert_eq!(tok.len(), 64);
    }

    #[test]
    fn several_certificates_match_on_a_certificate_der() {
        let bundle = format!("{}{}", pem(&[1u8; 100]), pem(&[2u8; 120]));
        let root: [u8; 32] = Sha256::digest([2u8; 120]).into();
        assert_eq!(
            match_hash(bundle.as_bytes(), &root),
            Ok(Anchor::Der(vec![2u8; 120]))
        );
        assert!(
            match_hash(bundle.as_bytes(), &[0u8; 32])
                .unwrap_err()
                .is_some()
        );
        assert_eq!(match_hash(b"not pem", &root), Err(None));
    }
}
