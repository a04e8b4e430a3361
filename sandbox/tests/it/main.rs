//! Integration tests of daas-sandbox (filled below).
