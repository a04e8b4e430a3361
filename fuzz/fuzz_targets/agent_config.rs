//! The agent's `agent.toml` (also what the first-boot bundle installs): strict TOML and
//! every field check. No panic; what parses is valid (validate agrees) with absolute
//! paths, and the paths and durations derived from it never panic.
#![no_main]

use daas_agent::AgentConfig;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(c) = AgentConfig::parse(text, "agent.toml") else {
        return;
    };
    assert!(c.validate().is_ok());
    assert!(c.key_dir.is_absolute() && c.data_dir.is_absolute() && c.status_file.is_absolute());
    assert!(c.state_file().starts_with(&c.data_dir));
    assert!(c.child_notify_socket().is_absolute());
    let _ = c.k3s.stop_grace();
    if let Some(t) = &c.k3s.teardown {
        assert_eq!(
            c.k3s.teardown_command(None).as_ref(),
            (!t.is_empty()).then_some(t)
        );
    }
    if let Some(label) = &c.label {
        assert!(daas_protocol::node_id::validate_label(label).is_ok());
    }
});
