//! `daas-sandbox`: the outside world in a box, for k8s-daas tests and the demo — a
//! Sui full-node stand-in that serves the `k8s_daas::worker_registry` contract over
//! JSON-RPC (`POST /`) and GraphQL (`POST /graphql`) on 127.0.0.1, and ([`k3s`]) a k3s
//! stand-in, the `daas-k3s` binary.
//!
//! Where it runs: in-process in tests ([`Sandbox::start`]) or as the `daas-sandbox
//! chain` binary. What it must never do: claim to be Sui (it models one contract,
//! one validator, no epochs), listen on anything but the address it is given, or
//! accept a transaction a Sui validator would refuse for the reasons it models
//! (signature, object versions, gas, limits, the registry's rules).

pub mod abi;
#[cfg(feature = "conformance")]
pub mod conformance;
pub mod exec;
pub mod faults;
pub mod gas;
pub mod genesis;
pub mod graphql;
pub mod jsonrpc;
pub mod k3s;
pub mod protocol;
pub mod resolve;
pub mod rules;
pub mod server;
pub mod store;
#[cfg(feature = "testbin")]
pub mod testbin;
pub mod value;

pub use faults::Faults;
pub use genesis::{GenesisParams, SandboxInfo};
pub use server::{Sandbox, SandboxConfig};
