//! The secrets audit: after a run with a rotation, every place a secret could leak to
//! is searched for every join token, node password and private key of the run.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail, ensure};
use base64::Engine as _;

use super::e2e::MINUTE;
use super::{Ctx, Row, join_boards, master_ok};
use crate::world::{World, WorldOpts, wait_for};

/// A secret and the forms it could be written in.
struct Needle {
    what: String,
    forms: Vec<String>,
}

/// Every secret of the run so far: the boards' join tokens (their token files, and
/// every bootstrap token Secret seen in `seen_tokens`), node passwords, device keys,
/// the master's keys, the stakers' keys and the sandbox's test keys.
fn needles(w: &World, seen_tokens: &BTreeSet<String>) -> anyhow::Result<Vec<Needle>> {
    let mut out = Vec::new();
    let mut add = |what: String, forms: Vec<String>| {
        out.push(Needle {
            what,
            forms: forms.into_iter().filter(|f| f.len() >= 16).collect(),
        })
    };
    let b64 = base64::engine::general_purpose::STANDARD;
    let key_file = |p: &Path| -> anyhow::Result<Vec<String>> {
        // `k8s-daas-key v1 <role> <hex>`
        let text = std::fs::read_to_string(p).with_context(|| p.display().to_string())?;
        let hex = text
            .split_whitespace()
            .last()
            .context("empty key file")?
            .trim_start_matches("0x")
            .to_string();
        let raw = daas_protocol::hex::decode(&hex)?;
        Ok(vec![hex, b64.encode(&raw)])
    };
    for s in seen_tokens {
        add("a bootstrap token secret".into(), vec![s.clone()]);
    }
    for b in &w.boards {
        let token = b.root.join("run/k8s-daas/private/k3s-token");
        if let Ok(t) = std::fs::read_to_string(&token) {
            let t = t.trim().to_string();
            let secret = t.rsplit_once('.').map(|(_, s)| s.to_string());
            add(format!("{}'s join token", b.node_id), vec![t]);
            if let Some(s) = secret {
                add(format!("{}'s token secret", b.node_id), vec![s]);
            }
        }
        let pw = std::fs::read_to_string(b.root.join("etc/rancher/node/password"))
            .with_context(|| format!("{}'s node password file", b.node_id))?;
        add(
            format!("{}'s node password", b.node_id),
            vec![pw.trim().to_string()],
        );
        for k in ["identity.key", "sealing.key"] {
            let p = b.root.join("var/lib/k8s-daas").join(k);
            add(format!("{}'s {k}", b.node_id), key_file(&p)?);
        }
    }
    for k in ["envelope.key", "node-password.key"] {
        add(
            format!("the master's {k}"),
            key_file(&w.path("keys").join(k))?,
        );
    }
    add(
        "the master's Sui key".into(),
        vec![w.info.master.suiprivkey.clone()],
    );
    for (i, a) in w.info.accounts.iter().enumerate() {
        add(format!("staker {i}'s Sui key"), vec![a.suiprivkey.clone()]);
    }
    for (what, k) in [
        ("root", &w.info.root_key.private),
        ("envelope", &w.info.envelope_key.private),
    ] {
        let hex = k.trim_start_matches("0x").to_string();
        let raw = daas_protocol::hex::decode(&hex)?;
        add(format!("the {what} key"), vec![hex, b64.encode(&raw)]);
    }
    Ok(out)
}

/// Files whose job is to hold a secret — the only places one may be — and the k3s
/// datastores (the server's keeps the Secrets, as a real server's etcd or kine does;
/// a node's keeps its client key). Secret files must be 0600.
fn exempt(w: &World, p: &Path) -> Option<bool> {
    let rel = p.strip_prefix(w.dir.path()).ok()?;
    let s = rel.to_string_lossy();
    let secret_file = s.starts_with("keys/")
        || s == "chain/info.json"
        || s.ends_with("/var/lib/k8s-daas/identity.key")
        || s.ends_with("/var/lib/k8s-daas/sealing.key")
        || s.ends_with("/etc/rancher/node/password")
        || s.ends_with("/run/k8s-daas/private/k3s-token");
    if secret_file {
        return Some(true);
    }
    (s.starts_with("k3s/") || s.contains("/var/lib/rancher/k3s/")).then_some(false)
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> anyhow::Result<()> {
    for e in std::fs::read_dir(dir).with_context(|| format!("cannot list {}", dir.display()))? {
        let e = e?;
        let t = e.file_type()?;
        if t.is_dir() {
            walk(&e.path(), out)?;
        } else if t.is_file() {
            out.push(e.path());
        }
    }
    Ok(())
}

/// Every process of the run: the world's and all their descendants.
fn processes(w: &World) -> Vec<u32> {
    let mut set: BTreeSet<u32> = w.pids().into_iter().collect();
    loop {
        let before = set.len();
        if let Ok(dir) = std::fs::read_dir("/proc") {
            for pid in dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok()) {
                if super::parent_of(pid).is_some_and(|pp| set.contains(&pp)) {
                    set.insert(pid);
                }
            }
        }
        if set.len() == before {
            return set.into_iter().collect();
        }
    }
}

/// Searches `hay` for every form of every needle; the findings as `place: what`.
fn search(place: &str, hay: &[u8], needles: &[Needle], found: &mut Vec<String>) {
    for n in needles {
        for f in &n.forms {
            if hay.windows(f.len()).any(|win| win == f.as_bytes()) {
                found.push(format!("{place}: {}", n.what));
            }
        }
    }
}

/// One JSON-RPC call's raw answer.
async fn rpc(url: &str, method: &str, params: serde_json::Value) -> anyhow::Result<Vec<u8>> {
    let r = reqwest::Client::new()
        .post(url)
        .json(&serde_json::json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}))
        .send()
        .await?;
    Ok(r.bytes().await?.to_vec())
}

pub async fn secrets_audit(ctx: &Ctx, row: &mut Row) -> anyhow::Result<()> {
    let mut w = ctx.world(WorldOpts::default()).await?;
    // Every bootstrap token the cluster holds during the run, as whoever could read
    // the Secrets would see them (they are deleted once their nodes join).
    let seen = std::sync::Arc::new(std::sync::Mutex::new(BTreeSet::new()));
    let watcher = {
        let seen = seen.clone();
        let kube = w.kube.clone();
        tokio::spawn(async move {
            use k8s_openapi::api::core::v1::Secret;
            let api: kube::Api<Secret> = kube::Api::namespaced(kube, "kube-system");
            loop {
                if let Ok(list) = api
                    .list(&kube::api::ListParams::default().labels("k8s-daas.io/node-id"))
                    .await
                {
                    for s in list.items {
                        if let Some(v) = s.data.as_ref().and_then(|d| d.get("token-secret")) {
                            seen.lock()
                                .expect("poisoned")
                                .insert(String::from_utf8_lossy(&v.0).into_owned());
                        }
                    }
                }
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
        })
    };
    let idx = join_boards(&mut w, 2, "audit", None, 2 * MINUTE).await?;
    let node = w.boards[idx[0]].node_id.to_string();
    let config = w.master_config.display().to_string();
    master_ok(&w, &["rotate", "--config", &config, "--node-id", &node]).await?;
    let board = &w.boards[idx[0]];
    wait_for("the rotated board rejoined", MINUTE, || async {
        Ok(board
            .status()
            .filter(|s| s["token_version"] == 2 && s["k3s"]["joined"] == true)
            .map(|_| ()))
    })
    .await?;
    watcher.abort();
    let seen = seen.lock().expect("poisoned").clone();
    ensure!(
        seen.len() >= 3,
        "only {} bootstrap tokens seen (2 boards + 1 rotation)",
        seen.len()
    );
    let needles = needles(&w, &seen)?;
    let mut found = Vec::new();

    // Processes, while they run.
    let procs = processes(&w);
    for pid in &procs {
        for part in ["cmdline", "environ"] {
            let p = format!("/proc/{pid}/{part}");
            match std::fs::read(&p) {
                Ok(b) => search(&p, &b, &needles, &mut found),
                // Gone between the listing and the read.
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => bail!("the audit cannot read {p}: {e}"),
            }
        }
    }
    // The master's pages.
    let http = w.master_http()?;
    let mut pages = 0;
    for path in ["/", "/api/workers", "/metrics", "/readyz", "/healthz"] {
        let body = reqwest::get(format!("http://{http}{path}"))
            .await?
            .bytes()
            .await?;
        search(&format!("GET {path}"), &body, &needles, &mut found);
        pages += 1;
    }
    // The chain: every event and every object of the registry.
    let url = &w.info.rpc_url;
    let mut cursor = serde_json::Value::Null;
    let mut events = 0;
    let mut objects: BTreeSet<String> = BTreeSet::new();
    objects.insert(w.info.registry_id.to_string());
    loop {
        let raw = rpc(
            url,
            "suix_queryEvents",
            serde_json::json!([{"MoveModule": {"package": w.info.package_id.to_string(), "module": "worker_registry"}}, cursor, 50, false]),
        )
        .await?;
        search("the chain's events", &raw, &needles, &mut found);
        let v: serde_json::Value = serde_json::from_slice(&raw)?;
        let data = v["result"]["data"].as_array().context("suix_queryEvents")?;
        events += data.len();
        for e in data {
            if let Some(id) = e["parsedJson"]["worker_id"].as_str() {
                objects.insert(id.to_string());
            }
        }
        if v["result"]["hasNextPage"] != true {
            break;
        }
        cursor = v["result"]["nextCursor"].clone();
    }
    let ids: Vec<&String> = objects.iter().collect();
    let raw = rpc(
        url,
        "sui_multiGetObjects",
        serde_json::json!([ids, {"showContent": true, "showBcs": true, "showType": true, "showOwner": true}]),
    )
    .await?;
    search("the chain's objects", &raw, &needles, &mut found);

    // Stop everything (so logs and databases are complete), then every file.
    w.shutdown().await?;
    let mut files = Vec::new();
    walk(w.dir.path(), &mut files)?;
    let (mut scanned, mut bytes, mut homes) = (0, 0, 0);
    for f in &files {
        match exempt(&w, f) {
            Some(true) => {
                use std::os::unix::fs::PermissionsExt as _;
                let mode = std::fs::metadata(f)?.permissions().mode() & 0o777;
                ensure!(
                    mode & 0o077 == 0,
                    "{} holds a secret with mode {mode:o}",
                    f.display()
                );
                homes += 1;
            }
            Some(false) => {}
            None => {
                let b = std::fs::read(f)
                    .with_context(|| format!("the audit cannot read {}", f.display()))?;
                let rel = f
                    .strip_prefix(w.dir.path())
                    .unwrap_or(f)
                    .display()
                    .to_string();
                search(&rel, &b, &needles, &mut found);
                scanned += 1;
                bytes += b.len();
            }
        }
    }
    found.sort();
    found.dedup();
    ensure!(found.is_empty(), "secrets found: {}", found.join("; "));
    let forms: usize = needles.iter().map(|n| n.forms.len()).sum();
    row.fig("secrets", needles.len());
    row.fig("forms", forms);
    row.fig("processes", procs.len());
    row.fig("files_scanned", scanned);
    row.fig("bytes_scanned", bytes);
    row.fig("secret_files_0600", homes);
    row.fig("events", events);
    row.fig("objects", objects.len());
    row.fig("http_pages", pages);
    row.fig("found", 0);
    row.result = format!(
        "0 of {} secrets in {} processes' argv and environment, {scanned} files, {events} events, {} objects, {pages} pages",
        needles.len(),
        procs.len(),
        objects.len()
    );
    Ok(())
}
