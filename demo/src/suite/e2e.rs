//! The end-to-end scenarios: the flow on both transports, rotation, slash, unstake and
//! re-registration, a leaked bootstrap token.

use std::time::{Duration, Instant};

use anyhow::{Context as _, bail, ensure};
use daas_protocol::config::TransportKind;
use k8s_openapi::api::core::v1::{Node, Secret};

use super::{
    Ctx, Row, agent_cli, alive, denied, join_boards, k3s_agents_named, master_ok, wait_joined,
};
use crate::world::{Proc, World, WorldOpts, wait_for};

pub const MINUTE: Duration = Duration::from_secs(60);

pub async fn flow_jsonrpc(ctx: &Ctx, row: &mut Row) -> anyhow::Result<()> {
    flow(ctx, row, TransportKind::Jsonrpc).await
}

pub async fn flow_graphql(ctx: &Ctx, row: &mut Row) -> anyhow::Result<()> {
    flow(ctx, row, TransportKind::Graphql).await
}

async fn flow(ctx: &Ctx, row: &mut Row, transport: TransportKind) -> anyhow::Result<()> {
    let mut w = ctx
        .world(WorldOpts {
            transport,
            ..WorldOpts::default()
        })
        .await?;
    let t0 = Instant::now();
    let idx = join_boards(&mut w, 3, "flow", None, 2 * MINUTE).await?;
    row.fig(
        "register_to_active_s",
        format!("{:.2}", t0.elapsed().as_secs_f64()),
    );
    for &i in &idx {
        let b = &w.boards[i];
        let config = b.config.display().to_string();
        let (code, out, err) = agent_cli(&w, &["status", "--json", "--config", &config]).await?;
        ensure!(
            code == 0,
            "daas-agent status for {}: exit {code}: {err}",
            b.node_id
        );
        let s: serde_json::Value = serde_json::from_str(&out).context("status --json")?;
        ensure!(
            s["phase"] == "joined" && s["token_version"] == 1 && s["k3s"]["state"] == "running",
            "{}: status {s}",
            b.node_id
        );
        let worker = w.worker(i).await?.context("the Worker")?;
        ensure!(worker.worker.token_version == 1, "one envelope each");
    }
    wait_for("the bootstrap tokens deleted", MINUTE, || async {
        Ok(w.tokens().await?.is_empty().then_some(()))
    })
    .await?;
    let http = w.master_http()?;
    let api: serde_json::Value = reqwest::get(format!("http://{http}/api/workers"))
        .await?
        .json()
        .await?;
    for &i in &idx {
        let n = w.boards[i].node_id.as_str();
        let seen = api["workers"]
            .as_array()
            .context("/api/workers")?
            .iter()
            .find(|v| v["node_id"] == n)
            .with_context(|| format!("{n} not in /api/workers"))?;
        ensure!(seen["stage"] == "active", "{n} in /api/workers: {seen}");
    }
    w.shutdown().await?;
    row.result =
        "3/3 Active, Nodes Ready, tokens deleted; `daas-agent status` joined, /api/workers active"
            .into();
    Ok(())
}

pub async fn rotation(ctx: &Ctx, row: &mut Row) -> anyhow::Result<()> {
    let mut w = ctx.world(WorldOpts::default()).await?;
    let idx = join_boards(&mut w, 2, "rot", None, 2 * MINUTE).await?;
    let (b, other) = (idx[0], idx[1]);
    let pid1 = w.boards[b].k3s_pid().context("k3s pid")?;
    let other_pid = w.boards[other].k3s_pid().context("k3s pid")?;
    let node = w.boards[b].node_id.to_string();
    let config = w.master_config.display().to_string();
    let t0 = Instant::now();
    master_ok(&w, &["rotate", "--config", &config, "--node-id", &node]).await?;
    let board = &w.boards[b];
    let pid2 = wait_for("k3s restarted on token version 2", MINUTE, || async {
        let s = board.status();
        Ok(s.filter(|s| {
            s["token_version"] == 2 && s["k3s"]["joined"] == true && s["k3s"]["state"] == "running"
        })
        .and_then(|s| s["k3s"]["pid"].as_u64()))
    })
    .await?;
    row.fig(
        "rotate_to_rejoined_s",
        format!("{:.2}", t0.elapsed().as_secs_f64()),
    );
    ensure!(
        pid2 != u64::from(pid1),
        "k3s was not restarted (pid {pid1})"
    );
    ensure!(!alive(pid1), "the old k3s {pid1} still runs");
    ensure!(
        k3s_agents_named(&node).len() == 1,
        "one k3s for {node}: {:?}",
        k3s_agents_named(&node)
    );
    let worker = w.worker(b).await?.context("Worker")?;
    ensure!(
        worker.worker.token_version == 2 && worker.worker.status == 2,
        "the Worker after rotation: version {} status {}",
        worker.worker.token_version,
        worker.worker.status
    );
    wait_joined(&w, &idx, MINUTE).await?;
    ensure!(
        w.boards[other].k3s_pid() == Some(other_pid),
        "the other board's k3s was restarted"
    );
    w.shutdown().await?;
    row.result = "token version 2 on chain and on the board, k3s restarted once (new pid, old one gone), the other board untouched".into();
    Ok(())
}

/// Writes `contents` to `<world>/<dir>/<name>`, 0600 in a 0700 folder; its path.
fn private_file(
    w: &World,
    dir: &str,
    name: &str,
    contents: &[u8],
) -> anyhow::Result<std::path::PathBuf> {
    let dir = w.path(dir);
    std::fs::create_dir_all(&dir)?;
    crate::stage::set_mode(&dir, 0o700)?;
    let path = dir.join(name);
    crate::stage::write_private(&path, contents)?;
    Ok(path)
}

/// Board `i`'s join token, opened from its envelope with its own sealing key (what
/// the board's owner, root on it, could always do), into a 0600 file of its own.
async fn keep_token(w: &World, i: usize) -> anyhow::Result<std::path::PathBuf> {
    let b = &w.boards[i];
    let sealing = daas_protocol::SealingKey::load(&b.root.join("var/lib/k8s-daas/sealing.key"))?;
    let o = w.worker(i).await?.context("the Worker")?;
    let envelope_key = daas_protocol::EnvelopeKey::from_secret_bytes(
        daas_protocol::hex::decode_array(&w.info.envelope_key.private)?,
    )
    .public();
    let opened = daas_protocol::envelope::open(
        &o.worker.join_envelope,
        &daas_protocol::EnvelopeContext {
            chain_id: w.chain_id,
            registry_id: w.info.registry_id,
            worker_id: o.info.id,
            node_id: b.node_id.clone(),
        },
        &sealing,
        &daas_protocol::envelope::OpenPolicy {
            envelope_key: &envelope_key,
            highest_used_version: 0,
            now_ms: daas_master::service::now_ms(),
        },
    )?;
    private_file(
        w,
        &format!("kept-{i}"),
        "token",
        opened.secret.token.expose().as_bytes(),
    )
}

/// Starts `daas-k3s agent` on board `i`'s kept data folder (its kubelet certificate)
/// with its old token, as a board whose owner restarts k3s by hand after the
/// revocation would.
fn kept_certificate_agent(w: &World, i: usize, token: &std::path::Path) -> anyhow::Result<Proc> {
    let b = &w.boards[i];
    let mut cmd = tokio::process::Command::new(&w.bins().k3s);
    cmd.arg("agent")
        .args(["--server", &w.server_url])
        .args(["--node-name", b.node_id.as_str()])
        .arg("--token-file")
        .arg(token)
        .arg("--data-dir")
        .arg(b.root.join("var/lib/rancher/k3s"))
        .env(
            "DAAS_K3S_NODE_PASSWORD_FILE",
            b.root.join("etc/rancher/node/password"),
        );
    Proc::spawn(cmd, &w.path(&format!("logs/kept-cert-{i}.log")))
}

/// The cluster side of a revoked board is gone and its name denied; a k3s on its kept
/// certificate cannot bring the Node back.
async fn assert_revoked(
    w: &World,
    i: usize,
    worker_id: daas_protocol::ObjectId,
    kept_token: &std::path::Path,
) -> anyhow::Result<&'static str> {
    let node = w.boards[i].node_id.to_string();
    let nodes: kube::Api<Node> = kube::Api::all(w.kube.clone());
    let secrets: kube::Api<Secret> = kube::Api::namespaced(w.kube.clone(), "kube-system");
    wait_for(
        "the Node, its password Secret and its token deleted, the name denied",
        MINUTE,
        || async {
            let gone = nodes.get_opt(&node).await?.is_none()
                && secrets
                    .get_opt(&format!("{node}.node-password.k3s"))
                    .await?
                    .is_none()
                && !w.tokens().await?.iter().any(|t| t.0 == worker_id)
                && denied(w).await?.contains(&node);
            Ok(gone.then_some(()))
        },
    )
    .await?;
    let thief = kept_certificate_agent(w, i, kept_token)?;
    let log = thief.log.clone();
    // k3s's own refusals: admission denies the Node (kubelet certificate still
    // valid), or the server refuses the deleted token (401).
    let refusal = wait_for("the kept certificate and token refused", MINUTE, || {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        async move {
            Ok(if text.contains("Unable to register node") {
                Some("admission denied the Node")
            } else if text.contains("401 Unauthorized") {
                Some("401 for the deleted token")
            } else {
                None
            })
        }
    })
    .await?;
    let until = Instant::now() + Duration::from_secs(5);
    while Instant::now() < until {
        ensure!(
            nodes.get_opt(&node).await?.is_none(),
            "the revoked Node came back:\n{}",
            std::fs::read_to_string(&log).unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    thief.stop(Duration::from_secs(10)).await?;
    Ok(refusal)
}

pub async fn slash(ctx: &Ctx, row: &mut Row) -> anyhow::Result<()> {
    let mut w = ctx.world(WorldOpts::default()).await?;
    let idx = join_boards(&mut w, 2, "slash", None, 2 * MINUTE).await?;
    let (b, other) = (idx[0], idx[1]);
    let pid = w.boards[b].k3s_pid().context("k3s pid")?;
    let node = w.boards[b].node_id.to_string();
    let worker_id = w.worker(b).await?.context("Worker")?.info.id;
    let kept = keep_token(&w, b).await?;
    let config = w.master_config.display().to_string();
    let key = w.admin_key().display().to_string();
    let cap = w.info.slash_cap_id.to_string();
    let t0 = Instant::now();
    master_ok(
        &w,
        &[
            "slash",
            "--config",
            &config,
            "--key",
            &key,
            "--slash-cap",
            &cap,
            "--node-id",
            &node,
            "--amount",
            "0.5SUI",
            "--reason",
            "suite: slash scenario",
        ],
    )
    .await?;
    w.wait_status(b, 5, MINUTE).await?;
    row.fig(
        "slash_to_revoked_s",
        format!("{:.2}", t0.elapsed().as_secs_f64()),
    );
    let board = &w.boards[b];
    wait_for("the board to stop k3s", MINUTE, || async {
        let stopped = board
            .status()
            .is_some_and(|s| s["phase"] == "stopped" && s["k3s"]["state"] == "stopped");
        Ok((stopped && !alive(pid) && k3s_agents_named(&node).is_empty()).then_some(()))
    })
    .await?;
    row.fig(
        "slash_to_k3s_stopped_s",
        format!("{:.2}", t0.elapsed().as_secs_f64()),
    );
    let refusal = assert_revoked(&w, b, worker_id, &kept).await?;
    row.fig("kept_certificate", refusal.replace(' ', "_"));
    wait_joined(&w, &[other], MINUTE).await?;
    w.shutdown().await?;
    row.result = "Revoked on chain; k3s stopped on the board; token, Node and password Secret deleted, name denied; a k3s restarted on the kept certificate and token refused, no Node; the other board still Active".into();
    Ok(())
}

pub async fn unstake_rejoin(ctx: &Ctx, row: &mut Row) -> anyhow::Result<()> {
    const COOLDOWN_MS: u64 = 3000;
    let mut w = ctx
        .world(WorldOpts {
            cooldown_ms: Some(COOLDOWN_MS),
            ..WorldOpts::default()
        })
        .await?;
    let idx = join_boards(&mut w, 1, "leave", None, 2 * MINUTE).await?;
    let b = idx[0];
    let node = w.boards[b].node_id.to_string();
    let first = w.worker(b).await?.context("Worker")?.info.id;
    let kept = keep_token(&w, b).await?;
    let config = w.master_config.display().to_string();
    let owner = w.owner_key(w.boards[b].owner).display().to_string();
    let owner_call = |verb: &'static str| {
        let args = [
            "owner",
            verb,
            "--config",
            &config,
            "--key",
            &owner,
            "--node-id",
            &node,
        ];
        let w = &w;
        async move { super::master_cli(w, &args).await }
    };
    let (code, _, err) = owner_call("unstake").await?;
    ensure!(code == 0, "daas-master owner unstake: exit {code}: {err}");
    w.wait_status(b, 5, MINUTE).await?;
    let board = &w.boards[b];
    wait_for("the board to stop k3s", MINUTE, || async {
        Ok(board
            .status()
            .filter(|s| s["phase"] == "stopped")
            .map(|_| ()))
    })
    .await?;
    let refusal = assert_revoked(&w, b, first, &kept).await?;
    row.fig("kept_certificate", refusal.replace(' ', "_"));
    // The stake unlocks after the cooldown; a withdraw before fails and sends nothing
    // that changes the Worker.
    tokio::time::sleep(Duration::from_millis(COOLDOWN_MS + 500)).await;
    wait_for("the withdrawal", MINUTE, || async {
        let (code, _, err) = owner_call("withdraw").await?;
        if code != 0 {
            bail!("daas-master owner withdraw: exit {code}: {err}");
        }
        Ok(Some(()))
    })
    .await?;
    ensure!(w.worker(b).await?.is_none(), "the Worker is deleted");
    // The same device registers its node_id again: a new Worker, a new envelope, and
    // the name comes off the deny-list.
    let token = w.boards[b].token.to_hex();
    let t0 = Instant::now();
    let (code, _, err) = super::register_cli(&w, &owner, &node, &token).await?;
    ensure!(code == 0, "daas-master register again: exit {code}: {err}");
    wait_joined(&w, &[b], 2 * MINUTE).await?;
    row.fig(
        "reregister_to_active_s",
        format!("{:.2}", t0.elapsed().as_secs_f64()),
    );
    let second = w.worker(b).await?.context("Worker")?;
    ensure!(
        second.info.id != first,
        "a new registration is a new Worker"
    );
    ensure!(!denied(&w).await?.contains(&node), "{node} is still denied");
    let s = w.boards[b].status().context("status")?;
    ensure!(
        s["phase"] == "joined" && s["worker_id"] == second.info.id.to_string(),
        "the board joined as the new Worker: {s}"
    );
    w.shutdown().await?;
    row.result = "Revoked, k3s stopped, withdrawn after the cooldown; re-registered as a new Worker, off the deny-list, joined again by the same running agent".into();
    Ok(())
}

pub async fn leaked_token(ctx: &Ctx, row: &mut Row) -> anyhow::Result<()> {
    const WATCH: Duration = Duration::from_secs(8);
    let mut w = ctx.world(WorldOpts::default()).await?;
    let idx = w.add_boards(1, "leak", None).await?;
    let b = idx[0];
    w.register(&idx).await?;
    let worker = w.wait_status(b, 1, MINUTE).await?;
    // The leak: the bootstrap token, as whoever could read the Secret would have it.
    let secrets: kube::Api<Secret> = kube::Api::namespaced(w.kube.clone(), "kube-system");
    let list = secrets
        .list(&kube::api::ListParams::default().labels("k8s-daas.io/node-id"))
        .await?;
    let s = list
        .items
        .iter()
        .find(|s| {
            s.metadata
                .annotations
                .as_ref()
                .and_then(|a| a.get("k8s-daas.io/worker-id"))
                .is_some_and(|id| *id == worker.info.id.to_string())
        })
        .context("the board's bootstrap token Secret")?;
    let data = s.data.as_ref().context("Secret data")?;
    let field = |k: &str| {
        data.get(k)
            .map(|v| String::from_utf8_lossy(&v.0).into_owned())
            .with_context(|| format!("Secret key {k}"))
    };
    let server_token = std::fs::read_to_string(w.path("k3s/server/token"))?;
    let hash = server_token
        .trim()
        .strip_prefix("K10")
        .and_then(|t| t.split_once("::"))
        .map(|(h, _)| h.to_string())
        .context("the server token's CA hash")?;
    let leaked = format!(
        "K10{hash}::{}.{}",
        field("token-id")?,
        field("token-secret")?
    );
    let token_file = private_file(&w, "thief", "token", leaked.as_bytes())?;
    let thief_dir = w.path("thief");
    let thief_name = "thief-0000000000000000";
    let mut cmd = tokio::process::Command::new(&w.bins().k3s);
    cmd.arg("agent")
        .args(["--server", &w.server_url, "--node-name", thief_name])
        .arg("--token-file")
        .arg(&token_file)
        .arg("--data-dir")
        .arg(thief_dir.join("k3s"))
        .env("DAAS_K3S_NODE_PASSWORD_FILE", thief_dir.join("password"));
    let thief = Proc::spawn(cmd, &w.path("logs/thief.log"))?;
    // k3s does not bind bootstrap tokens to names: the thief's Node joins...
    wait_for("the thief's Node Ready", MINUTE, || async {
        Ok(w.ready_nodes()
            .await?
            .iter()
            .any(|n| n == thief_name)
            .then_some(()))
    })
    .await?;
    // ...but nothing activates the worker on it.
    let until = Instant::now() + WATCH;
    while Instant::now() < until {
        let o = w.worker(b).await?.context("Worker")?;
        if o.worker.status != 1 {
            bail!(
                "the worker went to status {} with only the thief joined",
                o.worker.status
            );
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    row.fig("watched_s", WATCH.as_secs());
    // The real board then joins with its own envelope.
    w.start_agent(b)?;
    wait_joined(&w, &[b], 2 * MINUTE).await?;
    let http = w.master_http()?;
    let api: serde_json::Value = reqwest::get(format!("http://{http}/api/workers"))
        .await?
        .json()
        .await?;
    let listed: Vec<&str> = api["workers"]
        .as_array()
        .context("/api/workers")?
        .iter()
        .filter_map(|v| v["node_id"].as_str())
        .collect();
    ensure!(
        listed == [w.boards[b].node_id.as_str()],
        "/api/workers lists {listed:?}"
    );
    thief.stop(Duration::from_secs(10)).await?;
    w.shutdown().await?;
    row.result = format!(
        "the thief's Node joined (tokens are not bound to names) but the worker stayed TokenIssued for {} s; the real board then joined and was activated",
        WATCH.as_secs()
    );
    Ok(())
}
