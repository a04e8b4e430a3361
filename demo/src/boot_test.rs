//! `daas-demo boot-test`: one board booted the way a board boots. `cross/boot-test`
//! builds the Debian arm64 disk image (FAT boot partition, root with systemd and the
//! agent's `.deb`, persistent data partition) and Debian's arm64 kernel and initrd;
//! this command runs the rest against the suite's world of real processes on the host
//! (`daas-sandbox chain`, `daas-k3s server`, `daas-master run`, [`crate::world`]):
//!
//! 1. `daas-master fleet keygen` makes one device bundle whose `agent.toml` names the
//!    chain as the guest reaches it (qemu's user-mode network shows the host's
//!    127.0.0.1 as 10.0.2.2), `fleet register` stakes and registers it, `image stamp`
//!    writes it onto a copy of the image's FAT partition;
//! 2. `qemu-system-aarch64 -M virt` boots the copy (TCG, user-mode network only: no host
//!    interface, bridge or tap); the serial console is the test's only way in, through
//!    a root shell the image logs in on `ttyAMA0`;
//! 3. the checks: systemd runs `daas-agent.service` (`systemctl is-active`, its
//!    `STATUS=` text saying joined), the Node is Ready in `daas-k3s server`, the Worker Active on
//!    chain, the FAT copy of the bundle wiped, the keys on the data partition; then a
//!    reboot (same node_id, same node password — the server's password Secret is
//!    unchanged and accepts the node again — a new boot id), then the package installed
//!    again over the running agent (postinst restarts it: a new MainPID, joined again),
//!    then a slash (the agent stops k3s; no k3s process is left in the guest).
//!
//! It prints `boot-test: joined node=<node_id> boot_seconds=B join_seconds=J
//! rejoin_after_reboot=yes stopped_after_slash=yes`, where B is qemu's start to the
//! console's first answer (systemd has reached the login on the console) and J qemu's
//! start to the Node Ready and the Worker Active.
//!
//! The master checks `kubernetes.server_url` itself (it fetches `/cacerts` from it), so
//! the URL agents join must work on the host too: it is `https://127.0.0.1:PORT`, and
//! the image forwards the guest's 127.0.0.1:PORT to 10.0.2.2:PORT with
//! `systemd-socket-proxyd` (a unit of the test image only; the port comes on the kernel
//! command line as `daas.k3s_port=`). TLS, the CA pin and the token are end to end.

use std::path::{Path, PathBuf};
use std::process::{ExitCode, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context as _, bail};
use base64::Engine as _;
use daas_protocol::onchain::WorkerStatus;
use k8s_openapi::api::core::v1::{Node, Secret};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::process::{Child, ChildStdin};
use tokio::time::Instant;

use crate::suite::master_ok;
use crate::world::{Bins, World, WorldOpts, wait_for};

/// How the guest sees the host's 127.0.0.1 on qemu's user-mode network.
const GUEST_HOST: &str = "10.0.2.2";
const MINUTE: Duration = Duration::from_secs(60);

/// `daas-demo boot-test`: boot a stamped Debian arm64 image under qemu and check it
/// joins (run by `cross/boot-test`, which builds the image).
#[derive(Debug, clap::Args)]
pub struct BootTestArgs {
    /// The base disk image (`cross/boot-test` builds it: MBR, FAT boot, root, data).
    #[arg(long, value_name = "FILE")]
    image: PathBuf,
    /// Debian's arm64 kernel (`vmlinuz-*-arm64` from the image's /boot).
    #[arg(long, value_name = "FILE")]
    kernel: PathBuf,
    /// Its initrd.
    #[arg(long, value_name = "FILE")]
    initrd: PathBuf,
    /// Folder for this run: the stamped image (0600, it holds the device's keys until
    /// the first boot), the bundle, the serial console's log, the stand-ins' logs.
    #[arg(long, value_name = "DIR")]
    work: PathBuf,
    /// Folder with daas-master, daas-sandbox and daas-k3s (default: beside this binary).
    #[arg(long, value_name = "DIR")]
    bin_dir: Option<PathBuf>,
    /// The emulator.
    #[arg(long, value_name = "FILE", default_value = "qemu-system-aarch64")]
    qemu: PathBuf,
    /// Guest CPUs (qemu's multi-threaded TCG: one host thread each).
    #[arg(long, default_value_t = 2)]
    smp: u32,
    /// Guest memory in MiB.
    #[arg(long, default_value_t = 1024)]
    memory_mib: u32,
    /// How long one boot may take until the console answers, in seconds (emulated
    /// aarch64 on 2 cores: about a minute).
    #[arg(long, default_value_t = 600)]
    boot_timeout: u64,
    /// Also write the figures as JSON here.
    #[arg(long, value_name = "FILE")]
    json: Option<PathBuf>,
}

pub fn main(args: BootTestArgs) -> ExitCode {
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: tokio runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match rt.block_on(run(&args)) {
        Ok(line) => {
            println!("{line}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!(
                "boot-test: FAILED: {e:#}\n(serial console: {}; stand-ins' logs: {})",
                args.work.join("serial.log").display(),
                args.work.join("logs").display()
            );
            ExitCode::FAILURE
        }
    }
}

/// The figures of one run.
#[derive(Debug, Default)]
struct Figures {
    node_id: String,
    boot_seconds: f64,
    join_seconds: f64,
    reboot_boot_seconds: f64,
    rejoin_seconds: f64,
    upgrade_restart_seconds: f64,
    slash_to_stopped_seconds: f64,
}

async fn run(a: &BootTestArgs) -> anyhow::Result<String> {
    for (flag, f) in [
        ("--image", &a.image),
        ("--kernel", &a.kernel),
        ("--initrd", &a.initrd),
    ] {
        if !f.is_file() {
            bail!(
                "{flag} {}: no such file; cross/boot-test builds it",
                f.display()
            );
        }
    }
    std::fs::create_dir_all(&a.work).with_context(|| format!("--work {}", a.work.display()))?;
    crate::stage::set_mode(&a.work, 0o700)?;
    let bins = Bins::locate(a.bin_dir.as_deref())?;
    let mut w = World::start(bins, WorldOpts::default()).await?;
    w.start_master().await?;
    let out = boot_and_check(a, &mut w).await;
    let logs = a.work.join("logs");
    let _ = std::fs::create_dir_all(&logs);
    if let Ok(rd) = std::fs::read_dir(w.path("logs")) {
        for e in rd.flatten() {
            let _ = std::fs::copy(e.path(), logs.join(e.file_name()));
        }
    }
    w.shutdown().await?;
    let f = out?;
    let line = format!(
        "boot-test: joined node={} boot_seconds={:.1} join_seconds={:.1} rejoin_after_reboot=yes stopped_after_slash=yes",
        f.node_id, f.boot_seconds, f.join_seconds
    );
    if let Some(p) = &a.json {
        let v = serde_json::json!({
            "node_id": f.node_id,
            "boot_seconds": f.boot_seconds,
            "join_seconds": f.join_seconds,
            "reboot_boot_seconds": f.reboot_boot_seconds,
            "rejoin_seconds": f.rejoin_seconds,
            "upgrade_restart_seconds": f.upgrade_restart_seconds,
            "slash_to_stopped_seconds": f.slash_to_stopped_seconds,
            "rejoin_after_reboot": true,
            "stopped_after_slash": true,
        });
        std::fs::write(p, serde_json::to_vec_pretty(&v)?)
            .with_context(|| format!("--json {}", p.display()))?;
    }
    Ok(line)
}

/// The URL `endpoint` (on 127.0.0.1) as the guest reaches it.
fn guest_url(endpoint: &str) -> anyhow::Result<String> {
    let rest = endpoint
        .strip_prefix("http://127.0.0.1:")
        .with_context(|| format!("chain endpoint {endpoint}: expected http://127.0.0.1:PORT"))?;
    Ok(format!("http://{GUEST_HOST}:{rest}"))
}

/// Makes, registers and stamps the device; returns (node_id, stamped image).
async fn stamp(a: &BootTestArgs, w: &World) -> anyhow::Result<(String, PathBuf)> {
    let endpoints = [guest_url(&w.endpoint())?];
    let chain_file = a.work.join("guest-chain.toml");
    std::fs::write(&chain_file, w.chain_table(&endpoints).file())?;
    let bundles = a.work.join("bundles");
    if bundles.exists() {
        std::fs::remove_dir_all(&bundles)?;
    }
    let made = master_ok(
        w,
        &[
            "fleet",
            "keygen",
            "--count",
            "1",
            "--prefix",
            "board-",
            "--owner",
            &w.accounts[0].address().to_string(),
            "--config",
            &chain_file.display().to_string(),
            "--root-public-key",
            &w.info.root_key.public,
            "--out",
            &bundles.display().to_string(),
            "--json",
        ],
    )
    .await?;
    let made: serde_json::Value = serde_json::from_str(&made).context("fleet keygen --json")?;
    let node_id = made["created"][0]["node_id"]
        .as_str()
        .context("fleet keygen: no node_id")?
        .to_owned();
    let bundle = made["created"][0]["dir"]
        .as_str()
        .context("fleet keygen: no dir")?
        .to_owned();
    master_ok(
        w,
        &[
            "fleet",
            "register",
            "--bundles",
            &bundles.display().to_string(),
            "--key",
            &w.owner_key(0).display().to_string(),
            "--stake",
            "1SUI",
            "--config",
            &w.master_config.display().to_string(),
        ],
    )
    .await?;
    let board = a.work.join("board.img");
    master_ok(
        w,
        &[
            "image",
            "stamp",
            "--image",
            &a.image.display().to_string(),
            "--bundle",
            &bundle,
            "--out",
            &board.display().to_string(),
            "--force",
        ],
    )
    .await?;
    Ok((node_id, board))
}

async fn boot_and_check(a: &BootTestArgs, w: &mut World) -> anyhow::Result<Figures> {
    let (node_id, board) = stamp(a, w).await?;
    let mut f = Figures {
        node_id: node_id.clone(),
        ..Figures::default()
    };
    let k3s_port = w
        .server_url
        .rsplit(':')
        .next()
        .context("server_url has no port")?
        .to_owned();
    let started = Instant::now();
    let mut vm = Vm::start(a, &board, &k3s_port)?;
    let result = checks(a, w, &mut vm, &node_id, started, &mut f).await;
    if result.is_err() {
        save_journal(a, &mut vm, "guest-journal-failed.log").await;
    }
    vm.kill().await;
    result.map(|()| f)
}

async fn checks(
    a: &BootTestArgs,
    w: &World,
    vm: &mut Vm,
    node_id: &str,
    started: Instant,
    f: &mut Figures,
) -> anyhow::Result<()> {
    let boot_limit = Duration::from_secs(a.boot_timeout);
    vm.wait_shell(boot_limit).await?;
    f.boot_seconds = started.elapsed().as_secs_f64();
    eprintln!("boot-test: console answers after {:.1} s", f.boot_seconds);
    let boot_id = vm.sh("cat /proc/sys/kernel/random/boot_id").await?;

    // Joined: the Worker Active on chain and the Node Ready in the cluster.
    w.wait_active_and_ready(&[node_id], 5 * MINUTE).await?;
    f.join_seconds = started.elapsed().as_secs_f64();
    eprintln!("boot-test: joined after {:.1} s", f.join_seconds);
    check_agent_unit(vm, node_id).await?;
    let wiped = vm.sh("ls -A /boot/firmware/k8s-daas").await?;
    let left: Vec<&str> = wiped
        .split_whitespace()
        .filter(|f| *f != daas_protocol::bundle::README_FILE)
        .collect();
    if !left.is_empty() {
        bail!("the FAT copy of the bundle was not wiped: /boot/firmware/k8s-daas holds {left:?}");
    }
    let keys_on = vm
        .sh("findmnt -n -o SOURCE --target /var/lib/k8s-daas")
        .await?;
    if !keys_on.starts_with("/dev/vda3") {
        bail!("/var/lib/k8s-daas is on {keys_on:?}, not the data partition /dev/vda3");
    }
    let password = password_secret(w, node_id).await?;

    // Reboot: the same identity and node password from the data partition.
    save_journal(a, vm, "guest-journal-1.log").await;
    let reboot_at = jiff::Timestamp::now();
    let t = Instant::now();
    vm.send("systemctl --check-inhibitors=no reboot").await?;
    vm.wait_reboot(&boot_id, boot_limit).await?;
    f.reboot_boot_seconds = t.elapsed().as_secs_f64();
    let id_after = vm.sh("cat /var/lib/k8s-daas/node_id").await?;
    if id_after.trim() != node_id {
        bail!("after the reboot the board's node_id is {id_after:?}, not {node_id}");
    }
    wait_for(
        "the Node to be Ready again after the reboot",
        5 * MINUTE,
        || async {
            let hb = heartbeat(w, node_id).await?;
            Ok(hb.filter(|h| *h > reboot_at).map(|_| ()))
        },
    )
    .await?;
    check_agent_unit(vm, node_id).await?;
    f.rejoin_seconds = t.elapsed().as_secs_f64();
    if password_secret(w, node_id).await? != password {
        bail!("the node-password Secret changed across the reboot: the board lost its password");
    }
    eprintln!(
        "boot-test: rejoined after the reboot in {:.1} s",
        f.rejoin_seconds
    );

    // Upgrade: the package installed again over the running agent (what `apt upgrade`
    // does): postinst restarts it under systemd, and the node comes back.
    let t = Instant::now();
    let pid_before = vm
        .sh("systemctl show -p MainPID --value daas-agent.service")
        .await?;
    let dpkg = vm
        .sh("dpkg -i /var/cache/daas-boot-test/daas-agent.deb 2>&1 | tail -n 20; echo \"dpkg-rc=${PIPESTATUS[0]}\"")
        .await?;
    if !dpkg.contains("dpkg-rc=0")
        || !dpkg.contains("daas-agent: restarting daas-agent.service (it was running)")
    {
        bail!("dpkg -i over the running agent did not restart it:\n{dpkg}");
    }
    let pid_after = vm
        .sh("systemctl show -p MainPID --value daas-agent.service")
        .await?;
    if pid_after == pid_before || pid_after == "0" {
        bail!("the upgrade left the agent's MainPID at {pid_after} (before: {pid_before})");
    }
    check_agent_unit(vm, node_id).await?;
    f.upgrade_restart_seconds = t.elapsed().as_secs_f64();
    eprintln!(
        "boot-test: upgraded over the running agent (pid {pid_before} -> {pid_after}), joined again in {:.1} s",
        f.upgrade_restart_seconds
    );

    // Slash: the agent stops k3s.
    let t = Instant::now();
    master_ok(
        w,
        &[
            "slash",
            "--config",
            &w.master_config.display().to_string(),
            "--key",
            &w.admin_key().display().to_string(),
            "--slash-cap",
            &w.info.slash_cap_id.to_string(),
            "--node-id",
            node_id,
            "--amount",
            "0.5SUI",
            "--reason",
            "boot-test",
        ],
    )
    .await?;
    let deadline = Instant::now() + 3 * MINUTE;
    loop {
        let status = agent_status(vm).await?;
        let k3s = vm.sh("pgrep -x k3s || true").await?;
        if status["phase"] == "stopped" && status["k3s"]["state"] == "stopped" && k3s.is_empty() {
            break;
        }
        if Instant::now() > deadline {
            bail!("the board did not stop k3s after the slash: status {status}, k3s pids {k3s:?}");
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
    f.slash_to_stopped_seconds = t.elapsed().as_secs_f64();
    let reader = w.reader();
    let worker = reader.worker_by_node_id(node_id).await?.context("Worker")?;
    if worker.worker.status < WorkerStatus::Slashed as u8 {
        bail!(
            "the Worker's status is {} after the slash",
            worker.worker.status
        );
    }
    eprintln!(
        "boot-test: k3s stopped {:.1} s after the slash",
        f.slash_to_stopped_seconds
    );
    save_journal(a, vm, "guest-journal-2.log").await;
    vm.send("systemctl --check-inhibitors=no poweroff").await?;
    vm.wait_exit(2 * MINUTE).await;
    Ok(())
}

/// Best effort: the guest's journal of this boot for the agent, the forwarder and the
/// mounts, into `name` in the work folder (the agent logs no secret).
async fn save_journal(a: &BootTestArgs, vm: &mut Vm, name: &str) {
    let cmd = "journalctl -b --no-pager -o short-monotonic -u daas-agent.service -u daas-boot-test-proxy.service -u systemd-networkd.service -u local-fs.target | tail -n 400";
    if let Ok(Some(text)) = vm.sh_within(cmd, MINUTE).await {
        let _ = std::fs::write(a.work.join(name), text);
    }
}

/// systemd runs the agent, its `STATUS=` and its status file say joined, for `node_id`.
async fn check_agent_unit(vm: &mut Vm, node_id: &str) -> anyhow::Result<()> {
    let deadline = Instant::now() + 2 * MINUTE;
    loop {
        let active = vm.sh("systemctl is-active daas-agent.service").await?;
        let text = vm
            .sh("systemctl show -p StatusText --value daas-agent.service")
            .await?;
        let status = agent_status(vm).await?;
        if active == "active"
            && text.contains("joined")
            && status["k3s"]["joined"] == true
            && status["phase"] == "joined"
            && status["node_id"] == node_id
            && status["k3s"]["state"] == "running"
        {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!(
                "daas-agent.service: is-active {active:?}, STATUS={text:?}, status file {status}"
            );
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
}

async fn agent_status(vm: &mut Vm) -> anyhow::Result<serde_json::Value> {
    let text = vm.sh("daas-agent status --json").await?;
    serde_json::from_str(&text).with_context(|| format!("daas-agent status --json: {text:?}"))
}

/// The Node's Ready condition's last heartbeat.
async fn heartbeat(w: &World, node_id: &str) -> anyhow::Result<Option<jiff::Timestamp>> {
    let nodes: kube::Api<Node> = kube::Api::all(w.kube.clone());
    let Some(n) = nodes.get_opt(node_id).await? else {
        return Ok(None);
    };
    let ready = n
        .status
        .and_then(|s| s.conditions)
        .unwrap_or_default()
        .into_iter()
        .find(|c| c.type_ == "Ready" && c.status == "True");
    Ok(ready.and_then(|c| c.last_heartbeat_time).map(|t| t.0))
}

/// The data of the node's password Secret (k3s keeps a hash of the password there).
async fn password_secret(
    w: &World,
    node_id: &str,
) -> anyhow::Result<std::collections::BTreeMap<String, k8s_openapi::ByteString>> {
    let secrets: kube::Api<Secret> = kube::Api::namespaced(w.kube.clone(), "kube-system");
    let name = format!("{node_id}.node-password.k3s");
    let s = secrets
        .get_opt(&name)
        .await?
        .with_context(|| format!("no Secret kube-system/{name}"))?;
    Ok(s.data.unwrap_or_default())
}

/// The answer to command `id` in console output `text`: what `printf '@@BT%s:%s@@'`
/// printed between its markers. The echo of the typed command holds `@@BT%s:` and never
/// matches.
fn answer(text: &str, id: u64) -> Option<&str> {
    let mark = format!("@@BT{id}:");
    let start = text.find(&mark)? + mark.len();
    let end = text[start..].find("@@")?;
    Some(&text[start..start + end])
}

/// The guest: qemu, its serial console on stdin/stdout (recorded in `serial.log`).
struct Vm {
    child: Child,
    stdin: ChildStdin,
    console: Arc<Mutex<String>>,
    next: u64,
}

impl Vm {
    fn start(a: &BootTestArgs, image: &Path, k3s_port: &str) -> anyhow::Result<Vm> {
        let append = format!(
            "root=/dev/vda2 rootfstype=ext4 rw console=ttyAMA0 quiet systemd.show_status=false daas.k3s_port={k3s_port}"
        );
        let mut cmd = tokio::process::Command::new(&a.qemu);
        cmd.args(["-M", "virt", "-cpu", "cortex-a72"])
            .args(["-smp", &a.smp.to_string()])
            .args(["-m", &a.memory_mib.to_string()])
            .arg("-kernel")
            .arg(&a.kernel)
            .arg("-initrd")
            .arg(&a.initrd)
            .args(["-append", &append])
            .arg("-drive")
            .arg(format!("file={},format=raw,if=virtio", image.display()))
            // User-mode network only: the guest's connections leave from this process.
            .args(["-netdev", "user,id=net0"])
            .args(["-device", "virtio-net-pci,netdev=net0,romfile="])
            .args(["-device", "virtio-rng-pci"])
            .args(["-display", "none", "-monitor", "none", "-serial", "stdio"])
            .args(["-no-user-config", "-nodefaults"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let mut child = cmd
            .spawn()
            .with_context(|| format!("--qemu {}: cannot start it", a.qemu.display()))?;
        let stdin = child.stdin.take().context("qemu stdin")?;
        let console = Arc::new(Mutex::new(String::new()));
        let log = std::fs::File::create(a.work.join("serial.log"))?;
        for (mut r, log) in [
            (
                Box::new(child.stdout.take().context("qemu stdout")?)
                    as Box<dyn tokio::io::AsyncRead + Unpin + Send>,
                Some(log),
            ),
            (Box::new(child.stderr.take().context("qemu stderr")?), None),
        ] {
            let console = console.clone();
            let mut log = log;
            tokio::spawn(async move {
                use std::io::Write as _;
                let mut buf = vec![0u8; 8192];
                while let Ok(n) = r.read(&mut buf).await {
                    if n == 0 {
                        break;
                    }
                    let text = String::from_utf8_lossy(&buf[..n]);
                    match log.as_mut() {
                        Some(l) => {
                            let _ = l.write_all(&buf[..n]);
                        }
                        None => eprint!("qemu: {text}"),
                    }
                    console.lock().expect("console").push_str(&text);
                }
            });
        }
        Ok(Vm {
            child,
            stdin,
            console,
            next: 0,
        })
    }

    /// Types `line` on the console.
    async fn send(&mut self, line: &str) -> anyhow::Result<()> {
        self.stdin
            .write_all(format!("{line}\n").as_bytes())
            .await
            .context("the guest's console (qemu exited?)")?;
        self.stdin.flush().await?;
        Ok(())
    }

    /// Runs `cmd` in the console's shell; its output (stdout and stderr, trimmed).
    /// The answer comes back base64-encoded between markers that the echoed command
    /// line cannot contain.
    async fn sh_within(&mut self, cmd: &str, limit: Duration) -> anyhow::Result<Option<String>> {
        self.next += 1;
        let id = self.next;
        let from = self.console.lock().expect("console").len();
        self.send(&format!(
            "printf '@@BT%s:%s@@\\n' {id} \"$( ( {cmd} ) 2>&1 | base64 -w0)\""
        ))
        .await?;
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = self.child.try_wait()? {
                bail!("qemu exited ({status}) while `{cmd}` ran");
            }
            let found = {
                let c = self.console.lock().expect("console");
                c.get(from..).and_then(|t| answer(t, id)).map(str::to_owned)
            };
            if let Some(b64) = found {
                let bytes = base64::engine::general_purpose::STANDARD
                    .decode(b64.trim())
                    .with_context(|| format!("the answer to `{cmd}`"))?;
                return Ok(Some(String::from_utf8_lossy(&bytes).trim().to_owned()));
            }
            if Instant::now() > deadline {
                return Ok(None);
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    async fn sh(&mut self, cmd: &str) -> anyhow::Result<String> {
        self.sh_within(cmd, 2 * MINUTE)
            .await?
            .with_context(|| format!("the guest did not answer `{cmd}` within 2 min"))
    }

    /// Waits until the console's root shell answers (asked every few seconds: what is
    /// typed before the login is flushed).
    async fn wait_shell(&mut self, limit: Duration) -> anyhow::Result<()> {
        let deadline = Instant::now() + limit;
        loop {
            if self
                .sh_within("stty -echo; echo up", Duration::from_secs(5))
                .await?
                .is_some()
            {
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!("the guest's console gave no shell within {limit:?}");
            }
        }
    }

    /// Waits for a boot whose boot id is not `old`.
    async fn wait_reboot(&mut self, old: &str, limit: Duration) -> anyhow::Result<()> {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(id) = self
                .sh_within(
                    "stty -echo; cat /proc/sys/kernel/random/boot_id",
                    Duration::from_secs(5),
                )
                .await?
                && id != old
            {
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!("the guest did not come back from the reboot within {limit:?}");
            }
        }
    }

    async fn wait_exit(&mut self, limit: Duration) {
        let _ = tokio::time::timeout(limit, self.child.wait()).await;
    }

    async fn kill(&mut self) {
        let _ = self.child.start_kill();
        let _ = self.child.wait().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_found_between_their_markers_and_never_in_the_echo() {
        let console = "printf '@@BT%s:%s@@\\n' 7 \"$( ( true ) 2>&1 | base64 -w0)\"\r\n\
                       [  12.3] kernel noise\r\n@@BT6:b2xk@@\r\n@@BT7:YWN0aXZl@@\r\n";
        assert_eq!(answer(console, 7), Some("YWN0aXZl"));
        assert_eq!(answer(console, 6), Some("b2xk"));
        assert_eq!(answer(console, 8), None);
        assert_eq!(answer("@@BT9:unfinished", 9), None);
    }

    #[test]
    fn the_guest_reaches_the_host_loopback_through_the_user_mode_gateway() {
        assert_eq!(
            guest_url("http://127.0.0.1:9000").unwrap(),
            "http://10.0.2.2:9000"
        );
        assert_eq!(
            guest_url("http://127.0.0.1:9000/graphql").unwrap(),
            "http://10.0.2.2:9000/graphql"
        );
        let e = guest_url("http://localhost:9000").unwrap_err().to_string();
        assert!(e.contains("http://localhost:9000"), "{e}");
    }
}
