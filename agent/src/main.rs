//! `daas-agent`: the k8s-daas edge agent binary. The logic is the `daas_agent` library;
//! [`daas_agent::cli`] is its command line, logging, runtime and exit codes.

fn main() -> std::process::ExitCode {
    daas_agent::cli::main()
}
