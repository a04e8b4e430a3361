//! `daas-master`: the x86 service next to the k3s server that turns registrations on
//! Sui into cluster members (DESIGN §2, §7, §10).
//!
//! It follows the registry's events from a persisted cursor and reconciles by listing
//! every worker; for each Pending worker it reads the Worker from a quorum of
//! endpoints, verifies its seal token, mints a labelled bootstrap-token Secret through
//! the Kubernetes API, seals it with the worker's derived node password into a join
//! envelope, and writes the envelopes on chain in batched `set_join_token`
//! transactions — exactly once, across crashes. It activates joined nodes whose
//! node-password Secret matches and revokes leaving or slashed ones (token, Node,
//! password Secret, admission deny-list, `confirm_revoked`).
//!
//! Where it runs: one process per cluster (standbys with issue 11), with the
//! envelope key, the node-password key and a Sui account holding a `MasterCap`.
//!
//! What it must never do: put a join token or a node password in its database, a
//! log line, an event or chain state in clear; have two transactions in flight for
//! one `MasterCap`; send a transaction whose signed bytes are not stored first.

pub mod chain;
pub mod config;
pub mod crash;
pub mod dashboard;
pub mod db;
pub mod decide;
pub mod http;
pub mod k8s;
pub mod lease;
pub mod metrics;
pub mod ops;
pub mod pipeline;
pub mod service;
pub mod submit;
