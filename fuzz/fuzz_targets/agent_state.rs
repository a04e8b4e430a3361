//! The agent's own files, read back at start and by `daas-agent status`: `state.json`
//! (pinned serial, token versions, chain time) and the status file. No panic; what
//! decodes is written back to text that decodes to the same value; rendering a status
//! (timestamps of any u64) never panics. The first byte picks the file.
#![no_main]

use daas_agent::state::State;
use daas_agent::status::Status;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&pick, b)) = data.split_first() else {
        return;
    };
    if pick % 2 == 0 {
        if let Ok(s) = State::from_json(b) {
            assert_eq!(State::from_json(&s.to_json()).expect("re-reads"), s);
            let _ = s.certified();
        }
    } else if let Ok(s) = Status::from_json(b) {
        assert_eq!(
            Status::from_json(s.to_json().as_bytes()).expect("re-reads"),
            s
        );
        let _ = s.render();
    }
});
