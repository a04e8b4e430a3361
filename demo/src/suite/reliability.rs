//! Faults and crashes: RPC chaos, `kill -9` of the master during registrations,
//! restarts of the stand-ins, `kill -9` of an agent.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use anyhow::{Context as _, ensure};

use super::e2e::MINUTE;
use super::{Ctx, Row, join_boards, k3s_agents_named, parent_of, wait_joined};
use crate::stage::{Tally, make_devices, register_each};
use crate::world::{World, WorldOpts, wait_for};

/// The fault mix of the chaos run (issue 12).
pub const CHAOS: &str = "429:0.1,5xx:0.1,timeout:0.05,malformed:0.05,drop:0.05";

/// Every envelope event since genesis; checks one envelope per worker of `expect`.
async fn one_envelope_each(w: &World, expect: usize) -> anyhow::Result<Tally> {
    let mut tally = Tally::default();
    tally.update_from(&w.chain, w.info.package_id).await?;
    ensure!(
        tally.issued_workers() == expect,
        "{} of {expect} workers got an envelope",
        tally.issued_workers()
    );
    ensure!(
        tally.duplicates() == 0,
        "{} envelopes beyond one per worker",
        tally.duplicates()
    );
    Ok(tally)
}

pub async fn rpc_chaos(ctx: &Ctx, row: &mut Row) -> anyhow::Result<()> {
    let n = ctx.size.pick(5, 20);
    let mut w = World::start(ctx.bins.clone(), WorldOpts::default()).await?;
    let idx = w.add_boards(n, "chaos", None).await?;
    // The stakers register on a healthy chain; from then on every request of the
    // master and the agents meets the faults, and reads lag two checkpoints.
    w.register(&idx).await?;
    w.set_faults(CHAOS, 2).await?;
    let t0 = Instant::now();
    w.start_master().await?;
    for &i in &idx {
        w.start_agent(i)?;
    }
    // About a third of all requests fail, and a `timeout` fault hangs until the
    // client gives up: 20 boards take minutes.
    wait_joined(&w, &idx, ctx.size.pick(5, 15) * MINUTE).await?;
    row.fig("boards", n);
    row.fig("all_active_s", format!("{:.1}", t0.elapsed().as_secs_f64()));
    w.set_faults("", 0).await?;
    let tally = one_envelope_each(&w, n).await?;
    row.fig("envelopes", tally.issued.len());
    row.fig("duplicates", tally.duplicates());
    w.shutdown().await?;
    row.result = format!("{n}/{n} Active and Ready, one envelope each, 0 duplicates");
    Ok(())
}

/// A tiny deterministic generator for the kill moments (seeded from the clock, the
/// seed printed so a run can be repeated).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

fn seed() -> u64 {
    std::env::var("DAAS_SUITE_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| daas_master::service::now_ms() | 1)
}

pub async fn master_kill(ctx: &Ctx, row: &mut Row) -> anyhow::Result<()> {
    let regs = ctx.size.pick(30, 200);
    let kills = ctx.size.pick(3, 20);
    let seed = seed();
    let mut rng = Rng(seed);
    row.fig("seed", seed);
    let mut w = ctx.world(WorldOpts::default()).await?;
    let devices = make_devices(w.info.registry_id, &w.accounts, regs, "kill");
    // Registrations arrive in small transactions over the whole run while the master
    // is killed at random moments within it.
    const BATCH: usize = 5;
    let batches = regs.div_ceil(BATCH);
    let span_ms = (kills as u64) * 2500;
    let gap = Duration::from_millis(span_ms / batches as u64);
    let mut moments: Vec<u64> = (0..kills).map(|_| rng.below(span_ms)).collect();
    moments.sort_unstable();
    let chain = w.new_client()?;
    let calls = w.calls;
    let accounts = w.accounts.clone();
    let sender = async {
        for chunk in devices.chunks(BATCH) {
            let each: Vec<_> = chunk
                .iter()
                .map(|d| (d.owner, &d.node_id, &d.token))
                .collect();
            register_each(&chain, &calls, &accounts, &each).await?;
            tokio::time::sleep(gap).await;
        }
        anyhow::Ok(())
    };
    let t0 = Instant::now();
    let killer = async {
        let mut restarts = Vec::new();
        for m in &moments {
            let at = t0 + Duration::from_millis(*m);
            tokio::time::sleep_until(at.into()).await;
            w.kill_master().await?;
            let r0 = Instant::now();
            w.start_master().await?;
            restarts.push(r0.elapsed().as_secs_f64());
        }
        anyhow::Ok(restarts)
    };
    let (sent, restarts) = tokio::join!(sender, killer);
    sent?;
    let restarts = restarts?;
    let last_kill = Instant::now();
    // Converged: every worker has exactly one envelope, of version 1, and exactly one
    // labelled bootstrap token of that version — none minted twice, none orphaned.
    let ids: HashMap<String, ()> = devices
        .iter()
        .map(|d| (d.node_id.to_string(), ()))
        .collect();
    let tally = wait_for("every registration issued", 3 * MINUTE, || async {
        let mut tally = Tally::default();
        tally.update_from(&w.chain, w.info.package_id).await?;
        Ok((tally.issued_workers() >= regs).then_some(tally))
    })
    .await?;
    ensure!(
        tally.registered.len() == regs && tally.registered.values().all(|n| ids.contains_key(n))
    );
    ensure!(
        tally.duplicates() == 0 && tally.issued.iter().all(|(_, v)| *v == 1),
        "envelopes beyond one per worker: {:?}",
        tally.issued
    );
    let tokens = wait_for("one bootstrap token per worker", MINUTE, || async {
        let t = w.tokens().await?;
        Ok((t.len() == regs).then_some(t))
    })
    .await
    .context("labelled bootstrap tokens")?;
    let mut per_worker: HashMap<_, Vec<u64>> = HashMap::new();
    for (id, v) in &tokens {
        per_worker.entry(*id).or_default().push(*v);
    }
    let orphans = tokens
        .iter()
        .filter(|(id, v)| !tally.registered.contains_key(id) || *v != 1)
        .count();
    ensure!(orphans == 0, "{orphans} orphan tokens: {tokens:?}");
    ensure!(per_worker.len() == regs && per_worker.values().all(|v| v.len() == 1));
    row.fig("registrations", regs);
    row.fig("kills", kills);
    row.fig("issued", tally.issued_workers());
    row.fig("duplicates", tally.duplicates());
    row.fig("orphan_tokens", orphans);
    row.fig(
        "restart_s_max",
        format!("{:.2}", restarts.iter().cloned().fold(0.0, f64::max)),
    );
    row.fig(
        "converged_after_last_restart_s",
        format!("{:.1}", last_kill.elapsed().as_secs_f64()),
    );
    w.shutdown().await?;
    row.result = format!(
        "{regs}/{regs} issued once each after {kills} kills; one token per worker, 0 orphans"
    );
    Ok(())
}

pub async fn stand_in_restarts(ctx: &Ctx, row: &mut Row) -> anyhow::Result<()> {
    let n = ctx.size.pick(3, 10);
    let mut w = ctx.world(WorldOpts::default()).await?;
    let first = join_boards(&mut w, 1, "early", None, 2 * MINUTE).await?;
    let idx = w.add_boards(n, "restart", None).await?;
    w.register(&idx).await?;
    for &i in &idx {
        w.start_agent(i)?;
    }
    // Mid-run: the chain goes down and comes back on its state folder, then the k3s
    // server does.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let t0 = Instant::now();
    w.restart_chain().await?;
    row.fig(
        "chain_restart_s",
        format!("{:.2}", t0.elapsed().as_secs_f64()),
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    let t1 = Instant::now();
    w.restart_k3s().await?;
    row.fig(
        "k3s_restart_s",
        format!("{:.2}", t1.elapsed().as_secs_f64()),
    );
    let all: Vec<usize> = first.iter().chain(&idx).copied().collect();
    wait_joined(&w, &all, 3 * MINUTE).await?;
    row.fig(
        "converged_after_restarts_s",
        format!("{:.1}", t0.elapsed().as_secs_f64()),
    );
    let tally = one_envelope_each(&w, n + 1).await?;
    row.fig("duplicates", tally.duplicates());
    for &i in &all {
        let name = w.boards[i].node_id.to_string();
        ensure!(
            k3s_agents_named(&name).len() == 1,
            "{name}: k3s processes {:?}",
            k3s_agents_named(&name)
        );
    }
    w.shutdown().await?;
    row.result = format!(
        "{}/{} Active and Ready after both restarts, one envelope each, one k3s per board",
        n + 1,
        n + 1
    );
    Ok(())
}

pub async fn agent_kill(ctx: &Ctx, row: &mut Row) -> anyhow::Result<()> {
    let n = ctx.size.pick(1, 3);
    let mut w = ctx.world(WorldOpts::default()).await?;
    let idx = join_boards(&mut w, n, "crash", None, 2 * MINUTE).await?;
    let mut rejoin = Vec::new();
    for &i in &idx {
        let name = w.boards[i].node_id.to_string();
        let old = w.boards[i].k3s_pid().context("k3s pid")?;
        w.kill_agent(i).await?;
        // What a crash leaves: k3s, in its own process group, still runs.
        let left = k3s_agents_named(&name);
        ensure!(
            left == [old],
            "after kill -9 of the agent: k3s {left:?}, expected [{old}]"
        );
        let t0 = Instant::now();
        w.start_agent(i)?;
        let agent = w.boards[i]
            .agent
            .as_ref()
            .map(|p| p.pid())
            .context("agent pid")?;
        let board = &w.boards[i];
        let pid = wait_for(
            "exactly one k3s, the new agent's child, joined",
            MINUTE,
            || async {
                let running = k3s_agents_named(&name);
                let joined = board
                    .status()
                    .is_some_and(|s| s["phase"] == "joined" && s["k3s"]["joined"] == true);
                Ok(
                    (joined && running.len() == 1 && parent_of(running[0]) == Some(agent))
                        .then(|| running[0]),
                )
            },
        )
        .await?;
        rejoin.push(t0.elapsed().as_secs_f64());
        ensure!(
            !super::alive(old),
            "the old k3s {old} still runs beside {pid}"
        );
        ensure!(
            board.log_text().contains("left running by a previous run"),
            "the agent did not say it stopped the k3s it found"
        );
    }
    wait_joined(&w, &idx, MINUTE).await?;
    row.fig("kills", n);
    row.fig(
        "restart_to_joined_s_max",
        format!("{:.2}", rejoin.iter().cloned().fold(0.0, f64::max)),
    );
    w.shutdown().await?;
    row.result = "the restarted agent stopped the k3s its dead predecessor left and started exactly one of its own; Node Ready, worker Active".into();
    Ok(())
}
