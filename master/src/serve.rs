//! `daas-master run`: load the config (a bad one exits 64 naming the field), start
//! logging and the runtime, and run the service until SIGTERM or Ctrl-C.

use std::path::PathBuf;
use std::process::ExitCode;

use daas_master::config::{DEFAULT_CONFIG_PATH, MasterConfig};

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
pub fn run(args: RunArgs) -> ExitCode {
    let config = match MasterConfig::load(&args.config) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("daas-master: {e:#}");
            return ExitCode::from(64);
        }
    };
    init_tracing();
    let rt = match runtime() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("daas-master: cannot start the runtime: {e:#}");
            return ExitCode::FAILURE;
        }
    };
    match rt.block_on(daas_master::service::run(
        config,
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
