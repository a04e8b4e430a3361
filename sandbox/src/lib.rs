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

#[cfg(feature = "chain")]
pub mod abi;
#[cfg(feature = "conformance")]
pub mod conformance;
#[cfg(feature = "chain")]
pub mod exec;
#[cfg(feature = "chain")]
pub mod faults;
#[cfg(feature = "chain")]
pub mod gas;
#[cfg(feature = "chain")]
pub mod genesis;
#[cfg(feature = "chain")]
pub mod graphql;
#[cfg(feature = "chain")]
pub mod jsonrpc;
pub mod k3s;
#[cfg(feature = "chain")]
pub mod protocol;
#[cfg(feature = "chain")]
pub mod resolve;
#[cfg(feature = "chain")]
pub mod rules;
#[cfg(feature = "chain")]
pub mod server;
#[cfg(feature = "chain")]
pub mod store;
#[cfg(feature = "testbin")]
pub mod testbin;
#[cfg(feature = "chain")]
pub mod value;

#[cfg(feature = "chain")]
pub use faults::Faults;
#[cfg(feature = "chain")]
pub use genesis::{GenesisParams, SandboxInfo};
#[cfg(feature = "chain")]
pub use server::{Sandbox, SandboxConfig};
