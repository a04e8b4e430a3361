//! `daas-agent`: the k8s-daas edge agent binary. The logic is the `daas_agent` library;
//! this file parses the command line, sets up logging and the runtime, and maps the
//! outcome to an exit code (0 ok, 1 failure, 64 bad command line or config).

mod cli;

use std::process::ExitCode;

fn main() -> ExitCode {
    let args = match cli::parse() {
        Ok(a) => a,
        Err(code) => return code,
    };
    cli::init_tracing();
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
    runtime.block_on(cli::dispatch(args))
}
