//! The server's certificates, kept where k3s keeps them (`DATA_DIR/server/tls`, see
//! `k3s-io/k3s:pkg/daemons/control/deps/deps.go`): a server CA that signs serving
//! certificates (its PEM is what `/cacerts` serves and what the token hash is taken over),
//! a client CA that signs client certificates (admin `O=system:masters`, kubelets
//! `CN=system:node:<name>, O=system:nodes`), and the shared legacy keys k3s hands to agents
//! that send no CSR (`client-kubelet.key`, `serving-kubelet.key`, `client-kube-proxy.key`,
//! `client-k3s-controller.key`).
//!
//! Keys are ECDSA P-256 (dynamiclistener's `NewPrivateKey`), CAs are valid 10 years and
//! leaf certificates 1 year (`certutil.NewSelfSignedCACert`, `NewSignedCert`). Key files
//! are 0600, certificates 0644, the folder 0700.

use std::fs;
use std::io::Write as _;
use std::net::IpAddr;
use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, PublicKeyData, SanType,
};

/// A PKI failure, naming the file.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PkiError {
    /// Reading or writing a file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A stored certificate or key does not parse.
    #[error("{path}: {message}: delete DATA_DIR/server/tls to start over with a new CA")]
    Parse {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// rcgen refused to build a certificate.
    #[error("cannot build certificate {what}: {source}")]
    Build {
        /// Which certificate.
        what: String,
        /// The cause.
        source: rcgen::Error,
    },
}

/// A CA: its PEM as written on disk and a signer.
pub struct Ca {
    /// The certificate PEM, byte for byte as stored (and served).
    pub pem: String,
    /// The CA certificate DER.
    pub der: Vec<u8>,
    issuer: Issuer<'static, KeyPair>,
}

impl std::fmt::Debug for Ca {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Ca(..)")
    }
}

/// A certificate with its key, both PEM.
#[derive(Clone)]
pub struct CertKey {
    /// Certificate PEM.
    pub cert_pem: String,
    /// Private key PEM (PKCS#8).
    pub key_pem: String,
}

impl std::fmt::Debug for CertKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CertKey(.., key redacted)")
    }
}

/// Everything in `server/tls`.
#[derive(Debug)]
pub struct Pki {
    /// `server-ca.crt` / `.key`.
    pub server_ca: Ca,
    /// `client-ca.crt` / `.key`.
    pub client_ca: Ca,
    /// The HTTPS serving certificate (`serving-kube-apiserver.crt` / `.key`).
    pub serving: CertKey,
    /// The admin client certificate (`client-admin.crt` / `.key`).
    pub admin: CertKey,
    /// `client-kube-proxy.crt` / `.key`.
    pub kube_proxy: CertKey,
    /// `client-k3s-controller.crt` / `.key`.
    pub k3s_controller: CertKey,
    /// Shared key for kubelet client certificates requested without a CSR (`client-kubelet.key`).
    pub client_kubelet_key: String,
    /// Shared key for kubelet serving certificates requested without a CSR (`serving-kubelet.key`).
    pub serving_kubelet_key: String,
}

/// Where a certificate signed for an agent gets its public key.
pub enum SubjectKey<'a> {
    /// One of the shared keys (PEM), for a GET without a CSR.
    Shared(&'a str),
    /// The key of a CSR the agent POSTed (DER).
    Csr(&'a [u8]),
}

impl Pki {
    /// Loads `dir`, creating what is missing (a fresh CA at first start). `sans` are the
    /// serving certificate's names and addresses; it is re-issued when they change.
    pub fn load_or_create(dir: &Path, sans: &[String]) -> Result<Self, PkiError> {
        fs::create_dir_all(dir).map_err(|e| io(dir, e))?;
        fs::set_permissions(dir, fs::Permissions::from_mode(0o700)).map_err(|e| io(dir, e))?;
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let server_ca = load_or_create_ca(dir, "server-ca", &format!("k3s-server-ca@{now}"))?;
        let client_ca = load_or_create_ca(dir, "client-ca", &format!("k3s-client-ca@{now}"))?;
        let serving = load_or_issue(
            dir,
            "serving-kube-apiserver",
            &server_ca,
            Some(sans),
            || LeafSpec {
                cn: "k3s".into(),
                orgs: vec!["k3s".into()],
                sans: sans.to_vec(),
                server: true,
            },
        )?;
        let admin = load_or_issue(dir, "client-admin", &client_ca, None, || {
            LeafSpec::client("system:admin", &["system:masters"])
        })?;
        let kube_proxy = load_or_issue(dir, "client-kube-proxy", &client_ca, None, || {
            LeafSpec::client("system:kube-proxy", &[])
        })?;
        let k3s_controller = load_or_issue(dir, "client-k3s-controller", &client_ca, None, || {
            LeafSpec::client("system:k3s-controller", &[])
        })?;
        let client_kubelet_key = load_or_create_key(dir, "client-kubelet")?;
        let serving_kubelet_key = load_or_create_key(dir, "serving-kubelet")?;
        Ok(Self {
            server_ca,
            client_ca,
            serving,
            admin,
            kube_proxy,
            k3s_controller,
            client_kubelet_key,
            serving_kubelet_key,
        })
    }

    /// A kubelet serving certificate, as `ServingKubeletCert` makes it: CN and DNS SAN the
    /// node name plus `localhost`, IP SANs 127.0.0.1 plus the node's IPs, server auth,
    /// signed by the server CA.
    pub fn sign_serving_kubelet(
        &self,
        node: &str,
        ips: &[IpAddr],
        key: SubjectKey<'_>,
    ) -> Result<String, PkiError> {
        let mut sans = vec![
            node.to_owned(),
            "localhost".to_owned(),
            "127.0.0.1".to_owned(),
        ];
        sans.extend(ips.iter().map(|ip| ip.to_string()));
        sign(
            &self.server_ca,
            &LeafSpec {
                cn: node.to_owned(),
                orgs: vec![],
                sans,
                server: true,
            },
            key,
        )
    }

    /// A client certificate signed by the client CA (`ClientKubeletCert` and friends).
    pub fn sign_client(
        &self,
        cn: &str,
        orgs: &[&str],
        key: SubjectKey<'_>,
    ) -> Result<String, PkiError> {
        sign(&self.client_ca, &LeafSpec::client(cn, orgs), key)
    }
}

struct LeafSpec {
    cn: String,
    orgs: Vec<String>,
    sans: Vec<String>,
    server: bool,
}

impl LeafSpec {
    fn client(cn: &str, orgs: &[&str]) -> Self {
        Self {
            cn: cn.to_owned(),
            orgs: orgs.iter().map(|o| (*o).to_owned()).collect(),
            sans: vec![],
            server: false,
        }
    }

    fn params(&self) -> Result<CertificateParams, PkiError> {
        let build = |source| PkiError::Build {
            what: self.cn.clone(),
            source,
        };
        let mut p = CertificateParams::default();
        p.subject_alt_names = self
            .sans
            .iter()
            .map(|s| match s.parse::<IpAddr>() {
                Ok(ip) => Ok(SanType::IpAddress(ip)),
                Err(_) => s.clone().try_into().map(SanType::DnsName),
            })
            .collect::<Result<_, _>>()
            .map_err(build)?;
        let mut dn = DistinguishedName::new();
        for o in &self.orgs {
            dn.push(DnType::OrganizationName, o.as_str());
        }
        dn.push(DnType::CommonName, self.cn.as_str());
        p.distinguished_name = dn;
        p.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyEncipherment,
        ];
        p.extended_key_usages = vec![if self.server {
            ExtendedKeyUsagePurpose::ServerAuth
        } else {
            ExtendedKeyUsagePurpose::ClientAuth
        }];
        p.use_authority_key_identifier_extension = true;
        let now = time::OffsetDateTime::now_utc();
        p.not_before = now - time::Duration::minutes(5);
        p.not_after = now + time::Duration::days(365);
        p.serial_number = Some(random_serial());
        Ok(p)
    }
}

fn random_serial() -> rcgen::SerialNumber {
    let mut b = [0u8; 16];
    getrandom::fill(&mut b).expect("the operating system provides random bytes");
    b[0] &= 0x7f;
    rcgen::SerialNumber::from_slice(&b)
}

fn sign(ca: &Ca, spec: &LeafSpec, key: SubjectKey<'_>) -> Result<String, PkiError> {
    let params = spec.params()?;
    let build = |source| PkiError::Build {
        what: spec.cn.clone(),
        source,
    };
    let cert = match key {
        SubjectKey::Shared(pem) => {
            let key = KeyPair::from_pem(pem).map_err(build)?;
            params.signed_by(&key, &ca.issuer).map_err(build)?
        }
        SubjectKey::Csr(der) => {
            let csr = rcgen::CertificateSigningRequestParams::from_der(&der.to_vec().into())
                .map_err(build)?;
            params
                .signed_by(&csr.public_key, &ca.issuer)
                .map_err(build)?
        }
    };
    Ok(cert.pem())
}

fn io(path: &Path, source: std::io::Error) -> PkiError {
    PkiError::Io {
        path: path.to_owned(),
        source,
    }
}

/// Writes `data` to `path` with `mode`, atomically (temp file, fsync, rename).
pub(crate) fn write_file(path: &Path, data: &[u8], mode: u32) -> Result<(), std::io::Error> {
    let tmp = path.with_extension(format!(
        "{}tmp",
        path.extension()
            .map(|e| format!("{}.", e.to_string_lossy()))
            .unwrap_or_default()
    ));
    let _ = fs::remove_file(&tmp);
    let mut f = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(&tmp)?;
    f.write_all(data)?;
    f.sync_all()?;
    drop(f);
    fs::set_permissions(&tmp, fs::Permissions::from_mode(mode))?;
    fs::rename(&tmp, path)?;
    if let Some(parent) = path.parent()
        && let Ok(d) = fs::File::open(parent)
    {
        let _ = d.sync_all();
    }
    Ok(())
}

fn read(path: &Path) -> Result<Option<String>, PkiError> {
    match fs::read_to_string(path) {
        Ok(s) => Ok(Some(s)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io(path, e)),
    }
}

fn parse_err(path: &Path, message: impl std::fmt::Display) -> PkiError {
    PkiError::Parse {
        path: path.to_owned(),
        message: message.to_string(),
    }
}

fn load_or_create_key(dir: &Path, name: &str) -> Result<String, PkiError> {
    let path = dir.join(format!("{name}.key"));
    if let Some(pem) = read(&path)? {
        KeyPair::from_pem(&pem).map_err(|e| parse_err(&path, e))?;
        return Ok(pem);
    }
    let key = KeyPair::generate().map_err(|source| PkiError::Build {
        what: name.into(),
        source,
    })?;
    let pem = key.serialize_pem();
    write_file(&path, pem.as_bytes(), 0o600).map_err(|e| io(&path, e))?;
    Ok(pem)
}

fn load_or_create_ca(dir: &Path, name: &str, cn: &str) -> Result<Ca, PkiError> {
    let cert_path = dir.join(format!("{name}.crt"));
    let key_path = dir.join(format!("{name}.key"));
    match (read(&cert_path)?, read(&key_path)?) {
        (Some(pem), Some(key_pem)) => {
            let key = KeyPair::from_pem(&key_pem).map_err(|e| parse_err(&key_path, e))?;
            let der = x509_parser::pem::parse_x509_pem(pem.as_bytes())
                .map_err(|e| parse_err(&cert_path, e))?
                .1
                .contents;
            let issuer = Issuer::from_ca_cert_der(&der.clone().into(), key)
                .map_err(|e| parse_err(&cert_path, e))?;
            Ok(Ca { pem, der, issuer })
        }
        (None, None) => {
            let key = KeyPair::generate().map_err(|source| PkiError::Build {
                what: cn.into(),
                source,
            })?;
            let mut p = CertificateParams::default();
            let mut dn = DistinguishedName::new();
            dn.push(DnType::CommonName, cn);
            p.distinguished_name = dn;
            p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
            p.key_usages = vec![
                KeyUsagePurpose::DigitalSignature,
                KeyUsagePurpose::KeyEncipherment,
                KeyUsagePurpose::KeyCertSign,
            ];
            let now = time::OffsetDateTime::now_utc();
            p.not_before = now - time::Duration::minutes(5);
            p.not_after = now + time::Duration::days(3650);
            p.serial_number = Some(random_serial());
            let cert = p.self_signed(&key).map_err(|source| PkiError::Build {
                what: cn.into(),
                source,
            })?;
            let pem = cert.pem();
            write_file(&key_path, key.serialize_pem().as_bytes(), 0o600)
                .map_err(|e| io(&key_path, e))?;
            write_file(&cert_path, pem.as_bytes(), 0o644).map_err(|e| io(&cert_path, e))?;
            let der = cert.der().to_vec();
            Ok(Ca {
                pem,
                der,
                issuer: Issuer::new(p, key),
            })
        }
        _ => Err(parse_err(
            &cert_path,
            format!("{name}.crt and {name}.key must both exist or both be absent"),
        )),
    }
}

/// Loads `<name>.crt`/`.key` if present, signed by `ca` and (for `sans`) naming exactly
/// those SANs; otherwise issues and writes a new pair.
fn load_or_issue(
    dir: &Path,
    name: &str,
    ca: &Ca,
    sans: Option<&[String]>,
    spec: impl FnOnce() -> LeafSpec,
) -> Result<CertKey, PkiError> {
    let cert_path = dir.join(format!("{name}.crt"));
    let key_path = dir.join(format!("{name}.key"));
    if let (Some(cert_pem), Some(key_pem)) = (read(&cert_path)?, read(&key_path)?) {
        let der = x509_parser::pem::parse_x509_pem(cert_pem.as_bytes())
            .map_err(|e| parse_err(&cert_path, e))?
            .1
            .contents;
        let (_, cert) =
            x509_parser::parse_x509_certificate(&der).map_err(|e| parse_err(&cert_path, e))?;
        let key = KeyPair::from_pem(&key_pem).map_err(|e| parse_err(&key_path, e))?;
        let (_, ca_cert) =
            x509_parser::parse_x509_certificate(&ca.der).map_err(|e| parse_err(&cert_path, e))?;
        let same_ca = cert.verify_signature(Some(ca_cert.public_key())).is_ok();
        let same_key = cert.public_key().subject_public_key.data.as_ref() == key.der_bytes();
        let same_sans = sans.is_none_or(|want| {
            let mut have: Vec<String> = cert
                .subject_alternative_name()
                .ok()
                .flatten()
                .map(|ext| {
                    ext.value
                        .general_names
                        .iter()
                        .filter_map(|n| match n {
                            x509_parser::extensions::GeneralName::DNSName(d) => {
                                Some((*d).to_owned())
                            }
                            x509_parser::extensions::GeneralName::IPAddress(b) => {
                                ip_from_bytes(b).map(|ip| ip.to_string())
                            }
                            _ => None,
                        })
                        .collect()
                })
                .unwrap_or_default();
            let mut want: Vec<String> = want.to_vec();
            have.sort();
            want.sort();
            want.dedup();
            have == want
        });
        if same_ca && same_key && same_sans && cert.validity().is_valid() {
            return Ok(CertKey { cert_pem, key_pem });
        }
    }
    let key = KeyPair::generate().map_err(|source| PkiError::Build {
        what: name.into(),
        source,
    })?;
    let key_pem = key.serialize_pem();
    let cert_pem = sign(ca, &spec(), SubjectKey::Shared(&key_pem))?;
    write_file(&key_path, key_pem.as_bytes(), 0o600).map_err(|e| io(&key_path, e))?;
    write_file(&cert_path, cert_pem.as_bytes(), 0o644).map_err(|e| io(&cert_path, e))?;
    Ok(CertKey { cert_pem, key_pem })
}

fn ip_from_bytes(b: &[u8]) -> Option<IpAddr> {
    match b.len() {
        4 => Some(IpAddr::from(<[u8; 4]>::try_from(b).ok()?)),
        16 => Some(IpAddr::from(<[u8; 16]>::try_from(b).ok()?)),
        _ => None,
    }
}
