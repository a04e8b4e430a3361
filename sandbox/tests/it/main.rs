//! Integration tests of daas-sandbox: the registry scenarios S01–S23 through both real
//! clients (JSON-RPC and GraphQL) over HTTP on 127.0.0.1, with every request and
//! answer checked against Sui's specs; persistence; faults; the spec checker itself; and
//! the k3s stand-in (`daas-k3s server` and `daas-k3s agent`).

mod conformance;
mod fidelity;
mod k3s_join;
mod k3s_server;
mod persistence;
mod scenarios;
mod world;
mod write_path;
