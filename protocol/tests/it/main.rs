//! Integration tests of `daas-protocol`: official Sui vectors, round trips, and the
//! negative cases of DESIGN §5 (every bit flip, every wrong binding).

#[cfg(all(feature = "client", feature = "tx"))]
mod client;
mod common;
mod envelope;
mod envkey_cert;
mod move_abi;
mod seal_token;
mod sui_schemes;
mod sui_vectors;
