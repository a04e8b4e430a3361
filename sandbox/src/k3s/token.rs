//! k3s join tokens and the CA hash, as `k3s-io/k3s:pkg/clientaccess/token.go` parses and
//! formats them.
//!
//! - Secure format `K10<ca-hash>::<creds>`; the hash, when present, is exactly 64 hex
//!   characters, else `invalid token CA hash length`.
//! - Short format: the creds alone (a bare password, or a bootstrap token).
//! - Creds shaped like a kubeadm bootstrap token (`[a-z0-9]{6}.[a-z0-9]{16}`) are sent as
//!   `Authorization: Bearer`; anything else is `user:password` for Basic auth. The agent
//!   forces the user to `node` (`WithUser("node")`, `pkg/agent/run.go`).
//! - [`hash_ca`] is `hashCA`: SHA-256 of the raw PEM bytes for a one-certificate bundle, of
//!   the root certificate's DER for a bundle with more.

use std::fmt;

use sha2::{Digest as _, Sha256};

/// The token prefix (`tokenPrefix`).
pub const PREFIX: &str = "K10";
/// Length of the hex CA hash (`caHashLength`).
pub const CA_HASH_LEN: usize = 64;

/// Why a token could not be parsed (k3s's wording where k3s has one).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TokenError {
    /// An empty token.
    #[error("token must not be empty")]
    Empty,
    /// A `K10` hash that is not 64 characters.
    #[error("invalid token CA hash length")]
    HashLength,
    /// Creds that are neither a bootstrap token nor `user:password` with a password.
    #[error("invalid token format")]
    Format,
}

/// Why a CA bundle could not be hashed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CaHashError {
    /// No `CERTIFICATE` block could be parsed (certutil's `ParseCertsPEM` fails the same way).
    #[error("CA bundle holds no valid certificate: {0}")]
    NoCertificate(String),
}

/// A kubeadm-style bootstrap token `<id>.<secret>` (`kubeadm.BootstrapTokenString`).
#[derive(Clone, PartialEq, Eq)]
pub struct BootstrapToken {
    /// The 6-character public id (the Secret is `bootstrap-token-<id>`).
    pub id: String,
    /// The 16-character secret.
    pub secret: String,
}

impl BootstrapToken {
    /// Parses `<id>.<secret>` with `[a-z0-9]{6}.[a-z0-9]{16}`, or `None`.
    pub fn parse(s: &str) -> Option<Self> {
        let (id, secret) = s.split_once('.')?;
        let ok = |p: &str, n: usize| {
            p.len() == n
                && p.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        };
        (ok(id, 6) && ok(secret, 16)).then(|| Self {
            id: id.to_owned(),
            secret: secret.to_owned(),
        })
    }

    /// `<id>.<secret>`, for an `Authorization: Bearer` header.
    pub fn bearer(&self) -> String {
        format!("{}.{}", self.id, self.secret)
    }
}

impl fmt::Debug for BootstrapToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "BootstrapToken({}.(redacted))", self.id)
    }
}

/// What a token authenticates with.
#[derive(Clone, PartialEq, Eq)]
pub enum Creds {
    /// `Authorization: Bearer <id>.<secret>`.
    Bootstrap(BootstrapToken),
    /// `Authorization: Basic user:password`.
    Basic {
        /// The user (`server`, or empty for a bare password; the agent sends `node`).
        username: String,
        /// The password.
        password: String,
    },
}

impl fmt::Debug for Creds {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Bootstrap(b) => b.fmt(f),
            Self::Basic { username, .. } => write!(f, "Basic({username}:(redacted))"),
        }
    }
}

/// A parsed join token.
#[derive(Clone, PartialEq, Eq)]
pub struct Token {
    /// The CA hash from a `K10` token (64 characters, compared as written), if any.
    pub ca_hash: Option<String>,
    /// The credentials.
    pub creds: Creds,
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Token")
            .field("ca_hash", &self.ca_hash)
            .field("creds", &self.creds)
            .finish()
    }
}

impl Token {
    /// Parses a token exactly as `parseToken` does.
    pub fn parse(token: &str) -> Result<Self, TokenError> {
        if token.is_empty() {
            return Err(TokenError::Empty);
        }
        // A bare password or bootstrap token becomes a K10 token with an empty hash.
        let full;
        let token = if token.starts_with(PREFIX) {
            token
        } else if BootstrapToken::parse(token).is_some() {
            full = format!("{PREFIX}::{token}");
            &full
        } else {
            full = format!("{PREFIX}:::{token}");
            &full
        };
        let rest = &token[PREFIX.len()..];
        let (hash, creds) = match rest.split_once("::") {
            Some((hash, creds)) => {
                if !hash.is_empty() && hash.len() != CA_HASH_LEN {
                    return Err(TokenError::HashLength);
                }
                ((!hash.is_empty()).then(|| hash.to_owned()), creds)
            }
            None => (None, rest),
        };
        let creds = match BootstrapToken::parse(creds) {
            Some(b) => Creds::Bootstrap(b),
            None => match creds.split_once(':') {
                Some((user, pw)) if !pw.is_empty() => Creds::Basic {
                    username: user.to_owned(),
                    password: pw.to_owned(),
                },
                _ => return Err(TokenError::Format),
            },
        };
        Ok(Self {
            ca_hash: hash,
            creds,
        })
    }

    /// Overrides the Basic-auth user, as the agent's `WithUser("node")` does; a bootstrap
    /// token is unchanged.
    pub fn with_user(mut self, user: &str) -> Self {
        if let Creds::Basic { username, .. } = &mut self.creds {
            *username = user.to_owned();
        }
        self
    }

    /// Whether the token's hash (if any) matches `ca_pem`; `Err` carries both hashes for
    /// k3s's message `token CA hash does not match the Cluster CA certificate hash: A != B`.
    pub fn check_ca(&self, ca_pem: &[u8]) -> Result<(), (String, String)> {
        let Some(want) = &self.ca_hash else {
            return Ok(());
        };
        let got = hash_ca(ca_pem).unwrap_or_default();
        if *want == got {
            Ok(())
        } else {
            Err((want.clone(), got))
        }
    }
}

/// Formats `K10<hash_ca(ca_pem)>::<creds>` (`FormatTokenBytes`).
pub fn format_token(creds: &str, ca_pem: &[u8]) -> Result<String, CaHashError> {
    Ok(format!("{PREFIX}{}::{creds}", hash_ca(ca_pem)?))
}

/// k3s's `hashCA`: hex SHA-256 of the raw bytes when the bundle holds one certificate;
/// with more, of the DER of the root that the first certificate chains to through the
/// others (falling back to the raw bytes when no chain verifies, as k3s does).
pub fn hash_ca(pem: &[u8]) -> Result<String, CaHashError> {
    let ders = pem_certificates(pem)?;
    let bytes: Vec<u8> = if ders.len() > 1 {
        root_of_chain(&ders).unwrap_or_else(|| pem.to_vec())
    } else {
        pem.to_vec()
    };
    Ok(hex::encode(Sha256::digest(&bytes)))
}

/// The DER of every `CERTIFICATE` block, each parsed as X.509.
fn pem_certificates(pem: &[u8]) -> Result<Vec<Vec<u8>>, CaHashError> {
    let mut out = Vec::new();
    for item in x509_parser::pem::Pem::iter_from_buffer(pem) {
        let item = item.map_err(|e| CaHashError::NoCertificate(e.to_string()))?;
        if item.label != "CERTIFICATE" {
            continue;
        }
        item.parse_x509()
            .map_err(|e| CaHashError::NoCertificate(e.to_string()))?;
        out.push(item.contents);
    }
    if out.is_empty() {
        return Err(CaHashError::NoCertificate("no CERTIFICATE block".into()));
    }
    Ok(out)
}

/// Follows issuer links from the first certificate through the rest of the bundle
/// (checking each signature) to a self-issued root; the root's DER.
fn root_of_chain(ders: &[Vec<u8>]) -> Option<Vec<u8>> {
    use x509_parser::prelude::*;
    let certs: Vec<X509Certificate<'_>> = ders
        .iter()
        .map(|d| parse_x509_certificate(d).map(|(_, c)| c))
        .collect::<Result<_, _>>()
        .ok()?;
    let mut current = 0usize;
    for _ in 0..certs.len() {
        let cur = &certs[current];
        // The next link: another certificate of the bundle (not the first) whose subject
        // issued `cur` and whose key verifies `cur`'s signature.
        let issuer = (1..certs.len()).find(|&i| {
            i != current
                && certs[i].subject() == cur.issuer()
                && cur.verify_signature(Some(certs[i].public_key())).is_ok()
                && certs[i].validity().is_valid()
        })?;
        let parent = &certs[issuer];
        let self_issued =
            parent.subject() == parent.issuer() && parent.verify_signature(None).is_ok();
        if self_issued {
            return Some(ders[issuer].clone());
        }
        current = issuer;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    const HASH: &str = "4f5a6c1ab6a98e7f4b2d3c1e0f9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a";

    #[test]
    fn secure_bootstrap_token() {
        let t = Token::parse(&format!("K10{HASH}::abcdef.0123456789abcdef")).unwrap();
        assert_eq!(t.ca_hash.as_deref(), Some(HASH));
        let Creds::Bootstrap(b) = &t.creds else {
            panic!("{t:?}")
        };
        assert_eq!(
            (b.id.as_str(), b.secret.as_str()),
            ("abcdef", "0123456789abcdef")
        );
        assert_eq!(b.bearer(), "abcdef.0123456789abcdef");
        assert!(
            !format!("{t:?}").contains("0123456789abcdef"),
            "debug redacts the secret"
        );
    }

    #[test]
    fn secure_server_token_and_agent_user() {
        let t = Token::parse(&format!("K10{HASH}::server:s3cret")).unwrap();
        assert_eq!(
            t.creds,
            Creds::Basic {
                username: "server".into(),
                password: "s3cret".into()
            }
        );
        let t = t.with_user("node");
        assert_eq!(
            t.creds,
            Creds::Basic {
                username: "node".into(),
                password: "s3cret".into()
            }
        );
        assert!(!format!("{t:?}").contains("s3cret"));
    }

    #[test]
    fn short_tokens() {
        let t = Token::parse("abcdef.0123456789abcdef").unwrap();
        assert_eq!(t.ca_hash, None);
        assert!(matches!(t.creds, Creds::Bootstrap(_)));
        // A bare password: empty user, as k3s's `K10:::` rewrite gives.
        let t = Token::parse("justapassword").unwrap();
        assert_eq!(
            t.creds,
            Creds::Basic {
                username: String::new(),
                password: "justapassword".into()
            }
        );
        // A K10 token with an empty hash.
        let t = Token::parse("K10::node:pw").unwrap();
        assert_eq!(t.ca_hash, None);
    }

    #[test]
    fn errors_are_k3s_wording() {
        assert_eq!(Token::parse(""), Err(TokenError::Empty));
        assert_eq!(
            Token::parse("K10abc::server:pw"),
            Err(TokenError::HashLength)
        );
        assert_eq!(
            TokenError::HashLength.to_string(),
            "invalid token CA hash length"
        );
        // Like k3s, a 64-character hash that is not hex parses; it just never matches a CA.
        let zz = "z".repeat(64);
        assert!(Token::parse(&format!("K10{zz}::server:pw")).is_ok());
        assert_eq!(
            Token::parse(&format!("K10{HASH}::server:")),
            Err(TokenError::Format)
        );
        assert_eq!(
            Token::parse(&format!("K10{HASH}::nocolon")),
            Err(TokenError::Format)
        );
        assert_eq!(TokenError::Format.to_string(), "invalid token format");
        // Not bootstrap-shaped (upper case): falls back to Basic, which needs a ':'.
        assert_eq!(
            Token::parse(&format!("K10{HASH}::ABCDEF.0123456789abcdef")),
            Err(TokenError::Format)
        );
    }

    #[test]
    fn bootstrap_shape() {
        assert!(BootstrapToken::parse("abcdef.0123456789abcdef").is_some());
        assert!(BootstrapToken::parse("abcde.0123456789abcdef").is_none());
        assert!(BootstrapToken::parse("abcdef.0123456789abcdeF").is_none());
        assert!(BootstrapToken::parse("abcdef0123456789abcdef").is_none());
        assert!(BootstrapToken::parse("abcdef.0123456789abcdefg").is_none());
    }

    fn ca(cn: &str) -> (rcgen::CertificateParams, rcgen::KeyPair, String) {
        let key = rcgen::KeyPair::generate().unwrap();
        let mut p = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        p.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        p.distinguished_name = rcgen::DistinguishedName::new();
        p.distinguished_name.push(rcgen::DnType::CommonName, cn);
        let pem = p.self_signed(&key).unwrap().pem();
        (p, key, pem)
    }

    #[test]
    fn hash_of_one_certificate_is_of_the_raw_pem_bytes() {
        let (_, _, pem) = ca("k3s-server-ca@1");
        let want = hex::encode(Sha256::digest(pem.as_bytes()));
        assert_eq!(hash_ca(pem.as_bytes()).unwrap(), want);
        // Different bytes (a trailing newline) give a different hash, as in k3s.
        let mut more = pem.clone();
        more.push('\n');
        assert_ne!(hash_ca(more.as_bytes()).unwrap(), want);
        let t = format_token("server:pw", pem.as_bytes()).unwrap();
        assert_eq!(t, format!("K10{want}::server:pw"));
        assert_eq!(Token::parse(&t).unwrap().check_ca(pem.as_bytes()), Ok(()));
        let (_, _, other) = ca("other");
        let (a, b) = Token::parse(&t)
            .unwrap()
            .check_ca(other.as_bytes())
            .unwrap_err();
        assert_eq!(a, want);
        assert_eq!(b, hash_ca(other.as_bytes()).unwrap());
    }

    #[test]
    fn hash_of_a_bundle_is_of_the_root_der() {
        let (root_params, root_key, root_pem) = ca("root");
        let issuer = rcgen::Issuer::new(root_params, root_key);
        let ikey = rcgen::KeyPair::generate().unwrap();
        let mut ip = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        ip.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        ip.distinguished_name = rcgen::DistinguishedName::new();
        ip.distinguished_name
            .push(rcgen::DnType::CommonName, "intermediate");
        let inter = ip.signed_by(&ikey, &issuer).unwrap();
        let bundle = format!("{}{}", inter.pem(), root_pem);
        let root_der = x509_parser::pem::parse_x509_pem(root_pem.as_bytes())
            .unwrap()
            .1
            .contents;
        assert_eq!(
            hash_ca(bundle.as_bytes()).unwrap(),
            hex::encode(Sha256::digest(&root_der))
        );
        assert_eq!(
            hash_ca(b"not a pem"),
            Err(CaHashError::NoCertificate("no CERTIFICATE block".into()))
        );
    }
}
