//! Hostile input: a lying RPC endpoint in front of the chain, and bad input at the
//! command lines, the configs and the master's HTTP listener.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, ensure};
use daas_protocol::envelope::JoinSecret;
use daas_protocol::secret::{JoinToken, NodePassword};
use daas_protocol::tx::PtbBuilder;
use daas_protocol::{EnvelopeKey, IdentityKey, NodeId, SealToken, SealingKey};

use super::e2e::MINUTE;
use super::proxy::{Mode, Proxy};
use super::{Ctx, Row, agent_cli, master_cli, master_ok, wait_joined};
use crate::world::{Board, World, WorldOpts, wait_for};

/// How many times `words` occurs in board `b`'s agent log.
fn count(b: &Board, words: &str) -> usize {
    b.log_text().matches(words).count()
}

/// Watches board `i` for `d`: k3s must keep running as `pid`, joined.
async fn keeps_running(w: &World, i: usize, pid: u32, d: Duration) -> anyhow::Result<()> {
    let until = Instant::now() + d;
    while Instant::now() < until {
        let b = &w.boards[i];
        ensure!(
            b.k3s_pid() == Some(pid),
            "{}: k3s {pid} was stopped or restarted (status {:?})",
            b.node_id,
            b.status().map(|s| s["summary"].clone())
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    Ok(())
}

/// Waits until board `i`'s log has more than `before` envelope rejections.
async fn rejected(w: &World, i: usize, before: usize, what: &str) -> anyhow::Result<()> {
    let b = &w.boards[i];
    wait_for(what, MINUTE, || async {
        Ok((count(b, REJECTED) > before).then_some(()))
    })
    .await
    .with_context(|| {
        b.log_text()
            .lines()
            .rev()
            .take(15)
            .collect::<Vec<_>>()
            .join("\n")
    })
}

const REJECTED: &str = "rejected the envelope on chain";

/// `daas-master rotate` for board `i`; waits until its k3s runs joined on token
/// version 2 and returns that k3s's pid.
async fn rotate(w: &World, i: usize, config: &str) -> anyhow::Result<u32> {
    let node = w.boards[i].node_id.to_string();
    master_ok(w, &["rotate", "--config", config, "--node-id", &node]).await?;
    let board = &w.boards[i];
    let pid = wait_for(&format!("{node} on token version 2"), MINUTE, || async {
        Ok(board
            .status()
            .filter(|s| s["token_version"] == 2 && s["k3s"]["joined"] == true)
            .and_then(|s| s["k3s"]["pid"].as_u64()))
    })
    .await?;
    Ok(u32::try_from(pid)?)
}

/// Resident memory of `pid`, KiB.
fn rss_kib(pid: u32) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    s.lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
}

pub async fn hostile_endpoint(ctx: &Ctx, row: &mut Row) -> anyhow::Result<()> {
    let mut w = ctx.world(WorldOpts::default()).await?;
    let proxy = Proxy::start(&w.info.rpc_url).await?;
    // Board A's only endpoint is the hostile one: everything it reads can be a lie,
    // and only its pinned root key stands between it and a forged join. Board B has
    // the hostile one and two honest ones (the sandbox by two names): requests go
    // round-robin, so every few polls its Worker is read from the liar.
    let a = w
        .add_boards(1, "hostile", Some(vec![proxy.url.clone()]))
        .await?[0];
    let honest2 = w.info.rpc_url.replace("127.0.0.1", "localhost");
    let b = w
        .add_boards(
            1,
            "quorum",
            Some(vec![proxy.url.clone(), w.info.rpc_url.clone(), honest2]),
        )
        .await?[0];
    let idx = [a, b];
    let node_a = w.boards[a].node_id.to_string();
    let node_b = w.boards[b].node_id.to_string();

    // 1. A forged envelope: sealed to A's real sealing key (public, in its seal
    // token), carrying a token for the server, signed by a key no root certified.
    let forger = Arc::new(EnvelopeKey::generate());
    let fake_token = format!("K10{}::abcdef.0123456789abcdef", "0".repeat(64));
    proxy.set(Mode::Forge {
        node_id: node_a.clone(),
        key: forger,
        chain_id: w.chain_id,
        secret: JoinSecret {
            server: w.server_url.clone(),
            token: JoinToken::new(fake_token)?,
            node_password: NodePassword::new("0".repeat(32))?,
        },
        token_version: 1,
    });
    w.register(&idx).await?;
    w.start_agent(a)?;
    w.start_agent(b)?;
    rejected(&w, a, 0, "board A to reject the forged envelope")
        .await
        .with_context(|| {
            format!(
                "the proxy had {} requests ({}), rewrote {} answers, last error {:?}",
                proxy.requests(),
                proxy.methods(),
                proxy.rewritten(),
                proxy.error()
            )
        })?;
    wait_joined(&w, &[b], 2 * MINUTE).await?;
    let sa = w.boards[a].status().context("A's status")?;
    ensure!(
        sa["k3s"]["state"] == "not_started" && sa["phase"] != "joined",
        "A started k3s on a forged envelope: {sa}"
    );
    ensure!(
        !w.ready_nodes().await?.contains(&node_a),
        "A's Node joined on a forged envelope"
    );
    row.fig("forged_answers", proxy.rewritten());

    // 2. The endpoint turns honest: A joins with the master's envelope.
    proxy.set(Mode::Pass);
    wait_joined(&w, &[a, b], 2 * MINUTE).await?;
    let pid_a = w.boards[a].k3s_pid().context("A's k3s")?;

    // 3. A fake Slashed for B from one of its three endpoints: no quorum agrees, B
    // keeps running.
    let pid_b = w.boards[b].k3s_pid().context("B's k3s")?;
    proxy.set(Mode::Status {
        node_id: node_b.clone(),
        status: 4,
    });
    let before = proxy.rewritten();
    keeps_running(&w, b, pid_b, Duration::from_secs(8)).await?;
    ensure!(proxy.rewritten() > before, "B never read the fake status");
    row.fig("fake_slashed_answers", proxy.rewritten() - before);

    // 4. Another worker's envelope: B rotates to version 2, and its envelope is then
    // served as A's (a version A has not used): the signature binds it to B.
    proxy.set(Mode::Pass);
    let config = w.master_config.display().to_string();
    let pid_b = rotate(&w, b, &config).await?;
    let env_b = w.worker(b).await?.context("B")?.worker.join_envelope;
    let n = count(&w.boards[a], REJECTED);
    proxy.set(Mode::Envelope {
        node_id: node_a.clone(),
        envelope: env_b,
        token_version: 2,
    });
    rejected(&w, a, n, "A to reject B's envelope").await?;
    keeps_running(&w, a, pid_a, Duration::from_secs(2)).await?;

    // 5. A replay: A rotates to version 2; the endpoint then serves version 1 again.
    proxy.set(Mode::Pass);
    let env_a1 = w.worker(a).await?.context("A")?.worker.join_envelope;
    let pid_a2 = rotate(&w, a, &config).await?;
    let n = count(&w.boards[a], REJECTED);
    proxy.set(Mode::Envelope {
        node_id: node_a.clone(),
        envelope: env_a1,
        token_version: 2,
    });
    rejected(&w, a, n, "A to reject the replayed version 1").await?;
    keeps_running(&w, a, pid_a2, Duration::from_secs(2)).await?;

    // 6. Garbage: a truncated body, then a 32 MiB one. B fails over to its honest
    // endpoints, A has none left; both keep k3s running, their memory bounded.
    let agent_pid = w.boards[b]
        .agent
        .as_ref()
        .map(|p| p.pid())
        .context("agent")?;
    let rss0 = rss_kib(agent_pid).unwrap_or(0);
    for (mode, what) in [
        (Mode::Malformed, "malformed"),
        (Mode::Oversized(32 << 20), "oversized"),
    ] {
        let r0 = proxy.requests();
        proxy.set(mode);
        wait_for(
            &format!("A to read through the {what} endpoint"),
            MINUTE,
            || async { Ok((proxy.requests() >= r0 + 3).then_some(())) },
        )
        .await?;
        keeps_running(&w, a, pid_a2, Duration::from_secs(3)).await?;
        keeps_running(&w, b, pid_b, Duration::from_millis(500)).await?;
    }
    let rss1 = rss_kib(agent_pid).unwrap_or(0);
    row.fig("agent_b_rss_kib_before", rss0);
    row.fig("agent_b_rss_kib_after_garbage", rss1);
    proxy.set(Mode::Pass);
    wait_joined(&w, &[a, b], MINUTE).await?;
    w.shutdown().await?;
    row.result = "forged envelope refused by a board whose only endpoint lies (no k3s, no Node); a fake Slashed from 1 of 3 endpoints ignored; another worker's envelope and a replayed v1 refused with k3s untouched; malformed and 32 MiB answers survived".into();
    Ok(())
}

/// `daas-<which> run --config` of each `(text, field)` must exit 64 naming `field`;
/// how many were refused.
async fn refuses_configs(
    w: &World,
    which: &str,
    cases: &[(String, &str)],
) -> anyhow::Result<usize> {
    for (i, (text, field)) in cases.iter().enumerate() {
        let path = w.path(&format!("bad-{which}-{i}.toml"));
        std::fs::write(&path, text)?;
        let p = path.display().to_string();
        let args = ["run", "--config", p.as_str()];
        let (code, _, err) = match which {
            "agent" => agent_cli(w, &args).await?,
            _ => master_cli(w, &args).await?,
        };
        ensure!(
            code == 64 && err.contains(field),
            "{which}.toml with a bad {field}: exit {code}: {err}"
        );
    }
    Ok(cases.len())
}

pub async fn hostile_input(ctx: &Ctx, row: &mut Row) -> anyhow::Result<()> {
    let w = ctx.world(WorldOpts::default()).await?;
    let owner = w.owner_key(0).display().to_string();
    let mut refused = 0;
    // Node ids: unicode, upper case, overlong, empty — refused before anything is sent.
    let identity = IdentityKey::generate();
    let sealing = SealingKey::generate();
    let good = NodeId::from_label("good", &identity.public())?;
    let seal = SealToken::create(
        &identity,
        &sealing.public(),
        &w.info.registry_id,
        &w.accounts[1].address(),
        &good,
    )?;
    let token = seal.to_hex();
    let overlong = format!("{}-0123456789abcdef", "a".repeat(47));
    for bad in [
        "pï-0123456789abcdef",
        "UPPER-0123456789abcdef",
        &overlong,
        "",
    ] {
        let (code, _, err) = super::register_cli(&w, &owner, bad, &token).await?;
        ensure!(
            code == 64 && err.contains("--node-id"),
            "register --node-id {bad:?}: exit {code}: {err}"
        );
        refused += 1;
    }
    for bad in ["pï", "-edge", &"a".repeat(47)] {
        let dir = w.path("keys-bad");
        let dir = dir.display().to_string();
        let (code, _, err) = agent_cli(&w, &["init", "--label", bad, "--dir", &dir]).await?;
        ensure!(
            code == 64 && err.contains("--label"),
            "daas-agent init --label {bad:?}: exit {code}: {err}"
        );
        refused += 1;
    }
    // The contract itself refuses such a name, whoever sends it (abort 5).
    let (_, reg) = w.reader().registry().await?;
    let mut b = PtbBuilder::new();
    w.calls.stake_and_register_worker(
        &mut b,
        1_000_000_000,
        "pï-0123456789abcdef",
        &seal.to_bytes(),
    );
    let sub = daas_protocol::chain::Submitter::new(&w.chain, &w.accounts[1]);
    let out = sub.submit(b.finish()).await;
    let aborted = match &out {
        Ok(o) => format!("{:?}", o.status),
        Err(e) => format!("{e:#}"),
    };
    ensure!(
        aborted.contains('5') && !matches!(&out, Ok(o) if o.is_success()),
        "a unicode node id straight to the chain: {aborted}"
    );
    let (_, reg2) = w.reader().registry().await?;
    ensure!(
        reg2.total_workers == reg.total_workers,
        "a worker was created"
    );
    refused += 1;

    // Configs: each mistake exits 64 and names the field.
    let agent_base = crate::configs::AgentToml {
        chain: w.chain_table(&[w.endpoint()]),
        root_public_key: &w.info.root_key.public,
        root: &w.path("cfg-board"),
        k3s: &w.bins().k3s,
    }
    .render();
    let agent_cases = [
        (
            agent_base.replace("[poll]", "[poll]\npoll_ms = 5"),
            "poll_ms",
        ),
        (
            agent_base.replace("endpoints = [", "endpoints = [] #"),
            "chain.endpoints",
        ),
        (
            agent_base.replace(&w.chain_id.to_string(), "not-base58-0OIl"),
            "chain_id",
        ),
        (
            agent_base.replace("pending_ms = 250", "pending_ms = \"fast\""),
            "pending_ms",
        ),
        (
            agent_base.replace(&w.info.root_key.public, "0x1234"),
            "root_public_key",
        ),
    ];
    refused += refuses_configs(&w, "agent", &agent_cases).await?;
    let master_base = std::fs::read_to_string(&w.master_config)?;
    let master_cases = [
        (
            master_base.replace("[pipeline]", "[pipeline]\nbatch = 5"),
            "batch",
        ),
        (
            master_base.replace("batch_size = 500", "batch_size = 0"),
            "batch_size",
        ),
        (
            master_base.replace(
                "[http]\nlisten = \"127.0.0.1:0\"",
                "[http]\nlisten = \"everywhere\"",
            ),
            "listen",
        ),
        (
            master_base.replace(&w.info.master_cap_id.to_string(), "0xzz"),
            "master_cap_id",
        ),
    ];
    refused += refuses_configs(&w, "master", &master_cases).await?;

    // The master's listener: an oversized and a malformed request, then it still serves.
    let http = w.master_http()?;
    let client = reqwest::Client::new();
    let big = client
        .post(format!("http://{http}/api/workers"))
        .body(vec![b'{'; 8 << 20])
        .send()
        .await;
    ensure!(
        big.as_ref().map_or(true, |r| !r.status().is_success()),
        "an 8 MiB POST was accepted"
    );
    {
        use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
        let mut s = tokio::net::TcpStream::connect(http).await?;
        s.write_all(b"\x16\x03\x01 garbage \xff\xfe\r\n\r\n")
            .await?;
        let mut buf = Vec::new();
        let _ = tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut buf)).await;
    }
    let ok = client.get(format!("http://{http}/healthz")).send().await?;
    ensure!(
        ok.status().is_success(),
        "the master stopped serving: {}",
        ok.status()
    );
    refused += 2;
    row.fig("inputs_refused", refused);
    drop(w);
    row.result = format!(
        "{refused}/{refused} refused with a message naming the field (exit 64) or by the contract (abort 5); the master still serving"
    );
    Ok(())
}
