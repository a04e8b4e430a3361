//! `daas-master run` and `daas-master rotate`: load the config (a bad one exits 64
//! naming the field), start logging and the runtime, and run the service until SIGTERM
//! or Ctrl-C — or record a rotation for the running service.
//!
//! The only environment variable read is the test-only `DAAS_MASTER_CRASH_AT=<step>`
//! (see `daas_master::crash`); `RUST_LOG` sets the log filter.

use std::path::PathBuf;
use std::process::ExitCode;

use std::time::Duration;

use daas_master::config::{DEFAULT_CONFIG_PATH, MasterConfig};
use daas_master::crash::CrashPoints;
use daas_master::service::RunOptions;

/// Run the master service.
///
/// Example: `daas-master run --config /etc/k8s-daas/master.toml`
#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// The master's config file (TOML; see master/README.md).
    #[arg(long, default_value = DEFAULT_CONFIG_PATH)]
    config: PathBuf,
}

fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .init();
}

fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
}

/// `daas-master run`.
fn load(path: &std::path::Path) -> Result<MasterConfig, ExitCode> {
    MasterConfig::load(path).map_err(|e| {
        eprintln!("daas-master: {e:#}");
        ExitCode::from(64)
    })
}

pub fn run(args: RunArgs) -> ExitCode {
    let config = match load(&args.config) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let crash = match std::env::var("DAAS_MASTER_CRASH_AT") {
        Ok(step) => match CrashPoints::at(&step) {
            Ok(c) => c,
            Err(e) => {
                eprintln!("daas-master: {e}");
                return ExitCode::from(64);
            }
        },
        Err(_) => CrashPoints::none(),
    };
    init_tracing();
    let rt = match runtime() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("daas-master: cannot start the runtime: {e:#}");
            return ExitCode::FAILURE;
        }
    };
    let options = RunOptions {
        crash,
        ..RunOptions::default()
    };
    match rt.block_on(daas_master::service::run_with(
        config,
        options,
        daas_master::service::shutdown_signal(),
    )) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e:#}");
            eprintln!("daas-master: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Re-issue an envelope to an Active worker (a device that lost its cluster
/// credentials). The request is written to the running master's state database (the
/// file's permissions are the authorization); the service mints a new token, seals it
/// with the worker's unchanged node password and writes the envelope on chain; the
/// token is deleted once the Node is Ready again.
///
/// Example: `daas-master rotate --config /etc/k8s-daas/master.toml --node-id rpi-a1b2c3d4e5f60718`
#[derive(Debug, clap::Args)]
pub struct RotateArgs {
    /// The master's config file (for `master.state_db`).
    #[arg(long, default_value = DEFAULT_CONFIG_PATH)]
    config: PathBuf,
    /// The node to rotate.
    #[arg(long)]
    node_id: String,
    /// How long to wait for the running master to take the request, in seconds.
    #[arg(long, default_value_t = 60)]
    wait_s: u64,
}

/// `daas-master rotate`.
pub fn rotate(args: RotateArgs) -> ExitCode {
    let config = match load(&args.config) {
        Ok(c) => c,
        Err(code) => return code,
    };
    if let Err(e) = daas_protocol::NodeId::parse(&args.node_id) {
        eprintln!("daas-master: --node-id: {e}");
        return ExitCode::from(64);
    }
    let rt = match runtime() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("daas-master: cannot start the runtime: {e:#}");
            return ExitCode::FAILURE;
        }
    };
    let result = rt.block_on(async {
        let id = daas_master::service::request_rotation(&config, &args.node_id)?;
        daas_master::service::wait_intent(&config, id, Duration::from_secs(args.wait_s)).await
    });
    match result {
        Ok(Some(r)) if r.starts_with("ok") => {
            println!("{r}");
            ExitCode::SUCCESS
        }
        Ok(Some(r)) => {
            eprintln!("daas-master: {r}");
            ExitCode::FAILURE
        }
        Ok(None) => {
            eprintln!(
                "daas-master: the request is recorded, but no running master took it within {} s: is `daas-master run` running with this config?",
                args.wait_s
            );
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("daas-master: {e:#}");
            ExitCode::FAILURE
        }
    }
}
