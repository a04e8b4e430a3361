//! `daas-k3s server` over real TLS on 127.0.0.1: kube-rs as the master will use it,
//! k3s's join endpoints with a bootstrap token minted as DESIGN §10 says, the deny-list
//! admission policy of §10 loaded verbatim, restart, the real binary and kubectl.

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;
use std::time::Duration;

use daas_sandbox::k3s::server::{K3sServer, ServerConfig};
use futures::{StreamExt as _, TryStreamExt as _};
use k8s_openapi::api::admissionregistration::v1::{
    ValidatingAdmissionPolicy, ValidatingAdmissionPolicyBinding,
};
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{ConfigMap, Node, Secret};
use kube::api::{
    Api, DeleteParams, ListParams, Patch, PatchParams, PostParams, WatchEvent, WatchParams,
};
use serde_json::{Value, json};

const DENY_LIST: &str = "!has(params.data) || !(object.metadata.name in params.data)";

struct Running {
    server: K3sServer,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Running {
    async fn stop(mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        self.server.wait().await.unwrap();
    }
}

async fn start_with(dir: &Path, tweak: impl FnOnce(&mut ServerConfig)) -> Running {
    let mut config = ServerConfig::new(dir.to_owned());
    config.https_listen_port = 0;
    config.bookmark_interval = Duration::from_millis(500);
    tweak(&mut config);
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let server = K3sServer::start(config, async {
        let _ = rx.await;
    })
    .await
    .unwrap();
    Running {
        server,
        stop: Some(tx),
    }
}

async fn start(dir: &Path) -> Running {
    start_with(dir, |_| {}).await
}

async fn kube_client(kubeconfig: &Path) -> kube::Client {
    let kc = kube::config::Kubeconfig::read_from(kubeconfig).unwrap();
    let config =
        kube::Config::from_custom_kubeconfig(kc, &kube::config::KubeConfigOptions::default())
            .await
            .unwrap();
    kube::Client::try_from(config).unwrap()
}

fn https(ca_pem: &str, identity: Option<&str>) -> reqwest::Client {
    let mut b = reqwest::Client::builder()
        .use_rustls_tls()
        .tls_built_in_root_certs(false)
        .add_root_certificate(reqwest::Certificate::from_pem(ca_pem.as_bytes()).unwrap());
    if let Some(pem) = identity {
        b = b.identity(reqwest::Identity::from_pem(pem.as_bytes()).unwrap());
    }
    b.build().unwrap()
}

fn b64(s: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(s)
}

/// The Secret DESIGN §10 has the master create: what `k3s token create` makes, plus the
/// k8s-daas labels and annotation.
fn bootstrap_secret(
    id: &str,
    secret: &str,
    expiration: &str,
    node_id: &str,
    usage_auth: bool,
) -> Secret {
    let mut data = BTreeMap::new();
    data.insert("token-id".to_owned(), id.to_owned());
    data.insert("token-secret".to_owned(), secret.to_owned());
    data.insert("expiration".to_owned(), expiration.to_owned());
    if usage_auth {
        data.insert(
            "usage-bootstrap-authentication".to_owned(),
            "true".to_owned(),
        );
    }
    data.insert("usage-bootstrap-signing".to_owned(), "true".to_owned());
    data.insert(
        "auth-extra-groups".to_owned(),
        "system:bootstrappers:k3s:default-node-token".to_owned(),
    );
    data.insert("description".to_owned(), format!("k8s-daas {node_id}"));
    serde_json::from_value(json!({
        "metadata": {
            "name": format!("bootstrap-token-{id}"),
            "namespace": "kube-system",
            "labels": { "k8s-daas.io/node-id": node_id, "k8s-daas.io/token-version": "1" },
            "annotations": { "k8s-daas.io/worker-id": "0x00000000000000000000000000000000000000000000000000000000000000aa" },
        },
        "type": "bootstrap.kubernetes.io/token",
        "stringData": data,
    }))
    .unwrap()
}

fn in_an_hour() -> String {
    (jiff::Timestamp::now() + jiff::SignedDuration::from_secs(3600))
        .strftime("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

fn an_hour_ago() -> String {
    (jiff::Timestamp::now() - jiff::SignedDuration::from_secs(3600))
        .strftime("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

fn status_of(e: kube::Error) -> kube::core::Status {
    match e {
        kube::Error::Api(s) => *s,
        other => panic!("expected an API Status error, got {other:?}"),
    }
}

/// Polls `check` until it holds, failing with `what` after 15 s.
async fn eventually<F: std::future::Future<Output = bool>>(
    what: &str,
    mut check: impl FnMut() -> F,
) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    while !check().await {
        assert!(tokio::time::Instant::now() < deadline, "{what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

#[tokio::test]
async fn files_are_written_as_k3s_writes_them() {
    let dir = tempfile::tempdir().unwrap();
    let k = start(dir.path()).await;
    let server = dir.path().join("server");
    let token = std::fs::read_to_string(server.join("token")).unwrap();
    assert_eq!(token.trim(), k.server.token);
    let t = daas_sandbox::k3s::token::Token::parse(token.trim()).unwrap();
    assert_eq!(t.check_ca(k.server.ca_pem.as_bytes()), Ok(()));
    assert!(token.trim().contains("::server:"));
    assert_eq!(mode(&server.join("token")), 0o600);
    assert_eq!(
        std::fs::read_link(server.join("node-token")).unwrap(),
        Path::new("token")
    );
    assert_eq!(mode(&server.join("cred/passwd")), 0o600);
    assert_eq!(mode(&server.join("tls/server-ca.key")), 0o600);
    assert_eq!(mode(&server.join("tls/client-ca.key")), 0o600);
    assert_eq!(mode(&server.join("tls")), 0o700);
    assert_eq!(mode(&k.server.kubeconfig), 0o600);
    assert_eq!(
        std::fs::read_to_string(server.join("port")).unwrap().trim(),
        k.server.addr.port().to_string()
    );
    let kc = std::fs::read_to_string(&k.server.kubeconfig).unwrap();
    for want in [
        "name: default",
        "current-context: default",
        "certificate-authority-data:",
        "client-key-data:",
    ] {
        assert!(kc.contains(want), "{want} in {kc}");
    }
    // /cacerts needs no credentials and serves exactly the CA the token hashes.
    let cacerts = https(&k.server.ca_pem, None)
        .get(format!("{}/cacerts", k.server.url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(cacerts, k.server.ca_pem);
    k.stop().await;
}

#[tokio::test]
async fn secrets_crud_selectors_patch_and_status_errors() {
    let dir = tempfile::tempdir().unwrap();
    let k = start(dir.path()).await;
    let client = kube_client(&k.server.kubeconfig).await;
    let secrets: Api<Secret> = Api::namespaced(client.clone(), "kube-system");
    let pp = PostParams::default();
    let a = secrets
        .create(
            &pp,
            &bootstrap_secret("abcdef", "0123456789abcdef", &in_an_hour(), "rpi-a", true),
        )
        .await
        .unwrap();
    assert_eq!(a.metadata.name.as_deref(), Some("bootstrap-token-abcdef"));
    assert!(a.metadata.uid.is_some() && a.metadata.creation_timestamp.is_some());
    assert!(a.string_data.is_none(), "stringData is folded into data");
    assert_eq!(
        a.data.as_ref().unwrap()["token-secret"].0,
        b"0123456789abcdef"
    );
    secrets
        .create(
            &pp,
            &bootstrap_secret("bcdefg", "0123456789abcdef", &in_an_hour(), "rpi-b", true),
        )
        .await
        .unwrap();
    let plain: Secret =
        serde_json::from_value(json!({"metadata": {"name": "plain"}, "data": {"k": b64("v")}}))
            .unwrap();
    secrets.create(&pp, &plain).await.unwrap();

    // Label and field selectors.
    let names = |l: kube::core::ObjectList<Secret>| -> Vec<String> {
        l.items
            .into_iter()
            .filter_map(|s| s.metadata.name)
            .collect()
    };
    let by_node = secrets
        .list(&ListParams::default().labels("k8s-daas.io/node-id=rpi-b"))
        .await
        .unwrap();
    assert_eq!(names(by_node), ["bootstrap-token-bcdefg"]);
    let by_set = secrets
        .list(
            &ListParams::default()
                .labels("k8s-daas.io/node-id in (rpi-a,rpi-z),k8s-daas.io/token-version"),
        )
        .await
        .unwrap();
    assert_eq!(names(by_set), ["bootstrap-token-abcdef"]);
    let not_b = secrets
        .list(&ListParams::default().labels("k8s-daas.io/node-id!=rpi-b"))
        .await
        .unwrap();
    assert_eq!(names(not_b), ["bootstrap-token-abcdef", "plain"]);
    let notin = secrets
        .list(&ListParams::default().labels("k8s-daas.io/node-id notin (rpi-a)"))
        .await
        .unwrap();
    assert_eq!(names(notin), ["bootstrap-token-bcdefg", "plain"]);
    let tokens = secrets
        .list(&ListParams::default().fields("type=bootstrap.kubernetes.io/token"))
        .await
        .unwrap();
    assert_eq!(tokens.items.len(), 2);
    let one = secrets
        .list(&ListParams::default().fields("metadata.name=plain"))
        .await
        .unwrap();
    assert_eq!(names(one), ["plain"]);
    let bad = status_of(
        secrets
            .list(&ListParams::default().fields("spec.foo=1"))
            .await
            .unwrap_err(),
    );
    assert_eq!(
        (bad.code, bad.message.as_str()),
        (400, "field label not supported: spec.foo")
    );
    // Paging as kube-runtime's watcher pages (limit + continue).
    let page = secrets.list(&ListParams::default().limit(2)).await.unwrap();
    assert_eq!(page.items.len(), 2);
    let cont = page.metadata.continue_.clone().unwrap();
    let rest = secrets
        .list(&ListParams::default().limit(2).continue_token(&cont))
        .await
        .unwrap();
    assert_eq!(names(rest.clone()), ["plain"]);
    assert_eq!(
        rest.metadata.resource_version,
        page.metadata.resource_version
    );

    // Status bodies.
    let nf = status_of(secrets.get("nope").await.unwrap_err());
    assert_eq!(
        (nf.code, nf.reason.as_str(), nf.message.as_str()),
        (404, "NotFound", "secrets \"nope\" not found")
    );
    let dup = status_of(
        secrets
            .create(
                &pp,
                &bootstrap_secret("abcdef", "x", &in_an_hour(), "rpi-a", true),
            )
            .await
            .unwrap_err(),
    );
    assert_eq!(
        (dup.code, dup.reason.as_str(), dup.message.as_str()),
        (
            409,
            "AlreadyExists",
            "secrets \"bootstrap-token-abcdef\" already exists"
        )
    );
    let wrong_ns: Api<Secret> = Api::namespaced(client.clone(), "nowhere");
    let nf = status_of(wrong_ns.create(&pp, &plain).await.unwrap_err());
    assert_eq!(
        (nf.code, nf.message.as_str()),
        (404, "namespaces \"nowhere\" not found")
    );

    // Merge patch, then a stale resourceVersion conflicts.
    let before = secrets.get("plain").await.unwrap();
    let patched = secrets
        .patch(
            "plain",
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"labels": {"x": "1"}}, "data": {"k2": b64("v2")}})),
        )
        .await
        .unwrap();
    assert_eq!(patched.metadata.labels.as_ref().unwrap()["x"], "1");
    assert_eq!(patched.data.as_ref().unwrap().len(), 2);
    let rv_before: u64 = before
        .metadata
        .resource_version
        .clone()
        .unwrap()
        .parse()
        .unwrap();
    let rv_after: u64 = patched
        .metadata
        .resource_version
        .clone()
        .unwrap()
        .parse()
        .unwrap();
    assert!(rv_after > rv_before);
    assert_eq!(patched.metadata.uid, before.metadata.uid);
    let stale = status_of(secrets.replace("plain", &pp, &before).await.unwrap_err());
    assert_eq!(stale.code, 409);
    assert_eq!(stale.reason, "Conflict");
    assert_eq!(
        stale.message,
        "Operation cannot be fulfilled on secrets \"plain\": the object has been modified; please apply your changes to the latest version and try again"
    );

    // An immutable Secret refuses data writes with 422, as the apiserver's validation does.
    let imm: Secret = serde_json::from_value(
        json!({"metadata": {"name": "imm"}, "immutable": true, "data": {"hash": b64("h")}}),
    )
    .unwrap();
    secrets.create(&pp, &imm).await.unwrap();
    let inv = status_of(
        secrets
            .patch(
                "imm",
                &PatchParams::default(),
                &Patch::Merge(json!({"data": {"hash": b64("other")}})),
            )
            .await
            .unwrap_err(),
    );
    assert_eq!((inv.code, inv.reason.as_str()), (422, "Invalid"));
    assert_eq!(
        inv.message,
        "Secret \"imm\" is invalid: data: Forbidden: field is immutable when `immutable` is set"
    );
    // Metadata may still change.
    secrets
        .patch(
            "imm",
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"labels": {"ok": "yes"}}})),
        )
        .await
        .unwrap();

    // Delete, then it is gone.
    secrets
        .delete("plain", &DeleteParams::default())
        .await
        .unwrap();
    assert_eq!(status_of(secrets.get("plain").await.unwrap_err()).code, 404);
    k.stop().await;
}

#[tokio::test]
async fn watches_resume_from_a_resource_version_with_bookmarks() {
    let dir = tempfile::tempdir().unwrap();
    let k = start(dir.path()).await;
    let client = kube_client(&k.server.kubeconfig).await;
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    let pp = PostParams::default();
    let mk = |n: &str| -> ConfigMap {
        serde_json::from_value(json!({"metadata": {"name": n, "labels": {"app": "x"}}})).unwrap()
    };
    cms.create(&pp, &mk("one")).await.unwrap();
    let list = cms.list(&ListParams::default()).await.unwrap();
    let rv = list.metadata.resource_version.clone().unwrap();
    cms.create(&pp, &mk("two")).await.unwrap();
    cms.delete("one", &DeleteParams::default()).await.unwrap();
    // From the list's resourceVersion: exactly the two later changes, then bookmarks.
    let wp = WatchParams::default().labels("app=x").timeout(5);
    let mut stream = cms.watch(&wp, &rv).await.unwrap().boxed();
    let mut seen = Vec::new();
    let mut bookmark = false;
    while let Some(ev) = tokio::time::timeout(Duration::from_secs(10), stream.try_next())
        .await
        .unwrap()
        .unwrap()
    {
        match ev {
            WatchEvent::Added(c) => seen.push(format!("ADDED {}", c.metadata.name.unwrap())),
            WatchEvent::Deleted(c) => seen.push(format!("DELETED {}", c.metadata.name.unwrap())),
            WatchEvent::Modified(c) => seen.push(format!("MODIFIED {}", c.metadata.name.unwrap())),
            WatchEvent::Bookmark(_) => {
                bookmark = true;
                break;
            }
            WatchEvent::Error(e) => panic!("{e:?}"),
        }
    }
    assert_eq!(seen, ["ADDED two", "DELETED one"]);
    assert!(bookmark, "allowWatchBookmarks gets a BOOKMARK");

    // kube-runtime's watcher (list, then watch from the list's RV) sees a later change.
    let nodes: Api<Node> = Api::all(client.clone());
    let w = kube::runtime::watcher(nodes.clone(), kube::runtime::watcher::Config::default());
    let mut w = Box::pin(w);
    let node: Node = serde_json::from_value(json!({"metadata": {"name": "watched"}})).unwrap();
    let creator = {
        let nodes = nodes.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(300)).await;
            nodes.create(&PostParams::default(), &node).await.unwrap();
        })
    };
    let found = tokio::time::timeout(Duration::from_secs(10), async {
        while let Some(ev) = w.next().await {
            if let Ok(kube::runtime::watcher::Event::Apply(n)) = ev
                && n.metadata.name.as_deref() == Some("watched")
            {
                return true;
            }
        }
        false
    })
    .await
    .unwrap();
    assert!(found);
    creator.await.unwrap();
    k.stop().await;
}

#[tokio::test]
async fn leases_conflict_on_a_stale_resource_version() {
    let dir = tempfile::tempdir().unwrap();
    let k = start(dir.path()).await;
    let client = kube_client(&k.server.kubeconfig).await;
    let leases: Api<Lease> = Api::namespaced(client, "kube-system");
    let lease: Lease = serde_json::from_value(json!({
        "metadata": {"name": "k8s-daas-master"},
        "spec": {"holderIdentity": "master-a", "leaseDurationSeconds": 8, "renewTime": "2025-01-01T00:00:00.000000Z"}
    }))
    .unwrap();
    let created = leases.create(&PostParams::default(), &lease).await.unwrap();
    let mut a = created.clone();
    a.spec.as_mut().unwrap().holder_identity = Some("master-a".into());
    a.spec.as_mut().unwrap().lease_transitions = Some(1);
    let renewed = leases
        .replace("k8s-daas-master", &PostParams::default(), &a)
        .await
        .unwrap();
    assert_ne!(
        renewed.metadata.resource_version,
        created.metadata.resource_version
    );
    // Master B read the lease before A renewed it: its takeover conflicts.
    let mut b = created.clone();
    b.spec.as_mut().unwrap().holder_identity = Some("master-b".into());
    let st = status_of(
        leases
            .replace("k8s-daas-master", &PostParams::default(), &b)
            .await
            .unwrap_err(),
    );
    assert_eq!((st.code, st.reason.as_str()), (409, "Conflict"));
    let now = leases.get("k8s-daas-master").await.unwrap();
    assert_eq!(
        now.spec.unwrap().holder_identity.as_deref(),
        Some("master-a")
    );
    // Leases allow create-on-update (PUT to a new name), as the apiserver's lease strategy does.
    let mut c = lease.clone();
    c.metadata.name = Some("other".into());
    leases
        .replace("other", &PostParams::default(), &c)
        .await
        .unwrap();
    leases
        .delete("other", &DeleteParams::default())
        .await
        .unwrap();
    k.stop().await;
}

fn ready_node(name: &str, heartbeat: &str) -> Node {
    serde_json::from_value(json!({
        "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name}},
        "status": {"conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady",
            "message": "kubelet is posting ready status", "lastHeartbeatTime": heartbeat, "lastTransitionTime": heartbeat}]}
    }))
    .unwrap()
}

#[tokio::test]
async fn nodes_status_subresource_and_ready_turns_unknown_without_heartbeats() {
    let dir = tempfile::tempdir().unwrap();
    let k = start_with(dir.path(), |c| {
        c.node_monitor_grace = Duration::from_millis(1500)
    })
    .await;
    let client = kube_client(&k.server.kubeconfig).await;
    let nodes: Api<Node> = Api::all(client);
    let created = nodes
        .create(
            &PostParams::default(),
            &ready_node("rpi-1", "2025-01-01T00:00:00Z"),
        )
        .await
        .unwrap();
    // Writes to the main resource keep status as it was...
    let mut n = created.clone();
    n.metadata
        .labels
        .as_mut()
        .unwrap()
        .insert("role".into(), "edge".into());
    n.status = None;
    let updated = nodes
        .replace("rpi-1", &PostParams::default(), &n)
        .await
        .unwrap();
    assert!(updated.status.is_some());
    assert_eq!(updated.metadata.labels.unwrap()["role"], "edge");
    // ...and the status subresource keeps everything else.
    let hb = jiff::Timestamp::now()
        .strftime("%Y-%m-%dT%H:%M:%SZ")
        .to_string();
    let st = nodes
        .patch_status(
            "rpi-1",
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"labels": {"ignored": "1"}}, "status": {"conditions": [
                {"type": "Ready", "status": "True", "reason": "KubeletReady", "lastHeartbeatTime": hb, "lastTransitionTime": hb}]}})),
        )
        .await
        .unwrap();
    assert!(!st.metadata.labels.unwrap().contains_key("ignored"));
    // Heartbeats stop: after the grace period the node lifecycle controller says Unknown.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    let cond = loop {
        let n = nodes.get("rpi-1").await.unwrap();
        let c = n
            .status
            .unwrap()
            .conditions
            .unwrap()
            .into_iter()
            .find(|c| c.type_ == "Ready")
            .unwrap();
        if c.status == "Unknown" || tokio::time::Instant::now() > deadline {
            break c;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(cond.status, "Unknown");
    assert_eq!(cond.reason.as_deref(), Some("NodeStatusUnknown"));
    assert_eq!(
        cond.message.as_deref(),
        Some("Kubelet stopped posting node status.")
    );
    nodes
        .delete("rpi-1", &DeleteParams::default())
        .await
        .unwrap();
    k.stop().await;
}

fn deny_list_policy(reason: Option<&str>) -> ValidatingAdmissionPolicy {
    let mut validation =
        json!({"expression": DENY_LIST, "message": "node name is revoked by k8s-daas"});
    if let Some(r) = reason {
        validation["reason"] = json!(r);
    }
    serde_json::from_value(json!({
        "metadata": {"name": "k8s-daas-revoked-nodes"},
        "spec": {
            "failurePolicy": "Fail",
            "paramKind": {"apiVersion": "v1", "kind": "ConfigMap"},
            "matchConstraints": {"resourceRules": [{
                "apiGroups": [""], "apiVersions": ["v1"], "operations": ["CREATE", "UPDATE"], "resources": ["nodes"]}]},
            "validations": [validation],
        }
    }))
    .unwrap()
}

fn deny_list_binding(not_found: &str) -> ValidatingAdmissionPolicyBinding {
    serde_json::from_value(json!({
        "metadata": {"name": "k8s-daas-revoked-nodes"},
        "spec": {
            "policyName": "k8s-daas-revoked-nodes",
            "validationActions": ["Deny"],
            "paramRef": {
                "namespace": "kube-system",
                "selector": {"matchLabels": {"k8s-daas.io/revoked-nodes": "true"}},
                "parameterNotFoundAction": not_found,
            },
        }
    }))
    .unwrap()
}

fn shard(n: u32, names: &[&str]) -> ConfigMap {
    let data: BTreeMap<&str, &str> = names.iter().map(|n| (*n, "revoked")).collect();
    serde_json::from_value(json!({
        "metadata": {"name": format!("k8s-daas-revoked-{n}"), "namespace": "kube-system",
                     "labels": {"k8s-daas.io/revoked-nodes": "true"}},
        "data": data,
    }))
    .unwrap()
}

#[tokio::test]
async fn the_deny_list_policy_refuses_revoked_node_names() {
    let dir = tempfile::tempdir().unwrap();
    let k = start(dir.path()).await;
    let client = kube_client(&k.server.kubeconfig).await;
    let pp = PostParams::default();
    let vaps: Api<ValidatingAdmissionPolicy> = Api::all(client.clone());
    let bindings: Api<ValidatingAdmissionPolicyBinding> = Api::all(client.clone());
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "kube-system");
    let nodes: Api<Node> = Api::all(client.clone());
    let policy = vaps
        .create(&pp, &deny_list_policy(Some("Forbidden")))
        .await
        .unwrap();
    assert_eq!(policy.metadata.generation, Some(1));
    bindings
        .create(&pp, &deny_list_binding("Allow"))
        .await
        .unwrap();

    // No shard yet: Allow admits.
    nodes
        .create(&pp, &ready_node("free-0", "2025-01-01T00:00:00Z"))
        .await
        .unwrap();
    // Two shards, both selected: every one must pass.
    cms.create(&pp, &shard(0, &["rpi-revoked-a"]))
        .await
        .unwrap();
    cms.create(&pp, &shard(1, &["rpi-revoked-b", "rpi-revoked-c"]))
        .await
        .unwrap();
    for name in ["rpi-revoked-a", "rpi-revoked-c"] {
        let st = status_of(
            nodes
                .create(&pp, &ready_node(name, "2025-01-01T00:00:00Z"))
                .await
                .unwrap_err(),
        );
        assert_eq!((st.code, st.reason.as_str()), (403, "Forbidden"), "{name}");
        assert_eq!(
            st.message,
            format!(
                "nodes \"{name}\" is forbidden: ValidatingAdmissionPolicy 'k8s-daas-revoked-nodes' with binding 'k8s-daas-revoked-nodes' denied request: node name is revoked by k8s-daas"
            )
        );
    }
    nodes
        .create(&pp, &ready_node("rpi-fine", "2025-01-01T00:00:00Z"))
        .await
        .unwrap();
    // UPDATE is matched too: listing an existing node's name blocks writes to it.
    cms.patch(
        "k8s-daas-revoked-1",
        &PatchParams::default(),
        &Patch::Merge(json!({"data": {"rpi-fine": "revoked"}})),
    )
    .await
    .unwrap();
    let st = status_of(
        nodes
            .patch(
                "rpi-fine",
                &PatchParams::default(),
                &Patch::Merge(json!({"metadata": {"labels": {"a": "b"}}})),
            )
            .await
            .unwrap_err(),
    );
    assert_eq!(st.code, 403);
    // The status subresource is not matched by `resources: [nodes]`.
    nodes
        .patch_status(
            "rpi-fine",
            &PatchParams::default(),
            &Patch::Merge(json!({"status": {"phase": "Running"}})),
        )
        .await
        .unwrap();

    // Without `reason`, the apiserver answers 422 Invalid with the same text.
    let mut p = vaps.get("k8s-daas-revoked-nodes").await.unwrap();
    p.spec.as_mut().unwrap().validations = deny_list_policy(None).spec.unwrap().validations;
    let p = vaps
        .replace("k8s-daas-revoked-nodes", &pp, &p)
        .await
        .unwrap();
    assert_eq!(
        p.metadata.generation,
        Some(2),
        "a spec change bumps the generation"
    );
    let st = status_of(
        nodes
            .create(&pp, &ready_node("rpi-revoked-b", "2025-01-01T00:00:00Z"))
            .await
            .unwrap_err(),
    );
    assert_eq!((st.code, st.reason.as_str()), (422, "Invalid"));
    assert!(
        st.message
            .ends_with("denied request: node name is revoked by k8s-daas"),
        "{}",
        st.message
    );

    // parameterNotFoundAction Deny with no shard left refuses every Node write.
    for n in 0..2 {
        cms.delete(&format!("k8s-daas-revoked-{n}"), &DeleteParams::default())
            .await
            .unwrap();
    }
    let mut b = bindings.get("k8s-daas-revoked-nodes").await.unwrap();
    b.spec
        .as_mut()
        .unwrap()
        .param_ref
        .as_mut()
        .unwrap()
        .parameter_not_found_action = Some("Deny".into());
    bindings
        .replace("k8s-daas-revoked-nodes", &pp, &b)
        .await
        .unwrap();
    let st = status_of(
        nodes
            .create(&pp, &ready_node("anything", "2025-01-01T00:00:00Z"))
            .await
            .unwrap_err(),
    );
    assert_eq!(st.code, 422);
    assert!(
        st.message.ends_with("denied request: failed to configure binding: no params found for policy binding with `Deny` parameterNotFoundAction"),
        "{}",
        st.message
    );
    // Secrets are not matched by the policy at all.
    let secrets: Api<Secret> = Api::namespaced(client, "kube-system");
    secrets
        .create(
            &pp,
            &serde_json::from_value(json!({"metadata": {"name": "unrelated"}})).unwrap(),
        )
        .await
        .unwrap();
    k.stop().await;
}

/// A join request as k3s's agent makes it (`getNodeNamedCrt`).
async fn node_cert(
    http: &reqwest::Client,
    url: &str,
    path: &str,
    auth: Option<&str>,
    node: &str,
    password: &str,
) -> (u16, String) {
    let mut req = http
        .get(format!("{url}/v1-k3s/{path}"))
        .header("k3s-Node-Name", node)
        .header("k3s-Node-Password", password);
    if let Some(a) = auth {
        req = req.header("Authorization", a);
    }
    let resp = req.send().await.unwrap();
    (resp.status().as_u16(), resp.text().await.unwrap())
}

#[tokio::test]
async fn agents_join_with_a_bootstrap_token_and_keep_their_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let k = start(dir.path()).await;
    let url = k.server.url.clone();
    let client = kube_client(&k.server.kubeconfig).await;
    let secrets: Api<Secret> = Api::namespaced(client.clone(), "kube-system");
    let nodes: Api<Node> = Api::all(client.clone());
    let pp = PostParams::default();
    secrets
        .create(
            &pp,
            &bootstrap_secret("abcdef", "0123456789abcdef", &in_an_hour(), "rpi-1", true),
        )
        .await
        .unwrap();
    // The join token: the server token's K10 prefix + the bootstrap token (DESIGN §10).
    let prefix = k.server.token.split("::").next().unwrap().to_owned();
    let token =
        daas_sandbox::k3s::token::Token::parse(&format!("{prefix}::abcdef.0123456789abcdef"))
            .unwrap();
    // The agent's first step: /cacerts fetched without trust, hash compared.
    let insecure = reqwest::Client::builder()
        .use_rustls_tls()
        .danger_accept_invalid_certs(true)
        .build()
        .unwrap();
    let ca = insecure
        .get(format!("{url}/cacerts"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(token.check_ca(ca.as_bytes()), Ok(()));
    let http = https(&ca, None);
    let bearer = "Bearer abcdef.0123456789abcdef";
    let pw = "00112233445566778899aabbccddeeff";

    // No credentials: 403 (k3s's doAuth); bad credentials: 401.
    let (code, body) = node_cert(&http, &url, "serving-kubelet.crt", None, "rpi-1", pw).await;
    assert_eq!(code, 403, "{body}");
    let (code, body) = node_cert(
        &http,
        &url,
        "serving-kubelet.crt",
        Some("Bearer abcdef.ffffffffffffffff"),
        "rpi-1",
        pw,
    )
    .await;
    assert_eq!(code, 401);
    let st: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        (st["kind"].as_str(), st["message"].as_str()),
        (Some("Status"), Some("not authorized"))
    );
    // Missing node headers: 400.
    let resp = http
        .get(format!("{url}/v1-k3s/serving-kubelet.crt"))
        .header("Authorization", bearer)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 400);

    // The join: serving cert, client cert (each cert + CA + the shared key, for a GET).
    let (code, serving) = node_cert(
        &http,
        &url,
        "serving-kubelet.crt",
        Some(bearer),
        "rpi-1",
        pw,
    )
    .await;
    assert_eq!(code, 200, "{serving}");
    assert_eq!(serving.matches("BEGIN CERTIFICATE").count(), 2);
    assert!(serving.contains("PRIVATE KEY"));
    let (code, client_pem) =
        node_cert(&http, &url, "client-kubelet.crt", Some(bearer), "rpi-1", pw).await;
    assert_eq!(code, 200);
    let der = x509_parser::pem::parse_x509_pem(client_pem.as_bytes())
        .unwrap()
        .1
        .contents;
    let (_, cert) = x509_parser::parse_x509_certificate(&der).unwrap();
    assert_eq!(
        cert.subject().to_string(),
        "O=system:nodes, CN=system:node:rpi-1"
    );
    for p in [
        "config",
        "readyz",
        "apiservers",
        "client-ca.crt",
        "server-ca.crt",
        "client-kube-proxy.crt",
    ] {
        let r = http
            .get(format!("{url}/v1-k3s/{p}"))
            .header("Authorization", bearer)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 200, "{p}");
    }
    let config: Value = http
        .get(format!("{url}/v1-k3s/config"))
        .header("Authorization", bearer)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(config["HTTPSPort"], k.server.addr.port());

    // The node-password Secret, as nodepassword.Ensure creates it.
    let np = secrets.get("rpi-1.node-password.k3s").await.unwrap();
    assert_eq!(np.immutable, Some(true));
    assert_eq!(np.type_.as_deref(), Some("k3s.cattle.io/node-password"));
    let hash = String::from_utf8(np.data.unwrap()["hash"].0.clone()).unwrap();
    assert_eq!(
        daas_sandbox::k3s::nodepassword::verify_hash(&hash, pw),
        Ok(())
    );
    // A second device claiming the name with another password: 403.
    let (code, body) = node_cert(
        &http,
        &url,
        "client-kubelet.crt",
        Some(bearer),
        "rpi-1",
        "ffffffffffffffffffffffffffffffff",
    )
    .await;
    assert_eq!(code, 403, "{body}");
    // The same device again: fine.
    assert_eq!(
        node_cert(&http, &url, "client-kubelet.crt", Some(bearer), "rpi-1", pw)
            .await
            .0,
        200
    );

    // The kubelet registers its Node with its own certificate.
    // The response is certificate + CA + key: exactly what the agent writes and uses.
    let as_node = https(&ca, Some(&client_pem));
    let r = as_node
        .post(format!("{url}/api/v1/nodes"))
        .json(&ready_node("rpi-1", "2025-01-01T00:00:00Z"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 201, "{}", r.text().await.unwrap());
    // It may not touch another node (node authorizer / NodeRestriction).
    let r = as_node
        .post(format!("{url}/api/v1/nodes"))
        .json(&ready_node("rpi-2", "2025-01-01T00:00:00Z"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 403);
    // The node-password Secret gets an OwnerReference to the Node (k3s's node controller).
    eventually("no OwnerReference on the node-password secret", || async {
        let s = secrets.get("rpi-1.node-password.k3s").await.unwrap();
        s.metadata
            .owner_references
            .is_some_and(|r| r.iter().any(|o| o.kind == "Node" && o.name == "rpi-1"))
    })
    .await;

    // The master deletes the bootstrap token once the Node is up: the token stops working,
    // the node certificate keeps working (k3s-io/k3s#6898).
    secrets
        .delete("bootstrap-token-abcdef", &DeleteParams::default())
        .await
        .unwrap();
    assert_eq!(
        node_cert(&http, &url, "client-kubelet.crt", Some(bearer), "rpi-1", pw)
            .await
            .0,
        401
    );
    let (code, body) = node_cert(&as_node, &url, "client-kubelet.crt", None, "rpi-1", pw).await;
    assert_eq!(code, 200, "{body}");
    let r = as_node
        .get(format!("{url}/api/v1/nodes/rpi-1"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    // A node certificate for another name in the header: 400.
    assert_eq!(
        node_cert(&as_node, &url, "client-kubelet.crt", None, "rpi-9", pw)
            .await
            .0,
        400
    );
    // Node deleted: its certificate no longer passes the join endpoints (401, so a k3s
    // agent retries with its token), and the GC removes the node-password Secret.
    nodes
        .delete("rpi-1", &DeleteParams::default())
        .await
        .unwrap();
    let (code, body) = node_cert(&as_node, &url, "client-kubelet.crt", None, "rpi-1", pw).await;
    assert_eq!(code, 401, "{body}");
    eventually("node-password secret not collected", || async {
        secrets
            .get_opt("rpi-1.node-password.k3s")
            .await
            .unwrap()
            .is_none()
    })
    .await;
    k.stop().await;
}

#[tokio::test]
async fn expired_or_unusable_bootstrap_tokens_are_refused_and_cleaned() {
    let dir = tempfile::tempdir().unwrap();
    let k = start(dir.path()).await;
    let url = k.server.url.clone();
    let client = kube_client(&k.server.kubeconfig).await;
    let secrets: Api<Secret> = Api::namespaced(client, "kube-system");
    let pp = PostParams::default();
    let http = https(&k.server.ca_pem, None);
    let pw = "00112233445566778899aabbccddeeff";
    secrets
        .create(
            &pp,
            &bootstrap_secret("noauth", "0123456789abcdef", &in_an_hour(), "rpi-2", false),
        )
        .await
        .unwrap();
    let (code, _) = node_cert(
        &http,
        &url,
        "serving-kubelet.crt",
        Some("Bearer noauth.0123456789abcdef"),
        "rpi-2",
        pw,
    )
    .await;
    assert_eq!(code, 401, "usage-bootstrap-authentication missing");
    // Expired: refused at once, and the token cleaner deletes the Secret.
    secrets
        .create(
            &pp,
            &bootstrap_secret("expird", "0123456789abcdef", &an_hour_ago(), "rpi-3", true),
        )
        .await
        .unwrap_or_else(|_| panic!("create"));
    let (code, _) = node_cert(
        &http,
        &url,
        "serving-kubelet.crt",
        Some("Bearer expird.0123456789abcdef"),
        "rpi-3",
        pw,
    )
    .await;
    assert_eq!(code, 401, "expired");
    eventually("expired token not cleaned", || async {
        secrets
            .get_opt("bootstrap-token-expird")
            .await
            .unwrap()
            .is_none()
    })
    .await;
    assert!(
        secrets
            .get_opt("bootstrap-token-noauth")
            .await
            .unwrap()
            .is_some()
    );
    // The server token works too (Basic node:<pw>, as the agent sends it).
    let server_pw = k.server.token.rsplit(':').next().unwrap().to_owned();
    use base64::Engine as _;
    let basic = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("node:{server_pw}"))
    );
    assert_eq!(
        node_cert(
            &http,
            &url,
            "serving-kubelet.crt",
            Some(&basic),
            "rpi-4",
            pw
        )
        .await
        .0,
        200
    );
    let wrong = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode("node:wrong")
    );
    assert_eq!(
        node_cert(
            &http,
            &url,
            "serving-kubelet.crt",
            Some(&wrong),
            "rpi-4",
            pw
        )
        .await
        .0,
        401
    );
    k.stop().await;
}

#[tokio::test]
async fn requests_without_valid_credentials_get_401() {
    let dir = tempfile::tempdir().unwrap();
    let k = start(dir.path()).await;
    let url = &k.server.url;
    let anon = https(&k.server.ca_pem, None);
    let r = anon
        .get(format!("{url}/api/v1/nodes"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 401);
    let st: Value = r.json().await.unwrap();
    assert_eq!(
        st,
        json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": "Unauthorized", "reason": "Unauthorized", "code": 401})
    );
    // A client certificate from another CA is refused, as the apiserver's x509 authenticator refuses it.
    let key = rcgen::KeyPair::generate().unwrap();
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    params.distinguished_name = rcgen::DistinguishedName::new();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "system:admin");
    params
        .distinguished_name
        .push(rcgen::DnType::OrganizationName, "system:masters");
    params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ClientAuth];
    let foreign = params.self_signed(&key).unwrap();
    let other = https(
        &k.server.ca_pem,
        Some(&format!("{}{}", foreign.pem(), key.serialize_pem())),
    );
    let r = other
        .get(format!("{url}/api/v1/nodes"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 401);
    // A bootstrap token is not an API credential beyond what k3s's RBAC gives it.
    let r = anon
        .get(format!("{url}/api/v1/secrets"))
        .header("Authorization", "Bearer abcdef.0123456789abcdef")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 401, "unknown token");
    // Unmodelled resources say so.
    let admin = kube_client(&k.server.kubeconfig).await;
    let req = http::Request::get("/api/v1/pods").body(Vec::new()).unwrap();
    let err = admin.request::<Value>(req).await.unwrap_err();
    let st = status_of(err);
    assert_eq!(st.code, 404);
    assert!(
        st.message.contains("daas-k3s does not model core/v1 pods"),
        "{}",
        st.message
    );
    k.stop().await;
}

#[tokio::test]
async fn a_restarted_server_keeps_its_ca_objects_and_resource_versions() {
    let dir = tempfile::tempdir().unwrap();
    let k = start(dir.path()).await;
    let (ca, token) = (k.server.ca_pem.clone(), k.server.token.clone());
    let client = kube_client(&k.server.kubeconfig).await;
    let secrets: Api<Secret> = Api::namespaced(client.clone(), "kube-system");
    secrets
        .create(
            &PostParams::default(),
            &bootstrap_secret("abcdef", "0123456789abcdef", &in_an_hour(), "rpi-1", true),
        )
        .await
        .unwrap();
    let nodes: Api<Node> = Api::all(client);
    nodes
        .create(
            &PostParams::default(),
            &ready_node("rpi-1", "2025-01-01T00:00:00Z"),
        )
        .await
        .unwrap();
    let rv: u64 = nodes
        .list(&ListParams::default())
        .await
        .unwrap()
        .metadata
        .resource_version
        .unwrap()
        .parse()
        .unwrap();
    k.stop().await;

    let k = start(dir.path()).await;
    assert_eq!(k.server.ca_pem, ca, "same CA");
    assert_eq!(k.server.token, token, "same server token");
    let client = kube_client(&k.server.kubeconfig).await;
    let secrets: Api<Secret> = Api::namespaced(client.clone(), "kube-system");
    assert!(
        secrets
            .get_opt("bootstrap-token-abcdef")
            .await
            .unwrap()
            .is_some()
    );
    let nodes: Api<Node> = Api::all(client.clone());
    let n = nodes.get("rpi-1").await.unwrap();
    assert_eq!(n.metadata.name.as_deref(), Some("rpi-1"));
    let created = nodes
        .create(
            &PostParams::default(),
            &ready_node("rpi-2", "2025-01-01T00:00:00Z"),
        )
        .await
        .unwrap();
    let rv2: u64 = created.metadata.resource_version.unwrap().parse().unwrap();
    assert!(rv2 > rv, "the resourceVersion continues: {rv2} > {rv}");
    // A watch from before the restart is too old: 410 Gone, as after etcd compaction.
    let mut stream = nodes
        .watch(&WatchParams::default(), &(rv - 1).to_string())
        .await
        .unwrap()
        .boxed();
    match stream.try_next().await.unwrap() {
        Some(WatchEvent::Error(e)) => assert_eq!((e.code, e.reason.as_str()), (410, "Expired")),
        other => panic!("expected a 410 ERROR event, got {other:?}"),
    }
    k.stop().await;
}

#[tokio::test]
async fn the_binary_serves_until_sigterm_and_exits_zero() {
    use std::io::BufRead as _;
    let dir = tempfile::tempdir().unwrap();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_daas-k3s"))
        .args(["server", "--https-listen-port", "0", "--data-dir"])
        .arg(dir.path())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert!(
        line.starts_with("daas-k3s server is ready: url=https://127.0.0.1:"),
        "{line}"
    );
    let port = std::fs::read_to_string(dir.path().join("server/port")).unwrap();
    assert!(line.contains(&format!(":{} ", port.trim())), "{line}");
    let kubeconfig = dir.path().join("server/cred/admin.kubeconfig");
    let client = kube_client(&kubeconfig).await;
    let ns: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(client);
    let names: Vec<String> = ns
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .filter_map(|n| n.metadata.name)
        .collect();
    for want in ["default", "kube-node-lease", "kube-system"] {
        assert!(names.contains(&want.to_owned()), "{names:?}");
    }
    let status = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let code = child.wait().unwrap();
    assert_eq!(code.code(), Some(0));
}

fn kubectl() -> Option<std::path::PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join("kubectl"))
        .find(|p| p.is_file())
}

#[tokio::test(flavor = "multi_thread")]
async fn kubectl_gets_deletes_and_applies() {
    let Some(kubectl) = kubectl() else {
        if std::env::var("CI").as_deref() == Ok("true") {
            panic!("kubectl not found on PATH and CI=true: install kubectl");
        }
        println!("skipped: kubectl not found (kubectl_gets_deletes_and_applies needs it on PATH)");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let k = start(dir.path()).await;
    let client = kube_client(&k.server.kubeconfig).await;
    let nodes: Api<Node> = Api::all(client.clone());
    nodes
        .create(
            &PostParams::default(),
            &ready_node("rpi-kubectl", "2025-01-01T00:00:00Z"),
        )
        .await
        .unwrap();
    let secrets: Api<Secret> = Api::namespaced(client, "kube-system");
    secrets
        .create(
            &PostParams::default(),
            &bootstrap_secret("abcdef", "0123456789abcdef", &in_an_hour(), "rpi-1", true),
        )
        .await
        .unwrap();
    let kc = k.server.kubeconfig.clone();
    let home = dir.path().join("home");
    std::fs::create_dir_all(&home).unwrap();
    let run = |args: &[&str], stdin: Option<&str>| {
        let mut cmd = std::process::Command::new(&kubectl);
        cmd.arg("--kubeconfig")
            .arg(&kc)
            .args(args)
            .env("HOME", &home);
        cmd.stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        let mut child = cmd.spawn().unwrap();
        if let Some(s) = stdin {
            use std::io::Write as _;
            child.stdin.take().unwrap().write_all(s.as_bytes()).unwrap();
        } else {
            drop(child.stdin.take());
        }
        let out = child.wait_with_output().unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (ok, out, err) = tokio::task::block_in_place(|| run(&["get", "nodes"], None));
    assert!(ok, "{out}{err}");
    assert!(out.contains("rpi-kubectl"), "{out}");
    let (ok, out, err) =
        tokio::task::block_in_place(|| run(&["get", "secrets", "-n", "kube-system"], None));
    assert!(ok, "{out}{err}");
    assert!(out.contains("bootstrap-token-abcdef"), "{out}");
    let manifest = |v: &str| {
        format!(
            "apiVersion: v1\nkind: Secret\nmetadata:\n  name: applied\n  namespace: default\ntype: Opaque\nstringData:\n  key: {v}\n"
        )
    };
    let (ok, out, err) =
        tokio::task::block_in_place(|| run(&["apply", "-f", "-"], Some(&manifest("one"))));
    assert!(ok, "{out}{err}");
    assert!(out.contains("secret/applied created"), "{out}");
    let (ok, out, err) =
        tokio::task::block_in_place(|| run(&["apply", "-f", "-"], Some(&manifest("two"))));
    assert!(ok, "{out}{err}");
    assert!(out.contains("secret/applied configured"), "{out}");
    let default: Api<Secret> = Api::namespaced(kube_client(&k.server.kubeconfig).await, "default");
    let s = default.get("applied").await.unwrap();
    assert_eq!(s.data.unwrap()["key"].0, b"two");
    let (ok, out, err) =
        tokio::task::block_in_place(|| run(&["delete", "node", "rpi-kubectl"], None));
    assert!(ok, "{out}{err}");
    assert!(out.contains("node \"rpi-kubectl\" deleted"), "{out}");
    assert!(nodes.get_opt("rpi-kubectl").await.unwrap().is_none());
    k.stop().await;
}

/// The serving certificate's SANs as text (DNS names and IP addresses).
fn serving_sans(dir: &Path) -> Vec<String> {
    let pem = std::fs::read(dir.join("server/tls/serving-kube-apiserver.crt")).unwrap();
    let (_, pem) = x509_parser::pem::parse_x509_pem(&pem).unwrap();
    let (_, cert) = x509_parser::parse_x509_certificate(&pem.contents).unwrap();
    let ext = cert.subject_alternative_name().unwrap().unwrap();
    ext.value
        .general_names
        .iter()
        .map(|n| match n {
            x509_parser::extensions::GeneralName::DNSName(d) => (*d).to_owned(),
            x509_parser::extensions::GeneralName::IPAddress(b) => {
                let b: [u8; 4] = (*b).try_into().expect("IPv4");
                std::net::Ipv4Addr::from(b).to_string()
            }
            other => panic!("unexpected SAN {other:?}"),
        })
        .collect()
}

#[tokio::test]
async fn tls_san_names_go_on_the_serving_certificate_and_a_changed_list_reissues_it() {
    let dir = tempfile::tempdir().unwrap();
    let k = start_with(dir.path(), |c| {
        c.tls_san = vec!["10.0.2.2".into(), "k3s.board.example".into()];
    })
    .await;
    let ca = k.server.ca_pem.clone();
    let sans = serving_sans(dir.path());
    for want in [
        "10.0.2.2",
        "k3s.board.example",
        "127.0.0.1",
        "kubernetes.default",
    ] {
        assert!(sans.iter().any(|s| s == want), "{want} in {sans:?}");
    }
    k.stop().await;

    let k = start(dir.path()).await;
    assert_eq!(
        k.server.ca_pem, ca,
        "the same CA signs the re-issued certificate"
    );
    let sans = serving_sans(dir.path());
    assert!(
        !sans
            .iter()
            .any(|s| s == "10.0.2.2" || s == "k3s.board.example"),
        "the extra names are gone once the flag is: {sans:?}"
    );
    k.stop().await;
}
