//! What the kubelet embedded in a k3s agent does towards the Kubernetes API, with
//! the node's client certificate (k8s.io/kubernetes `pkg/kubelet/kubelet_node_status.go`,
//! `pkg/kubelet/nodelease`, k8s.io/component-helpers `apimachinery/lease/controller.go`):
//! register the Node (retrying 100 ms, doubling, at most 7 s apart), post its status
//! (`Ready=True` with heartbeat times) and renew its Lease `kube-node-lease/<node>`,
//! and register the Node again when it has been deleted — unless admission refuses,
//! which is logged, as the kubelet logs it, on every retry.

use std::collections::BTreeMap;
use std::time::Duration;

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::api::core::v1::{
    Node, NodeAddress, NodeCondition, NodeDaemonEndpoints, NodeSpec, NodeStatus, NodeSystemInfo,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta, OwnerReference, Time};
use k8s_openapi::jiff::Timestamp;

use super::log;
use super::tls::{self, ClientCert};

/// The kubelet version the stand-in reports (`nodeInfo.kubeletVersion`).
pub const KUBELET_VERSION: &str = "v1.33.0+daas-k3s";
/// kubelet's `nodeLeaseDurationSeconds` default.
pub const LEASE_DURATION_SECONDS: i32 = 40;

/// How often the kubelet renews its Lease and posts its status.
#[derive(Debug, Clone, Copy)]
pub struct Intervals {
    /// Lease renewal (kubelet: 0.25 × 40 s = 10 s).
    pub lease_renew: Duration,
    /// Node status (kubelet `nodeStatusUpdateFrequency`: 10 s).
    pub node_status: Duration,
}

impl Default for Intervals {
    fn default() -> Self {
        Intervals {
            lease_renew: Duration::from_secs(10),
            node_status: Duration::from_secs(10),
        }
    }
}

/// The kubelet's view of the API: one client with the node's certificate.
#[derive(Debug)]
pub struct Kubelet {
    client: reqwest::Client,
    base: String,
    node_name: String,
    labels: BTreeMap<String, String>,
    intervals: Intervals,
    node_uid: Option<String>,
    /// When this kubelet (re-)registered: the conditions' `lastTransitionTime` (they
    /// have not changed since; a status update replaces the list whole).
    since: Timestamp,
}

/// An API call that did not succeed: HTTP status and the apiserver's `Status.message`
/// (or the body, when it is not a `Status`) — what client-go's error prints.
#[derive(Debug, Clone)]
pub struct ApiError {
    /// HTTP status (0 when the request did not get an answer).
    pub code: u16,
    /// `Status.reason` (`NotFound`, `AlreadyExists`, `Forbidden`, …).
    pub reason: String,
    /// The message client-go would show.
    pub message: String,
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl Kubelet {
    /// A kubelet talking to `base` (the server URL) as the node `node_name`, with
    /// `labels` (its own defaults plus `--node-label`) for registration.
    pub fn new(
        base: &str,
        ca_pem: &[u8],
        cert: &ClientCert,
        node_name: &str,
        node_labels: &[(String, String)],
        intervals: Intervals,
    ) -> Result<Kubelet, String> {
        let client = tls::pinned(ca_pem, Some(cert))?;
        let mut labels = default_labels(node_name);
        for (k, v) in node_labels {
            labels.insert(k.clone(), v.clone());
        }
        Ok(Kubelet {
            client,
            base: base.trim_end_matches('/').to_string(),
            node_name: node_name.to_string(),
            labels,
            intervals,
            node_uid: None,
            since: Timestamp::now(),
        })
    }

    /// The node's name.
    pub fn node_name(&self) -> &str {
        &self.node_name
    }

    /// kubelet `registerWithAPIServer`: retries until the Node exists (created by us,
    /// or already there).
    pub async fn register_until_ok(&mut self) {
        let mut step = Duration::from_millis(100);
        loop {
            tokio::time::sleep(step).await;
            step = (step * 2).min(Duration::from_secs(7));
            log::klog(
                'I',
                "kubelet_node_status.go:75",
                "Attempting to register node",
                &[("node", &self.node_name)],
            );
            if self.try_register().await {
                log::klog(
                    'I',
                    "kubelet_node_status.go:78",
                    "Successfully registered node",
                    &[("node", &self.node_name)],
                );
                return;
            }
        }
    }

    async fn try_register(&mut self) -> bool {
        self.since = Timestamp::now();
        let node = self.initial_node(self.since);
        let url = format!("{}/api/v1/nodes", self.base);
        match self.send_json(self.client.post(&url), &node).await {
            Ok(created) => {
                self.node_uid = uid_of(&created);
                true
            }
            Err(e) if e.reason == "AlreadyExists" => match self.get_node().await {
                Ok(existing) => {
                    self.node_uid = existing.metadata.uid;
                    true
                }
                Err(e) => {
                    log::klog(
                        'E',
                        "kubelet_node_status.go:130",
                        "Unable to reconcile node with API server,error getting node",
                        &[("err", &e.message), ("node", &self.node_name)],
                    );
                    false
                }
            },
            Err(e) => {
                log::klog(
                    'E',
                    "kubelet_node_status.go:108",
                    "Unable to register node with API server",
                    &[("err", &e.message), ("node", &self.node_name)],
                );
                false
            }
        }
    }

    async fn get_node(&self) -> Result<Node, ApiError> {
        let url = format!("{}/api/v1/nodes/{}", self.base, self.node_name);
        let v = self.send(self.client.get(&url)).await?;
        serde_json::from_value(v).map_err(|e| ApiError {
            code: 200,
            reason: String::new(),
            message: format!("decoding node {}: {e}", self.node_name),
        })
    }

    /// Keeps the Node's status and Lease fresh, forever; re-registers a deleted Node.
    pub async fn heartbeat_forever(&mut self) {
        let mut status = tokio::time::interval(self.intervals.node_status);
        let mut lease = tokio::time::interval(self.intervals.lease_renew);
        status.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        lease.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = lease.tick() => self.renew_lease().await,
                _ = status.tick() => {
                    if let Err(e) = self.post_status().await {
                        log::klog(
                            'E',
                            "kubelet_node_status.go:535",
                            "Error updating node status, will retry",
                            &[("err", &format!("error getting node \"{}\": {}", self.node_name, e.message))],
                        );
                        if e.code == 404 {
                            self.register_until_ok().await;
                        }
                    }
                }
            }
        }
    }

    async fn post_status(&self) -> Result<(), ApiError> {
        let now = Timestamp::now();
        let patch = serde_json::json!({
            "status": { "conditions": conditions(now, Some(self.since)) }
        });
        let url = format!("{}/api/v1/nodes/{}/status", self.base, self.node_name);
        let req = self
            .client
            .patch(&url)
            .header("content-type", "application/merge-patch+json")
            .body(patch.to_string());
        self.send(req).await.map(|_| ())
    }

    async fn renew_lease(&mut self) {
        let url = format!(
            "{}/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/{}",
            self.base, self.node_name
        );
        let now = Timestamp::now();
        let result = match self.send(self.client.get(&url)).await {
            Ok(v) => match serde_json::from_value::<Lease>(v) {
                Ok(mut l) => {
                    let spec = l.spec.get_or_insert_with(Default::default);
                    spec.holder_identity = Some(self.node_name.clone());
                    spec.lease_duration_seconds = Some(LEASE_DURATION_SECONDS);
                    spec.renew_time = Some(MicroTime(now));
                    self.send_json(self.client.put(&url), &l).await.map(|_| ())
                }
                Err(e) => Err(ApiError {
                    code: 200,
                    reason: String::new(),
                    message: format!("decoding lease: {e}"),
                }),
            },
            Err(e) if e.code == 404 => {
                let lease = self.new_lease(now);
                let create = format!(
                    "{}/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases",
                    self.base
                );
                self.send_json(self.client.post(&create), &lease)
                    .await
                    .map(|_| ())
            }
            Err(e) => Err(e),
        };
        if let Err(e) = result {
            log::klog(
                'E',
                "controller.go:145",
                "Failed to ensure lease exists, will retry",
                &[("err", &e.message), ("interval", "7s")],
            );
        }
    }

    fn new_lease(&self, now: Timestamp) -> Lease {
        let owner = self.node_uid.as_ref().map(|uid| {
            vec![OwnerReference {
                api_version: "v1".into(),
                kind: "Node".into(),
                name: self.node_name.clone(),
                uid: uid.clone(),
                ..Default::default()
            }]
        });
        Lease {
            metadata: ObjectMeta {
                name: Some(self.node_name.clone()),
                namespace: Some("kube-node-lease".into()),
                owner_references: owner,
                ..Default::default()
            },
            spec: Some(LeaseSpec {
                holder_identity: Some(self.node_name.clone()),
                lease_duration_seconds: Some(LEASE_DURATION_SECONDS),
                renew_time: Some(MicroTime(now)),
                ..Default::default()
            }),
        }
    }

    /// The Node the kubelet registers (`initialNode` + `setNodeStatus`).
    pub fn initial_node(&self, now: Timestamp) -> Node {
        let mut annotations = BTreeMap::new();
        annotations.insert("node.alpha.kubernetes.io/ttl".to_string(), "0".to_string());
        annotations.insert(
            "volumes.kubernetes.io/controller-managed-attach-detach".to_string(),
            "true".to_string(),
        );
        annotations.insert("k3s.io/hostname".to_string(), self.node_name.clone());
        annotations.insert("k3s.io/internal-ip".to_string(), "127.0.0.1".to_string());
        let mut capacity = BTreeMap::new();
        capacity.insert("cpu".to_string(), Quantity(cpus().to_string()));
        capacity.insert("memory".to_string(), Quantity(mem_total()));
        capacity.insert("pods".to_string(), Quantity("110".into()));
        capacity.insert("ephemeral-storage".to_string(), Quantity("0".into()));
        Node {
            metadata: ObjectMeta {
                name: Some(self.node_name.clone()),
                labels: Some(self.labels.clone()),
                annotations: Some(annotations),
                ..Default::default()
            },
            spec: Some(NodeSpec {
                provider_id: Some(format!("k3s://{}", self.node_name)),
                ..Default::default()
            }),
            status: Some(NodeStatus {
                addresses: Some(vec![
                    NodeAddress {
                        type_: "InternalIP".into(),
                        address: "127.0.0.1".into(),
                    },
                    NodeAddress {
                        type_: "Hostname".into(),
                        address: self.node_name.clone(),
                    },
                ]),
                allocatable: Some(capacity.clone()),
                capacity: Some(capacity),
                conditions: Some(conditions(now, Some(self.since))),
                daemon_endpoints: Some(NodeDaemonEndpoints {
                    kubelet_endpoint: Some(k8s_openapi::api::core::v1::DaemonEndpoint {
                        port: 10250,
                    }),
                }),
                node_info: Some(node_info()),
                ..Default::default()
            }),
        }
    }

    async fn send_json<T: serde::Serialize>(
        &self,
        req: reqwest::RequestBuilder,
        body: &T,
    ) -> Result<serde_json::Value, ApiError> {
        let body = serde_json::to_vec(body).map_err(|e| ApiError {
            code: 0,
            reason: String::new(),
            message: e.to_string(),
        })?;
        self.send(req.header("content-type", "application/json").body(body))
            .await
    }

    async fn send(&self, req: reqwest::RequestBuilder) -> Result<serde_json::Value, ApiError> {
        let resp = req.send().await.map_err(|e| ApiError {
            code: 0,
            reason: String::new(),
            message: e.to_string(),
        })?;
        let code = resp.status().as_u16();
        let bytes = resp.bytes().await.unwrap_or_default();
        let value: Option<serde_json::Value> = serde_json::from_slice(&bytes).ok();
        if (200..300).contains(&code) {
            return Ok(value.unwrap_or(serde_json::Value::Null));
        }
        let (reason, message) = match &value {
            Some(v) if v.get("kind").and_then(|k| k.as_str()) == Some("Status") => (
                v.get("reason")
                    .and_then(|r| r.as_str())
                    .unwrap_or("")
                    .to_string(),
                v.get("message")
                    .and_then(|m| m.as_str())
                    .unwrap_or("")
                    .to_string(),
            ),
            _ => (
                String::new(),
                format!(
                    "the server responded with the status code {code} but did not return more information: {}",
                    String::from_utf8_lossy(&bytes)
                ),
            ),
        };
        Err(ApiError {
            code,
            reason,
            message,
        })
    }
}

fn uid_of(v: &serde_json::Value) -> Option<String> {
    v.pointer("/metadata/uid")
        .and_then(|u| u.as_str())
        .map(str::to_string)
}

/// The kubelet's default node labels (`initialNode`) and k3s's instance type.
pub fn default_labels(node_name: &str) -> BTreeMap<String, String> {
    let arch = go_arch();
    let mut l = BTreeMap::new();
    l.insert("kubernetes.io/hostname".to_string(), node_name.to_string());
    l.insert("kubernetes.io/os".to_string(), "linux".to_string());
    l.insert("kubernetes.io/arch".to_string(), arch.to_string());
    l.insert("beta.kubernetes.io/os".to_string(), "linux".to_string());
    l.insert("beta.kubernetes.io/arch".to_string(), arch.to_string());
    l.insert(
        "node.kubernetes.io/instance-type".to_string(),
        "k3s".to_string(),
    );
    l.insert(
        "beta.kubernetes.io/instance-type".to_string(),
        "k3s".to_string(),
    );
    l
}

fn go_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "arm" => "arm",
        other => other,
    }
}

/// The four conditions a healthy kubelet posts; `transition` is set at registration
/// (a status update leaves the stored transition times alone).
pub fn conditions(now: Timestamp, transition: Option<Timestamp>) -> Vec<NodeCondition> {
    let c = |type_: &str, status: &str, reason: &str, message: &str| NodeCondition {
        type_: type_.into(),
        status: status.into(),
        reason: Some(reason.into()),
        message: Some(message.into()),
        last_heartbeat_time: Some(Time(now)),
        last_transition_time: transition.map(Time),
    };
    vec![
        c(
            "MemoryPressure",
            "False",
            "KubeletHasSufficientMemory",
            "kubelet has sufficient memory available",
        ),
        c(
            "DiskPressure",
            "False",
            "KubeletHasNoDiskPressure",
            "kubelet has no disk pressure",
        ),
        c(
            "PIDPressure",
            "False",
            "KubeletHasSufficientPID",
            "kubelet has sufficient PID available",
        ),
        c(
            "Ready",
            "True",
            "KubeletReady",
            "kubelet is posting ready status",
        ),
    ]
}

fn read_trimmed(path: &str) -> Option<String> {
    std::fs::read_to_string(path)
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
}

fn node_info() -> NodeSystemInfo {
    let os_image = std::fs::read_to_string("/etc/os-release")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("PRETTY_NAME="))
                .map(|v| v.trim_matches('"').to_string())
        })
        .unwrap_or_else(|| "Linux".into());
    let machine_id = read_trimmed("/etc/machine-id").unwrap_or_default();
    NodeSystemInfo {
        architecture: go_arch().into(),
        boot_id: read_trimmed("/proc/sys/kernel/random/boot_id").unwrap_or_default(),
        container_runtime_version: "none://daas-k3s-stand-in-runs-no-containers".into(),
        kernel_version: read_trimmed("/proc/sys/kernel/osrelease").unwrap_or_default(),
        kube_proxy_version: String::new(),
        kubelet_version: KUBELET_VERSION.into(),
        machine_id: machine_id.clone(),
        operating_system: "linux".into(),
        os_image,
        system_uuid: machine_id,
        ..Default::default()
    }
}

fn cpus() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

fn mem_total() -> String {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("MemTotal:"))
                .and_then(|v| {
                    v.trim()
                        .strip_suffix("kB")
                        .map(|n| format!("{}Ki", n.trim()))
                })
        })
        .unwrap_or_else(|| "0".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registered_node_is_ready_with_labels_and_heartbeats() {
        let now: Timestamp = "2026-12-01T08:00:00Z".parse().unwrap();
        let labels = default_labels("pi-1");
        let k = Kubelet {
            client: reqwest::Client::new(),
            base: "https://127.0.0.1:1".into(),
            node_name: "pi-1".into(),
            labels,
            intervals: Intervals::default(),
            node_uid: None,
            since: now,
        };
        let node = k.initial_node(now);
        let v = serde_json::to_value(&node).unwrap();
        assert_eq!(v["metadata"]["name"], "pi-1");
        assert_eq!(v["metadata"]["labels"]["kubernetes.io/hostname"], "pi-1");
        assert_eq!(v["metadata"]["labels"]["kubernetes.io/os"], "linux");
        let ready = v["status"]["conditions"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["type"] == "Ready")
            .unwrap()
            .clone();
        assert_eq!(ready["status"], "True");
        assert_eq!(ready["lastHeartbeatTime"], "2026-12-01T08:00:00Z");
        assert_eq!(v["status"]["nodeInfo"]["kubeletVersion"], KUBELET_VERSION);
    }

    #[test]
    fn a_status_update_keeps_the_transition_time() {
        let now: Timestamp = "2026-12-01T08:00:10Z".parse().unwrap();
        let since: Timestamp = "2026-12-01T08:00:00Z".parse().unwrap();
        let v = serde_json::to_value(conditions(now, Some(since))).unwrap();
        assert_eq!(v[3]["lastTransitionTime"], "2026-12-01T08:00:00Z");
        assert_eq!(v[3]["lastHeartbeatTime"], "2026-12-01T08:00:10Z");
    }
}
