//! The controllers whose effects the master and agents can see:
//!
//! - **node lifecycle** (kube-controller-manager's `nodelifecycle`): a node whose kubelet
//!   stops heartbeating (neither its `Ready` condition's `lastHeartbeatTime` nor its Lease
//!   `kube-node-lease/<node>` `renewTime` changes) for the node-monitor grace period gets
//!   every condition set to `Unknown` (`NodeStatusUnknown`, "Kubelet stopped posting node
//!   status."); a node that never posted `Ready` gets `NodeStatusNeverUpdated`;
//! - **token cleaner** (kube-controller-manager's `tokencleaner`, which k3s enables with
//!   `--controllers=*,tokencleaner,...`): deletes expired bootstrap-token Secrets in
//!   kube-system, with a UID precondition;
//! - **node-password** (`k3s-io/k3s:pkg/nodepassword/controller.go`): adds an
//!   OwnerReference to its Node to each node-password Secret, and deletes node-password
//!   Secrets older than 10 minutes whose Node does not exist;
//! - **garbage collector**: deletes objects all of whose owners (of modelled kinds) are
//!   gone — so deleting a Node deletes its node-password Secret, as on k3s.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::api;
use super::auth::User;
use super::resources::{LEASES, NODES, RESOURCES, SECRETS};
use super::server::Shared;

fn controller_user() -> User {
    User::new("system:kube-controller-manager", &["system:masters"])
}

/// Per-node heartbeat tracking (`nodeHealthData`): what we last saw and when we saw it change.
#[derive(Default)]
struct Health {
    seen: HashMap<String, (Value, Value, Instant)>,
}

/// Runs the controllers until shutdown.
pub async fn run(shared: Arc<Shared>) {
    let grace = shared.config.node_monitor_grace;
    let period = (grace / 8).clamp(Duration::from_millis(100), Duration::from_secs(5));
    let mut health = Health::default();
    let mut shutdown = shared.shutdown.clone();
    let mut ticker = tokio::time::interval(period);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last_sweep = Instant::now();
    loop {
        tokio::select! {
            _ = ticker.tick() => {}
            _ = shutdown.changed() => return,
        }
        node_lifecycle(&shared, &mut health, grace);
        token_cleaner(&shared);
        node_password_owners(&shared);
        garbage_collect(&shared);
        if last_sweep.elapsed() >= Duration::from_secs(60).min(shared.config.orphan_secret_age) {
            last_sweep = Instant::now();
            orphan_node_passwords(&shared);
        }
    }
}

fn node_lifecycle(shared: &Shared, health: &mut Health, grace: Duration) {
    let now = Instant::now();
    let mut stale = Vec::new();
    {
        let store = shared.store.lock().expect("poisoned");
        let mut live = Vec::new();
        for (k, node) in store.list(NODES, None) {
            let name = k.2.clone();
            live.push(name.clone());
            let ready = node["status"]["conditions"]
                .as_array()
                .and_then(|c| c.iter().find(|c| c["type"] == "Ready"))
                .cloned();
            let beat = ready
                .as_ref()
                .map(|r| r["lastHeartbeatTime"].clone())
                .unwrap_or(Value::Null);
            let lease = store
                .get(&(LEASES, "kube-node-lease".into(), name.clone()))
                .map(|l| l["spec"]["renewTime"].clone())
                .unwrap_or(Value::Null);
            let entry =
                health
                    .seen
                    .entry(name.clone())
                    .or_insert((beat.clone(), lease.clone(), now));
            if entry.0 != beat || entry.1 != lease {
                *entry = (beat, lease, now);
            }
            let silent = now.duration_since(entry.2) >= grace;
            let status = ready
                .as_ref()
                .and_then(|r| r["status"].as_str())
                .unwrap_or("");
            if silent && status != "Unknown" {
                stale.push((name, ready.is_some()));
            }
        }
        health.seen.retain(|n, _| live.contains(n));
    }
    for (name, ever) in stale {
        let ts = api::now_rfc3339();
        let (reason, message) = if ever {
            ("NodeStatusUnknown", "Kubelet stopped posting node status.")
        } else {
            (
                "NodeStatusNeverUpdated",
                "Kubelet never posted node status.",
            )
        };
        let mut node = {
            let store = shared.store.lock().expect("poisoned");
            match store.get(&(NODES, String::new(), name.clone())) {
                Some(n) => n.as_ref().clone(),
                None => continue,
            }
        };
        let mut conds = node["status"]["conditions"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        if conds.iter().all(|c| c["type"] != "Ready") {
            conds.push(json!({ "type": "Ready", "lastHeartbeatTime": null }));
        }
        for c in &mut conds {
            if ["Ready", "MemoryPressure", "DiskPressure", "PIDPressure"]
                .contains(&c["type"].as_str().unwrap_or(""))
            {
                c["status"] = json!("Unknown");
                c["reason"] = json!(reason);
                c["message"] = json!(message);
                c["lastTransitionTime"] = json!(ts);
            }
        }
        node["status"]["conditions"] = Value::Array(conds);
        match api::update(
            shared,
            &controller_user(),
            NODES,
            "",
            &name,
            "status",
            api::Change::Replace(node),
            false,
        ) {
            Ok(_) => tracing::info!(node = %name, reason, "node condition Ready set to Unknown"),
            Err(e) => tracing::warn!(node = %name, error = %e, "cannot mark node Unknown"),
        }
    }
}

fn token_cleaner(shared: &Shared) {
    let now = jiff::Timestamp::now().as_second();
    let expired: Vec<(String, Value)> = {
        let store = shared.store.lock().expect("poisoned");
        store
            .list(SECRETS, Some("kube-system"))
            .filter(|(_, s)| {
                s["type"] == "bootstrap.kubernetes.io/token" && super::auth::expired(s, now)
            })
            .map(|(k, s)| (k.2.clone(), s["metadata"]["uid"].clone()))
            .collect()
    };
    for (name, uid) in expired {
        let pre = json!({ "uid": uid });
        match api::delete(
            shared,
            &controller_user(),
            SECRETS,
            "kube-system",
            &name,
            &pre,
            false,
        ) {
            Ok(_) => tracing::info!(secret = %name, "deleted expired bootstrap token"),
            Err(e) if e.code == 404 || e.code == 409 => {}
            Err(e) => {
                tracing::warn!(secret = %name, error = %e, "cannot delete expired bootstrap token")
            }
        }
    }
}

fn node_password_owners(shared: &Shared) {
    let todo: Vec<(Value, Value)> = {
        let store = shared.store.lock().expect("poisoned");
        store
            .list(NODES, None)
            .filter_map(|(k, node)| {
                let s = store.get(&(
                    SECRETS,
                    "kube-system".into(),
                    super::join::secret_name(&k.2),
                ))?;
                let uid = node["metadata"]["uid"].clone();
                let has = s["metadata"]["ownerReferences"]
                    .as_array()
                    .is_some_and(|refs| {
                        refs.iter().any(|r| r["uid"] == uid && r["kind"] == "Node")
                    });
                (!has).then(|| (s.as_ref().clone(), node.as_ref().clone()))
            })
            .collect()
    };
    for (mut secret, node) in todo {
        let name = secret["metadata"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let mut refs = secret["metadata"]["ownerReferences"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        refs.push(json!({
            "apiVersion": "v1",
            "kind": "Node",
            "name": node["metadata"]["name"],
            "uid": node["metadata"]["uid"],
        }));
        secret["metadata"]["ownerReferences"] = Value::Array(refs);
        match api::update(
            shared,
            &controller_user(),
            SECRETS,
            "kube-system",
            &name,
            "",
            api::Change::Replace(secret),
            false,
        ) {
            Ok(_) => {
                tracing::info!(secret = %name, "added node OwnerReference to node-password secret")
            }
            Err(e) if e.code == 409 || e.code == 404 => {}
            Err(e) => tracing::warn!(secret = %name, error = %e, "cannot add node OwnerReference"),
        }
    }
}

fn garbage_collect(shared: &Shared) {
    let doomed: Vec<(usize, String, String, Value)> = {
        let store = shared.store.lock().expect("poisoned");
        let uids: std::collections::HashSet<&str> = store
            .objects
            .values()
            .filter_map(|o| o["metadata"]["uid"].as_str())
            .collect();
        store
            .objects
            .iter()
            .filter_map(|(k, o)| {
                let refs = o["metadata"]["ownerReferences"].as_array()?;
                let modelled = |r: &Value| {
                    RESOURCES.iter().any(|res| {
                        r["kind"] == res.kind
                            && r["apiVersion"].as_str() == Some(res.api_version().as_str())
                    })
                };
                let all_gone = !refs.is_empty()
                    && refs.iter().all(|r| {
                        modelled(r) && !r["uid"].as_str().is_some_and(|u| uids.contains(u))
                    });
                all_gone.then(|| (k.0, k.1.clone(), k.2.clone(), o["metadata"]["uid"].clone()))
            })
            .collect()
    };
    for (res, ns, name, uid) in doomed {
        match api::delete(
            shared,
            &controller_user(),
            res,
            &ns,
            &name,
            &json!({ "uid": uid }),
            false,
        ) {
            Ok(_) => {
                tracing::info!(resource = RESOURCES[res].plural, namespace = %ns, name = %name, "garbage-collected: owner gone")
            }
            Err(e) if e.code == 404 || e.code == 409 => {}
            Err(e) => tracing::warn!(name = %name, error = %e, "garbage collection failed"),
        }
    }
}

fn orphan_node_passwords(shared: &Shared) {
    let cutoff =
        jiff::Timestamp::now().as_second() - shared.config.orphan_secret_age.as_secs() as i64;
    let doomed: Vec<(String, Value)> = {
        let store = shared.store.lock().expect("poisoned");
        let nodes: Vec<String> = api::node_names(&store)
            .iter()
            .map(|n| super::join::secret_name(n))
            .collect();
        store
            .list(SECRETS, Some("kube-system"))
            .filter(|(k, s)| {
                s["type"] == "k3s.cattle.io/node-password"
                    && !nodes.contains(&k.2)
                    && s["metadata"]["creationTimestamp"]
                        .as_str()
                        .and_then(|t| t.parse::<jiff::Timestamp>().ok())
                        .is_some_and(|t| t.as_second() <= cutoff)
            })
            .map(|(k, s)| (k.2.clone(), s["metadata"]["uid"].clone()))
            .collect()
    };
    for (name, uid) in doomed {
        if api::delete(
            shared,
            &controller_user(),
            SECRETS,
            "kube-system",
            &name,
            &json!({ "uid": uid }),
            false,
        )
        .is_ok()
        {
            tracing::warn!(secret = %name, "deleted orphaned node-password secret");
        }
    }
}
