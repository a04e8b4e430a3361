//! Integration tests of `daas-master`: the real binary against the sandbox chain over
//! HTTP on 127.0.0.1.

mod cli;
