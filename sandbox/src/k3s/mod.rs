//! `daas-k3s`: a k3s stand-in for k8s-daas tests and the demo.
//!
//! [`server`] serves, on one HTTPS port as k3s does, the supervisor endpoints a k3s agent
//! joins through (`/cacerts`, `/v1-k3s/...`) and the part of the Kubernetes API that the
//! master and an operator's `kubectl` use, with its own CA, k3s's token and node-password
//! rules and k3s's files under its data dir. The agent half lives beside it.
//!
//! What it must never do: claim to be k3s (it runs no kubelet, no containers, no network),
//! write a secret (token, node password, private key) to a log or to a file others can
//! read, or listen anywhere but the address it is given.

pub mod admission;
pub mod agent;
pub mod api;
pub mod auth;
pub mod controllers;
pub mod join;
/// k3s's scrypt node-password hash: the one implementation in `daas-protocol` (feature
/// `k3s`), which the master verifies with.
pub use daas_protocol::k3s as nodepassword;
pub mod objects;
pub mod pki;
pub mod resources;
pub mod selector;
pub mod server;
pub mod status;
pub mod token;
