//! `daas-k3s agent` joining `daas-k3s server`, both as real processes (built by
//! `daas_sandbox::testbin`) over 127.0.0.1 with real TLS and real `NOTIFY_SOCKET`
//! datagram sockets: the bootstrap token is minted through the Kubernetes API as
//! DESIGN §10 says; k3s's failure lines, intervals and recoveries; the node password;
//! Node re-creation and the deny-list policy; signals; the stand-in's `DAAS_K3S_*`
//! behaviours; and that the token stays out of the agent's argv, environment, log and
//! files.

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt as _;
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use daas_sandbox::testbin::{self, Guard};
use k8s_openapi::api::admissionregistration::v1::{
    MatchResources, NamedRuleWithOperations, ParamKind, ParamRef, ValidatingAdmissionPolicy,
    ValidatingAdmissionPolicyBinding, ValidatingAdmissionPolicyBindingSpec,
    ValidatingAdmissionPolicySpec, Validation,
};
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{ConfigMap, Node, Secret};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use kube::api::{Api, DeleteParams, PostParams};
use nix::sys::signal::Signal;

/// The validation of DESIGN §10's deny-list policy, verbatim.
const DENY_LIST: &str = "!has(params.data) || !(object.metadata.name in params.data)";
const POLICY: &str = "k8s-daas-revoked-nodes";
const JOIN: Duration = Duration::from_secs(60);

struct Cluster {
    _dir: tempfile::TempDir,
    _server: Guard,
    url: String,
    ca_hash: String,
    kube: kube::Client,
}

impl Cluster {
    async fn start() -> Cluster {
        let dir = tempfile::tempdir().unwrap();
        let mut cmd = Command::new(&testbin::binaries().k3s);
        cmd.args(["server", "--https-listen-port", "0", "--data-dir"])
            .arg(dir.path().join("k3s"))
            .env("DAAS_K3S_NODE_MONITOR_GRACE", "3s");
        let server = Guard::spawn(cmd).unwrap();
        let ready = server
            .logs()
            .wait_for("daas-k3s server is ready:", JOIN)
            .await;
        let field = |k: &str| {
            ready
                .split_whitespace()
                .find_map(|w| w.strip_prefix(k))
                .unwrap_or_else(|| panic!("{k} in {ready:?}"))
                .to_string()
        };
        let url = field("url=");
        let kubeconfig = PathBuf::from(field("kubeconfig="));
        let token = std::fs::read_to_string(field("token=")).unwrap();
        let ca_hash = token
            .trim()
            .strip_prefix("K10")
            .and_then(|t| t.split_once("::"))
            .map(|(h, _)| h.to_string())
            .unwrap();
        let kc = kube::config::Kubeconfig::read_from(&kubeconfig).unwrap();
        let config =
            kube::Config::from_custom_kubeconfig(kc, &kube::config::KubeConfigOptions::default())
                .await
                .unwrap();
        let kube = kube::Client::try_from(config).unwrap();
        Cluster {
            _dir: dir,
            _server: server,
            url,
            ca_hash,
            kube,
        }
    }

    fn secrets(&self) -> Api<Secret> {
        Api::namespaced(self.kube.clone(), "kube-system")
    }

    fn nodes(&self) -> Api<Node> {
        Api::all(self.kube.clone())
    }

    /// Mints a bootstrap token exactly as DESIGN §10 has the master do it, valid for
    /// `ttl` (negative: already expired); returns `K10<hash>::<id>.<secret>`.
    async fn mint(&self, node_id: &str, ttl_secs: i64) -> String {
        let (id, secret) = (random_token_chars(6), random_token_chars(16));
        self.secrets()
            .create(
                &PostParams::default(),
                &bootstrap_secret(&id, &secret, node_id, ttl_secs),
            )
            .await
            .unwrap();
        format!("K10{}::{id}.{secret}", self.ca_hash)
    }

    async fn node(&self, name: &str) -> Option<Node> {
        self.nodes().get_opt(name).await.unwrap()
    }

    async fn wait_node_ready(&self, name: &str) -> Node {
        let deadline = Instant::now() + JOIN;
        loop {
            if let Some(n) = self.node(name).await
                && ready_status(&n).as_deref() == Some("True")
            {
                return n;
            }
            assert!(Instant::now() < deadline, "node {name} not Ready in time");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

fn ready_condition(n: &Node) -> Option<k8s_openapi::api::core::v1::NodeCondition> {
    n.status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|c| c.type_ == "Ready")
        .cloned()
}

fn ready_status(n: &Node) -> Option<String> {
    ready_condition(n).map(|c| c.status)
}

fn random_token_chars(n: usize) -> String {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let mut b = vec![0u8; n];
    getrandom::fill(&mut b).unwrap();
    b.iter()
        .map(|x| ALPHABET[*x as usize % ALPHABET.len()] as char)
        .collect()
}

fn bootstrap_secret(id: &str, secret: &str, node_id: &str, ttl_secs: i64) -> Secret {
    let expiration = k8s_openapi::jiff::Timestamp::now()
        .checked_add(k8s_openapi::jiff::SignedDuration::from_secs(ttl_secs))
        .unwrap()
        .strftime("%Y-%m-%dT%H:%M:%SZ")
        .to_string();
    let data: BTreeMap<String, String> = [
        ("token-id", id),
        ("token-secret", secret),
        ("expiration", &expiration),
        ("usage-bootstrap-authentication", "true"),
        ("usage-bootstrap-signing", "true"),
        (
            "auth-extra-groups",
            "system:bootstrappers:k3s:default-node-token",
        ),
        ("description", &format!("k8s-daas {node_id}")),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    Secret {
        metadata: ObjectMeta {
            name: Some(format!("bootstrap-token-{id}")),
            namespace: Some("kube-system".into()),
            labels: Some(
                [
                    ("k8s-daas.io/node-id".to_string(), node_id.to_string()),
                    ("k8s-daas.io/token-version".to_string(), "1".to_string()),
                ]
                .into(),
            ),
            annotations: Some(
                [(
                    "k8s-daas.io/worker-id".to_string(),
                    format!("0x{}", "ab".repeat(32)),
                )]
                .into(),
            ),
            ..Default::default()
        },
        type_: Some("bootstrap.kubernetes.io/token".into()),
        string_data: Some(data),
        ..Default::default()
    }
}

/// One device: its own folder (token file, node password, data dir) and notify socket.
struct Device {
    dir: tempfile::TempDir,
    notify: UnixDatagram,
}

impl Device {
    fn new() -> Device {
        let dir = tempfile::tempdir().unwrap();
        let notify = UnixDatagram::bind(dir.path().join("notify.sock")).unwrap();
        notify.set_nonblocking(true).unwrap();
        Device { dir, notify }
    }

    fn token_file(&self) -> PathBuf {
        self.dir.path().join("run/token")
    }

    fn password_file(&self) -> PathBuf {
        self.dir.path().join("etc/rancher/node/password")
    }

    fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn write_token(&self, token: &str) {
        let path = self.token_file();
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, format!("{token}\n")).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    }

    fn agent(&self, c: &Cluster, name: &str, extra: &[&str], env: &[(&str, &str)]) -> Guard {
        let mut cmd = Command::new(&testbin::binaries().k3s);
        cmd.arg("agent")
            .args(["--server", &c.url, "--node-name", name, "--token-file"])
            .arg(self.token_file())
            .arg("--data-dir")
            .arg(self.data_dir())
            .args(extra)
            .env_remove("K3S_TOKEN")
            .env_remove("K3S_URL")
            .env("DAAS_K3S_NODE_PASSWORD_FILE", self.password_file())
            .env("NOTIFY_SOCKET", self.dir.path().join("notify.sock"))
            .env("DAAS_K3S_LEASE_RENEW_INTERVAL", "500ms")
            .env("DAAS_K3S_NODE_STATUS_INTERVAL", "500ms");
        for (k, v) in env {
            cmd.env(k, v);
        }
        Guard::spawn(cmd).unwrap()
    }

    /// Waits for the datagram `READY=1\n` on this device's notify socket.
    async fn wait_ready(&self, agent: &Guard) {
        let mut buf = [0u8; 256];
        let got = testbin::wait_until(JOIN, "READY=1 on NOTIFY_SOCKET", || {
            match self.notify.recv(&mut buf) {
                Ok(n) => Some(buf[..n].to_vec()),
                Err(_) => None,
            }
        })
        .await
        .unwrap_or_else(|e| panic!("{e}; agent output:\n{}", agent.logs().text()));
        assert_eq!(got, b"READY=1\n");
    }

    fn no_ready_yet(&self) -> bool {
        let mut buf = [0u8; 256];
        self.notify.recv(&mut buf).is_err()
    }
}

async fn still_running(agent: &mut Guard) {
    assert!(
        agent.try_wait().unwrap().is_none(),
        "the agent exited; k3s never exits on a join failure:\n{}",
        agent.logs().text()
    );
}

/// Seconds between the arrivals of the first two lines containing `needle`.
async fn gap_between_two(agent: &Guard, needle: &str, timeout: Duration) -> Duration {
    agent.logs().wait_for(needle, timeout).await;
    let first = Instant::now();
    agent.logs().wait_for_nth(needle, 2, timeout).await;
    first.elapsed()
}

fn secret_part(token: &str) -> String {
    token.rsplit('.').next().unwrap().to_string()
}

fn assert_token_absent(agent: &Guard, device: &Device, token: &str) {
    let secret = secret_part(token);
    let pid = agent.pid();
    for f in ["cmdline", "environ"] {
        let bytes = std::fs::read(format!("/proc/{pid}/{f}")).unwrap();
        assert!(
            !String::from_utf8_lossy(&bytes).contains(&secret),
            "the token is in /proc/{pid}/{f}"
        );
    }
    assert!(
        !agent.logs().text().contains(&secret),
        "the token is in the agent's log"
    );
    for entry in walk(&device.data_dir()) {
        let bytes = std::fs::read(&entry).unwrap();
        assert!(
            !String::from_utf8_lossy(&bytes).contains(&secret),
            "the token is in {}",
            entry.display()
        );
    }
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

#[tokio::test]
async fn joins_with_a_minted_token_and_stays_joined_after_it_is_deleted() {
    let c = Cluster::start().await;
    let d = Device::new();
    // k3s waits for a token file that is not there yet.
    let mut agent = d.agent(&c, "pi-join", &["--node-label", "fleet/owner=0xab"], &[]);
    agent
        .logs()
        .wait_for(
            &format!(
                "level=info msg=\"Waiting for {} to be available\\n\"",
                d.token_file().display()
            ),
            JOIN,
        )
        .await;
    let token = c.mint("pi-join", 3600).await;
    d.write_token(&token);
    d.wait_ready(&agent).await;
    agent
        .logs()
        .wait_for("level=info msg=\"k3s agent is up and running\"", JOIN)
        .await;

    let node = c.wait_node_ready("pi-join").await;
    let labels = node.metadata.labels.clone().unwrap();
    assert_eq!(labels["kubernetes.io/hostname"], "pi-join");
    assert_eq!(labels["fleet/owner"], "0xab");
    assert!(node.status.as_ref().unwrap().node_info.is_some());

    // The node-password Secret the server made matches the file the agent created.
    let password = std::fs::read_to_string(d.password_file()).unwrap();
    assert_eq!(password.trim().len(), 32);
    assert_eq!(mode(&d.password_file()), 0o600);
    assert_eq!(mode(d.password_file().parent().unwrap()), 0o700);
    let pw_secret = c.secrets().get("pi-join.node-password.k3s").await.unwrap();
    let hash = String::from_utf8(pw_secret.data.unwrap()["hash"].0.clone()).unwrap();
    daas_sandbox::k3s::nodepassword::verify_hash(&hash, password.trim()).unwrap();

    // Keys stay 0600 in the data dir; the Lease is renewed.
    for key in ["client-kubelet.key", "serving-kubelet.key"] {
        assert_eq!(mode(&d.data_dir().join("agent").join(key)), 0o600, "{key}");
    }
    let leases: Api<Lease> = Api::namespaced(c.kube.clone(), "kube-node-lease");
    let renew = |l: Lease| l.spec.and_then(|s| s.renew_time).map(|t| t.0);
    let t1 = renew(leases.get("pi-join").await.unwrap()).unwrap();
    let deadline = Instant::now() + JOIN;
    loop {
        let t2 = renew(leases.get("pi-join").await.unwrap()).unwrap();
        if t2 > t1 {
            break;
        }
        assert!(Instant::now() < deadline, "lease not renewed");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_token_absent(&agent, &d, &token);

    // The master deletes the bootstrap token once the Node is Ready: heartbeats go on.
    let id = token.split("::").nth(1).unwrap().split('.').next().unwrap();
    c.secrets()
        .delete(&format!("bootstrap-token-{id}"), &DeleteParams::default())
        .await
        .unwrap();
    let before = ready_condition(&c.node("pi-join").await.unwrap())
        .unwrap()
        .last_heartbeat_time
        .unwrap()
        .0;
    let deadline = Instant::now() + JOIN;
    loop {
        let n = c.node("pi-join").await.unwrap();
        let hb = ready_condition(&n).unwrap().last_heartbeat_time.unwrap().0;
        if hb > before && ready_status(&n).as_deref() == Some("True") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no heartbeat after the token was deleted"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // SIGTERM: exit 0. A restart with the (now deleted) token joins with its client
    // certificate.
    agent.signal(Signal::SIGTERM).unwrap();
    let status = agent
        .wait_exit(Duration::from_secs(10), "agent after SIGTERM")
        .await;
    assert_eq!(status.code(), Some(0));
    let agent = d.agent(&c, "pi-join", &[], &[]);
    d.wait_ready(&agent).await;
    assert_eq!(
        agent
            .logs()
            .count("Waiting to retrieve agent configuration"),
        0,
        "{}",
        agent.logs().text()
    );
    c.wait_node_ready("pi-join").await;
    assert_token_absent(&agent, &d, &token);
}

#[tokio::test]
async fn ca_hash_mismatch_is_retried_every_2s_until_a_good_token_is_given() {
    let c = Cluster::start().await;
    let d = Device::new();
    let good = c.mint("pi-ca", 3600).await;
    let wrong_hash = "0".repeat(64);
    let bad = good.replacen(&c.ca_hash, &wrong_hash, 1);
    d.write_token(&bad);
    let mut agent = d.agent(&c, "pi-ca", &[], &[]);
    let line = format!(
        "level=error msg=\"Failed to validate connection to cluster at {}: token CA hash does not match the Cluster CA certificate hash: {wrong_hash} != {}\"",
        c.url, c.ca_hash
    );
    let gap = gap_between_two(&agent, &line, JOIN).await;
    assert!(
        gap >= Duration::from_millis(1500) && gap <= Duration::from_secs(5),
        "{gap:?}"
    );
    still_running(&mut agent).await;
    assert!(d.no_ready_yet());
    assert!(c.node("pi-ca").await.is_none());

    // k3s reads its token file once: the fix is a restart with a good token.
    agent.signal(Signal::SIGTERM).unwrap();
    agent.wait_exit(Duration::from_secs(10), "agent").await;
    d.write_token(&good);
    let agent = d.agent(&c, "pi-ca", &[], &[]);
    d.wait_ready(&agent).await;
    c.wait_node_ready("pi-ca").await;
}

#[tokio::test]
async fn an_unknown_token_gets_401_every_5_to_10s_until_its_secret_exists() {
    let c = Cluster::start().await;
    let d = Device::new();
    let (id, secret) = (random_token_chars(6), random_token_chars(16));
    let token = format!("K10{}::{id}.{secret}", c.ca_hash);
    d.write_token(&token);
    let mut agent = d.agent(&c, "pi-401", &[], &[]);
    let line = format!(
        "level=info msg=\"Waiting to retrieve agent configuration; server is not ready: failed to retrieve configuration from server: {}/v1-k3s/config: 401 Unauthorized\"",
        c.url
    );
    let gap = gap_between_two(&agent, &line, JOIN).await;
    assert!(
        gap >= Duration::from_millis(4500) && gap <= Duration::from_millis(10_500),
        "{gap:?}"
    );
    still_running(&mut agent).await;
    assert!(c.node("pi-401").await.is_none());

    // Creating the Secret server-side fixes it without a restart.
    c.secrets()
        .create(
            &PostParams::default(),
            &bootstrap_secret(&id, &secret, "pi-401", 3600),
        )
        .await
        .unwrap();
    d.wait_ready(&agent).await;
    c.wait_node_ready("pi-401").await;
    assert_token_absent(&agent, &d, &token);
}

#[tokio::test]
async fn an_expired_token_never_joins_and_a_fresh_one_does() {
    let c = Cluster::start().await;
    let d = Device::new();
    let expired = c.mint("pi-exp", -60).await;
    d.write_token(&expired);
    let mut agent = d.agent(&c, "pi-exp", &[], &[]);
    agent
        .logs()
        .wait_for("/v1-k3s/config: 401 Unauthorized\"", JOIN)
        .await;
    still_running(&mut agent).await;
    assert!(c.node("pi-exp").await.is_none());
    agent.signal(Signal::SIGINT).unwrap();
    assert_eq!(
        agent
            .wait_exit(Duration::from_secs(10), "agent")
            .await
            .code(),
        Some(0)
    );
    d.write_token(&c.mint("pi-exp", 3600).await);
    let agent = d.agent(&c, "pi-exp", &[], &[]);
    d.wait_ready(&agent).await;
}

#[tokio::test]
async fn a_second_device_claiming_the_name_is_rejected_until_it_uses_a_node_id() {
    let c = Cluster::start().await;
    let a = Device::new();
    a.write_token(&c.mint("pi-dup", 3600).await);
    let agent_a = a.agent(&c, "pi-dup", &[], &[]);
    a.wait_ready(&agent_a).await;

    let b = Device::new();
    b.write_token(&c.mint("pi-dup", 3600).await);
    let mut agent_b = b.agent(&c, "pi-dup", &[], &[]);
    let line = format!(
        "level=info msg=\"Waiting to retrieve agent configuration; server is not ready: {}: Node password rejected, duplicate hostname or contents of '{}' may not match server node-passwd entry, try enabling a unique node name with the --with-node-id flag\"",
        b.data_dir().join("agent/serving-kubelet.crt").display(),
        b.password_file().display()
    );
    agent_b.logs().wait_for(&line, JOIN).await;
    still_running(&mut agent_b).await;
    assert!(b.no_ready_yet());
    c.wait_node_ready("pi-dup").await;

    // k3s's advice works: --with-node-id appends the id kept beside the password.
    agent_b.signal(Signal::SIGTERM).unwrap();
    agent_b.wait_exit(Duration::from_secs(10), "agent b").await;
    let agent_b = b.agent(&c, "pi-dup", &["--with-node-id"], &[]);
    b.wait_ready(&agent_b).await;
    let id = std::fs::read_to_string(b.dir.path().join("etc/rancher/node/id")).unwrap();
    let id = id.trim();
    assert_eq!(id.len(), 8);
    c.wait_node_ready(&format!("pi-dup-{id}")).await;
}

#[tokio::test]
async fn a_deleted_node_is_registered_again() {
    let c = Cluster::start().await;
    let d = Device::new();
    d.write_token(&c.mint("pi-del", 3600).await);
    let agent = d.agent(&c, "pi-del", &[], &[]);
    d.wait_ready(&agent).await;
    let uid = c.wait_node_ready("pi-del").await.metadata.uid.unwrap();
    c.nodes()
        .delete("pi-del", &DeleteParams::default())
        .await
        .unwrap();
    agent
        .logs()
        .wait_for_nth("\"Successfully registered node\" node=\"pi-del\"", 2, JOIN)
        .await;
    let again = c.wait_node_ready("pi-del").await;
    assert_ne!(again.metadata.uid.unwrap(), uid);
}

fn deny_list_policy() -> (ValidatingAdmissionPolicy, ValidatingAdmissionPolicyBinding) {
    let rule = NamedRuleWithOperations {
        api_groups: Some(vec![String::new()]),
        api_versions: Some(vec!["v1".into()]),
        operations: Some(vec!["CREATE".into(), "UPDATE".into()]),
        resources: Some(vec!["nodes".into()]),
        ..Default::default()
    };
    let policy = ValidatingAdmissionPolicy {
        metadata: ObjectMeta {
            name: Some(POLICY.into()),
            ..Default::default()
        },
        spec: Some(ValidatingAdmissionPolicySpec {
            failure_policy: Some("Fail".into()),
            param_kind: Some(ParamKind {
                api_version: Some("v1".into()),
                kind: Some("ConfigMap".into()),
            }),
            match_constraints: Some(MatchResources {
                resource_rules: Some(vec![rule]),
                ..Default::default()
            }),
            validations: Some(vec![Validation {
                expression: DENY_LIST.into(),
                message: Some("node name is revoked by k8s-daas".into()),
                ..Default::default()
            }]),
            ..Default::default()
        }),
        status: None,
    };
    let binding = ValidatingAdmissionPolicyBinding {
        metadata: ObjectMeta {
            name: Some(POLICY.into()),
            ..Default::default()
        },
        spec: Some(ValidatingAdmissionPolicyBindingSpec {
            policy_name: Some(POLICY.into()),
            param_ref: Some(ParamRef {
                namespace: Some("kube-system".into()),
                selector: Some(LabelSelector {
                    match_labels: Some(
                        [("k8s-daas.io/revoked-nodes".to_string(), "true".to_string())].into(),
                    ),
                    ..Default::default()
                }),
                parameter_not_found_action: Some("Allow".into()),
                ..Default::default()
            }),
            validation_actions: Some(vec!["Deny".into()]),
            ..Default::default()
        }),
    };
    (policy, binding)
}

#[tokio::test]
async fn the_deny_list_stops_re_registration_and_the_denial_is_logged() {
    // DESIGN §10 is the source of the expression; check it is still what it says.
    let design = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/DESIGN.md");
    match std::fs::read_to_string(&design) {
        Ok(text) => assert!(
            text.contains(&format!("`{DENY_LIST}`")),
            "DESIGN §10 changed"
        ),
        Err(_) if std::env::var("CI").is_ok_and(|v| v == "true") => {
            panic!(
                "{} not found: CI needs shared/ next to the checkout",
                design.display()
            )
        }
        Err(_) => testbin::skipped("DESIGN.md not found (checking the deny-list text)"),
    }
    let c = Cluster::start().await;
    let d = Device::new();
    d.write_token(&c.mint("pi-rev", 3600).await);
    let agent = d.agent(&c, "pi-rev", &[], &[]);
    d.wait_ready(&agent).await;
    c.wait_node_ready("pi-rev").await;

    let (policy, binding) = deny_list_policy();
    Api::<ValidatingAdmissionPolicy>::all(c.kube.clone())
        .create(&PostParams::default(), &policy)
        .await
        .unwrap();
    Api::<ValidatingAdmissionPolicyBinding>::all(c.kube.clone())
        .create(&PostParams::default(), &binding)
        .await
        .unwrap();
    let shard = ConfigMap {
        metadata: ObjectMeta {
            name: Some("k8s-daas-revoked-0".into()),
            namespace: Some("kube-system".into()),
            labels: Some([("k8s-daas.io/revoked-nodes".to_string(), "true".to_string())].into()),
            ..Default::default()
        },
        data: Some([("pi-rev".to_string(), String::new())].into()),
        ..Default::default()
    };
    Api::<ConfigMap>::namespaced(c.kube.clone(), "kube-system")
        .create(&PostParams::default(), &shard)
        .await
        .unwrap();
    c.nodes()
        .delete("pi-rev", &DeleteParams::default())
        .await
        .unwrap();

    let denial = agent
        .logs()
        .wait_for_nth("\"Unable to register node with API server\"", 2, JOIN)
        .await;
    assert!(denial.starts_with('E'), "{denial}");
    assert!(denial.contains(POLICY), "{denial}");
    assert!(denial.contains("node=\"pi-rev\""), "{denial}");
    assert!(c.node("pi-rev").await.is_none());
}

#[tokio::test]
async fn a_second_signal_exits_1_and_the_stand_in_behaviours_work() {
    let c = Cluster::start().await;
    let d = Device::new();
    d.write_token(&c.mint("pi-sig", 3600).await);

    // A slow stop: the second signal ends it with 1, as k3s's pkg/signals.
    let mut agent = d.agent(&c, "pi-sig", &[], &[("DAAS_K3S_STOP_DELAY", "60s")]);
    d.wait_ready(&agent).await;
    agent.signal(Signal::SIGTERM).unwrap();
    agent.logs().wait_for("DAAS_K3S_STOP_DELAY", JOIN).await;
    agent.signal(Signal::SIGINT).unwrap();
    let status = agent.wait_exit(Duration::from_secs(10), "agent").await;
    assert_eq!(status.code(), Some(1));
    assert_eq!(
        agent
            .logs()
            .count("msg=\"Second shutdown signal received: interrupt, exiting...\""),
        1
    );

    // DAAS_K3S_IGNORE_SIGTERM: SIGTERM does nothing, SIGINT stops (0).
    let mut agent = d.agent(&c, "pi-sig", &[], &[("DAAS_K3S_IGNORE_SIGTERM", "1")]);
    d.wait_ready(&agent).await;
    agent.signal(Signal::SIGTERM).unwrap();
    agent.logs().wait_for("ignoring SIGTERM", JOIN).await;
    still_running(&mut agent).await;
    agent.signal(Signal::SIGINT).unwrap();
    assert_eq!(
        agent
            .wait_exit(Duration::from_secs(10), "agent")
            .await
            .code(),
        Some(0)
    );

    // DAAS_K3S_EXIT_AFTER + DAAS_K3S_EXIT_CODE: a crash after a given time.
    let started = Instant::now();
    let mut agent = d.agent(
        &c,
        "pi-sig",
        &[],
        &[("DAAS_K3S_EXIT_AFTER", "1s"), ("DAAS_K3S_EXIT_CODE", "3")],
    );
    let status = agent
        .wait_exit(JOIN, "agent with DAAS_K3S_EXIT_AFTER")
        .await;
    assert_eq!(status.code(), Some(3));
    assert!(started.elapsed() >= Duration::from_secs(1));

    // DAAS_K3S_READY_DELAY: READY=1 comes that much after the Node is registered.
    // (Checked by order, not by a stopwatch: a loaded machine may see the registration
    // line late, but not 3 s late.)
    // The crashing agent above may have sent its READY=1 before it exited: drop it.
    while !d.no_ready_yet() {}
    let agent = d.agent(&c, "pi-sig", &[], &[("DAAS_K3S_READY_DELAY", "3s")]);
    agent
        .logs()
        .wait_for("\"Successfully registered node\"", JOIN)
        .await;
    assert!(
        d.no_ready_yet(),
        "READY=1 came with the registration despite DAAS_K3S_READY_DELAY"
    );
    d.wait_ready(&agent).await;
}
