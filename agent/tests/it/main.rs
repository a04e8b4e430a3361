//! Integration tests of `daas-agent`: the real binary, against the sandbox chain over
//! HTTP (`daas-sandbox chain`) and, for joins, the k3s stand-in (`daas-k3s server` +
//! `daas-k3s agent` as the supervised k3s), with real signals, real `NOTIFY_SOCKET`
//! sockets and real file modes. The tests play the master's part (see `harness`).

mod ca;
mod cli;
mod harness;
mod k3s;
mod refusals;
