//! The front end of the `daas-agent` binary: argv, the environment (`NOTIFY_SOCKET`,
//! `WATCHDOG_*`, `DAAS_AGENT_LOG`), logging, the runtime and the exit code (0 ok,
//! 1 failure, 64 bad command line or config). The rest of the library takes values;
//! only [`main`] reads the process's argv and environment. It lives in the library so
//! that a multi-call binary (the demo's, DESIGN §3: `demo → agent`) runs exactly the
//! `daas-agent` that boards run.

use std::path::PathBuf;
use std::process::ExitCode;

use crate::commands::{InitReport, Registration, RotateReport, sui_rotate_line};
use crate::config::{AgentConfig, DEFAULT_CONFIG, DEFAULT_KEY_DIR};
use crate::device::{self, Device};
use crate::notify::Systemd;
use crate::service::{RunEnv, now_ms};
use crate::status::Status;
use clap::{Parser, Subcommand};
use daas_protocol::onchain::MIST_PER_SUI;
use daas_protocol::{Address, ObjectId, bundle};

/// Exit code for a bad command line or config (`EX_USAGE`).
const USAGE: u8 = 64;

/// The k8s-daas edge agent: joins this board to a k3s cluster through the Sui chain.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Args {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// Generate the device keys and print the node_id (and, with --registry and --owner,
    /// the seal token and the commands that register it).
    ///
    /// Example: `daas-agent init --label rpi --registry 0x… --owner 0x… --package 0x…`
    Init {
        /// The node_id label: 1–46 of [a-z0-9-].
        #[arg(long)]
        label: String,
        /// The key directory (created 0700).
        #[arg(long, default_value = DEFAULT_KEY_DIR)]
        dir: PathBuf,
        /// The registry the seal token is for.
        #[arg(long, requires = "owner")]
        registry: Option<ObjectId>,
        /// The Sui address that will register (only it can use the token).
        #[arg(long, requires = "registry")]
        owner: Option<Address>,
        /// The `k8s_daas` package, for the `sui client ptb` line.
        #[arg(long)]
        package: Option<ObjectId>,
        /// The stake the printed commands pay, in MIST.
        #[arg(long, default_value_t = MIST_PER_SUI)]
        stake_mist: u64,
        /// Print JSON.
        #[arg(long)]
        json: bool,
        /// Move existing keys to a dated folder and make new ones.
        #[arg(long)]
        force: bool,
    },
    /// Run the service: watch the chain, join, supervise k3s.
    ///
    /// Example: `daas-agent run --config /etc/k8s-daas/agent.toml`
    Run {
        /// The config file.
        #[arg(long, default_value = DEFAULT_CONFIG)]
        config: PathBuf,
        /// A first-boot bundle to import before starting. Default: the first of
        /// /boot/k8s-daas and /boot/firmware/k8s-daas that holds one.
        #[arg(long)]
        boot_dir: Option<PathBuf>,
    },
    /// Show what `run` is doing (read from its status file).
    ///
    /// Example: `daas-agent status --json`
    Status {
        /// The config file (names the status file).
        #[arg(long, default_value = DEFAULT_CONFIG)]
        config: PathBuf,
        /// Print the status file's JSON.
        #[arg(long)]
        json: bool,
    },
    /// Print the seal token (and registration commands) again.
    ///
    /// Example: `daas-agent seal-token --registry 0x… --owner 0x…`
    SealToken {
        /// The key directory.
        #[arg(long, default_value = DEFAULT_KEY_DIR)]
        dir: PathBuf,
        /// The registry.
        #[arg(long)]
        registry: ObjectId,
        /// The owner's address.
        #[arg(long)]
        owner: Address,
        /// The package, for the `sui client ptb` line.
        #[arg(long)]
        package: Option<ObjectId>,
        /// The stake the printed commands pay, in MIST.
        #[arg(long, default_value_t = MIST_PER_SUI)]
        stake_mist: u64,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Make a new sealing key and print its seal token for `rotate_seal_token`; the old
    /// key stays until an envelope sealed to the new one opens.
    ///
    /// Example: `daas-agent rotate-sealing-key --registry 0x… --owner 0x… --package 0x… --worker 0x…`
    RotateSealingKey {
        /// The key directory.
        #[arg(long, default_value = DEFAULT_KEY_DIR)]
        dir: PathBuf,
        /// The registry.
        #[arg(long)]
        registry: ObjectId,
        /// The owner's address.
        #[arg(long)]
        owner: Address,
        /// The package, for the `sui client ptb` line (with --worker).
        #[arg(long, requires = "worker")]
        package: Option<ObjectId>,
        /// The Worker object id, for the `sui client ptb` line.
        #[arg(long, requires = "package")]
        worker: Option<ObjectId>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Import a first-boot bundle (keys and agent.toml) and wipe it from the boot
    /// partition.
    ///
    /// Example: `daas-agent import --boot-dir /boot/k8s-daas`
    Import {
        /// The bundle. Default: the first of /boot/k8s-daas and /boot/firmware/k8s-daas
        /// that holds one.
        #[arg(long)]
        boot_dir: Option<PathBuf>,
        /// Where the bundle's agent.toml goes.
        #[arg(long, default_value = DEFAULT_CONFIG)]
        config: PathBuf,
    },
}

/// The whole `daas-agent` program: what `main.rs` calls.
pub fn main() -> ExitCode {
    let args = match parse() {
        Ok(a) => a,
        Err(code) => return code,
    };
    init_tracing();
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("daas-agent: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(dispatch(args))
}

/// Parses argv; a usage error exits 64 (help and version exit 0).
fn parse() -> Result<Args, ExitCode> {
    Args::try_parse().map_err(|e| {
        let _ = e.print();
        if e.use_stderr() {
            ExitCode::from(USAGE)
        } else {
            ExitCode::SUCCESS
        }
    })
}

/// Plain-text logs on stderr (journald adds its own metadata). The filter comes from
/// `DAAS_AGENT_LOG` as `target=level` directives (default `info`; e.g.
/// `info,daas_agent=debug,k3s=warn`) — tracing-subscriber's `Targets`, which needs no
/// regex engine on the board.
fn init_tracing() {
    use tracing_subscriber::filter::Targets;
    use tracing_subscriber::prelude::*;
    let spec = std::env::var("DAAS_AGENT_LOG").unwrap_or_else(|_| "info".into());
    let targets: Targets = spec.parse().unwrap_or_else(|e| {
        eprintln!("daas-agent: DAAS_AGENT_LOG={spec:?} is not a filter ({e}): using info");
        Targets::new().with_default(tracing::Level::INFO)
    });
    tracing_subscriber::registry()
        .with(
            tracing_subscriber::fmt::layer()
                .with_writer(std::io::stderr)
                .with_ansi(false),
        )
        .with(targets)
        .init();
}

fn fail(e: impl std::fmt::Display) -> ExitCode {
    eprintln!("daas-agent: {e}");
    ExitCode::FAILURE
}

fn usage(e: impl std::fmt::Display) -> ExitCode {
    eprintln!("daas-agent: {e}");
    ExitCode::from(USAGE)
}

fn print_json(v: &impl serde::Serialize) {
    println!("{}", serde_json::to_string_pretty(v).expect("serializes"));
}

async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        tracing::error!("cannot install SIGTERM/SIGINT handlers");
        return std::future::pending().await;
    };
    tokio::select! {
        _ = term.recv() => tracing::info!("SIGTERM"),
        _ = int.recv() => tracing::info!("SIGINT"),
    }
}

/// Runs the command.
async fn dispatch(args: Args) -> ExitCode {
    if let Err(e) = crate::sys::harden() {
        tracing::warn!(error = %e, "PR_SET_DUMPABLE/RLIMIT_CORE hardening failed");
    }
    match args.command {
        Cmd::Init {
            label,
            dir,
            registry,
            owner,
            package,
            stake_mist,
            json,
            force,
        } => {
            let out = match device::init(&dir, &label, force, now_ms()) {
                Ok(o) => o,
                Err(device::DeviceError::Label(e)) => return usage(format!("--label: {e}")),
                Err(e) => return fail(format!("{e:#}")),
            };
            let d = &out.device;
            let registration = match (registry, owner) {
                (Some(r), Some(o)) => match d.seal_token(&r, &o) {
                    Ok(t) => Some(Registration::new(
                        d.node_id.as_str(),
                        &t,
                        &r,
                        &o,
                        package.as_ref(),
                        stake_mist,
                    )),
                    Err(e) => return fail(e),
                },
                _ => None,
            };
            let report = InitReport {
                node_id: d.node_id.to_string(),
                key_dir: dir.display().to_string(),
                created: out.created,
                retired_to: out.retired_to.as_ref().map(|p| p.display().to_string()),
                identity_public_key: d.keys.identity.public().to_hex(),
                sealing_public_key: d.keys.sealing.public().to_hex(),
                registration,
            };
            if json {
                print_json(&report);
            } else {
                println!("node_id: {}", report.node_id);
                match (&report.retired_to, report.created) {
                    (Some(r), _) => println!(
                        "keys: new keys in {} (old keys moved to {r})",
                        report.key_dir
                    ),
                    (None, true) => println!("keys: new keys in {}", report.key_dir),
                    (None, false) => println!("keys: existing keys in {} kept", report.key_dir),
                }
                if let Some(r) = &report.registration {
                    println!();
                    print!("{}", r.render());
                }
            }
            ExitCode::SUCCESS
        }
        Cmd::Run { config, boot_dir } => {
            if let Some(boot_dir) = find_boot_dir(boot_dir) {
                match crate::import::import(&boot_dir, &config) {
                    Ok(Some(r)) => {
                        let note = if r.replaced_template {
                            format!(
                                " (its config replaced the unconfigured template {})",
                                config.display()
                            )
                        } else {
                            String::new()
                        };
                        tracing::info!(boot_dir = %boot_dir.display(), key_dir = %r.key_dir.display(), keys = r.keys_installed, config = r.config_installed, replaced_template = r.replaced_template, wiped = r.wiped.len(), "imported the first-boot bundle{note}")
                    }
                    Ok(None) => {}
                    Err(e) if !config.exists() => return usage(format!("{e:#}")),
                    Err(e) => tracing::error!("first-boot import refused: {e:#}"),
                }
            }
            let cfg = match AgentConfig::load(&config) {
                Ok(c) => c,
                Err(e) => return usage(e),
            };
            let env = RunEnv {
                systemd: Systemd::new(
                    std::env::var_os("NOTIFY_SOCKET").as_deref(),
                    std::env::var("WATCHDOG_USEC").ok().as_deref(),
                    std::env::var("WATCHDOG_PID").ok().as_deref(),
                ),
                path: std::env::var_os("PATH"),
            };
            match crate::run(cfg, env, shutdown_signal()).await {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    tracing::error!("{e:#}");
                    fail(format!("{e:#}"))
                }
            }
        }
        Cmd::Status { config, json } => {
            let cfg = match AgentConfig::load(&config) {
                Ok(c) => c,
                Err(e) => return usage(e),
            };
            let status = match Status::read(&cfg.status_file) {
                Ok(s) => s,
                Err(e) => return fail(e),
            };
            if json {
                print!("{}", status.to_json());
            } else {
                if !std::path::Path::new(&format!("/proc/{}", status.pid)).exists() {
                    println!(
                        "(daas-agent run, pid {}, is not running: last status below)",
                        status.pid
                    );
                }
                print!("{}", status.render());
            }
            ExitCode::SUCCESS
        }
        Cmd::SealToken {
            dir,
            registry,
            owner,
            package,
            stake_mist,
            json,
        } => {
            let d = match Device::load(&dir, None) {
                Ok(d) => d,
                Err(e) => return fail(e),
            };
            let token = match d.seal_token(&registry, &owner) {
                Ok(t) => t,
                Err(e) => return fail(e),
            };
            let r = Registration::new(
                d.node_id.as_str(),
                &token,
                &registry,
                &owner,
                package.as_ref(),
                stake_mist,
            );
            if json {
                print_json(&r);
            } else {
                print!("{}", r.render());
                if d.next_sealing.is_some() {
                    println!(
                        "\nnote: a sealing-key rotation is pending; `daas-agent rotate-sealing-key` shows its seal token"
                    );
                }
            }
            ExitCode::SUCCESS
        }
        Cmd::RotateSealingKey {
            dir,
            registry,
            owner,
            package,
            worker,
            json,
        } => {
            let mut d = match Device::load(&dir, None) {
                Ok(d) => d,
                Err(e) => return fail(e),
            };
            let (token, created) = match d.rotate_sealing_key(&registry, &owner) {
                Ok(t) => t,
                Err(e) => return fail(e),
            };
            let report = RotateReport {
                node_id: d.node_id.to_string(),
                sealing_public_key: token.sealing().to_hex(),
                created,
                seal_token: token.to_hex(),
                sui_client_ptb: package
                    .zip(worker)
                    .map(|(p, w)| sui_rotate_line(&p, &registry, &w, &token)),
            };
            if json {
                print_json(&report);
            } else {
                println!(
                    "{} sealing key {} for {}",
                    if created {
                        "new"
                    } else {
                        "pending (already created)"
                    },
                    report.sealing_public_key,
                    report.node_id
                );
                println!(
                    "seal token for rotate_seal_token (owner {owner}, registry {registry}):\n{}",
                    report.seal_token
                );
                if let Some(l) = &report.sui_client_ptb {
                    println!("\n{l}");
                }
                println!(
                    "\nthe current sealing key stays until an envelope sealed to the new one opens"
                );
            }
            ExitCode::SUCCESS
        }
        Cmd::Import { boot_dir, config } => {
            let Some(boot_dir) = find_boot_dir(boot_dir.clone()) else {
                let looked: Vec<String> = match boot_dir {
                    Some(d) => vec![d.display().to_string()],
                    None => bundle::DEFAULT_BOOT_DIRS.map(String::from).to_vec(),
                };
                println!("no first-boot bundle in {}", looked.join(" or "));
                return ExitCode::SUCCESS;
            };
            import_command(&boot_dir, &config)
        }
    }
}

/// `--boot-dir` when given, else the first of [`bundle::DEFAULT_BOOT_DIRS`] that holds
/// a bundle; `None`: no bundle there.
fn find_boot_dir(explicit: Option<PathBuf>) -> Option<PathBuf> {
    match explicit {
        Some(d) => crate::import::find_bundle(&[d]),
        None => crate::import::find_bundle(&bundle::DEFAULT_BOOT_DIRS),
    }
}

/// `daas-agent import` once a bundle was found in `boot_dir`.
fn import_command(boot_dir: &std::path::Path, config: &std::path::Path) -> ExitCode {
    match crate::import::import(boot_dir, config) {
        Ok(Some(r)) => {
            println!(
                "imported {}: keys {} in {}, config {} at {}, {} secret files wiped",
                boot_dir.display(),
                if r.keys_installed {
                    "installed"
                } else {
                    "already present"
                },
                r.key_dir.display(),
                if r.replaced_template {
                    "installed over the unconfigured template"
                } else if r.config_installed {
                    "installed"
                } else {
                    "unchanged"
                },
                config.display(),
                r.wiped.len()
            );
            ExitCode::SUCCESS
        }
        Ok(None) => {
            println!("no first-boot bundle in {}", boot_dir.display());
            ExitCode::SUCCESS
        }
        Err(crate::import::ImportError::Config(e)) => usage(format!("first-boot bundle: {e}")),
        Err(e) => fail(format!("{e:#}")),
    }
}
