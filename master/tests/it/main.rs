//! `daas-master` end to end: the binary against the sandbox chain over HTTP and
//! `daas-k3s server` (real HTTPS, real kube-rs traffic), with agents simulated by
//! `daas-k3s agent` processes joining with the token and node password the test opened
//! from each device's envelope.

mod cli;
mod crash;
mod dashboard;
mod ha;
mod pipeline;
mod revoke;
mod world;
