//! `move/sources/worker_registry.move` and `daas_protocol::onchain` agree: every entry
//! function's parameter list, the abort codes, the statuses, and the field order of
//! the objects and events that clients decode from BCS.

use daas_protocol::onchain::{ENTRY_FUNCTIONS, Param, abort};

fn source() -> String {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../move/sources/worker_registry.move"
    );
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The text between `(` and the matching `)` after `public fun <name>`.
fn params_of(src: &str, name: &str) -> Vec<String> {
    let start = src
        .find(&format!("public fun {name}("))
        .unwrap_or_else(|| panic!("no `public fun {name}` in the Move source"));
    let open = start + src[start..].find('(').unwrap();
    let mut depth = 0;
    let mut end = open;
    for (i, c) in src[open..].char_indices() {
        match c {
            '(' | '<' => depth += 1,
            ')' | '>' => {
                depth -= 1;
                if depth == 0 && c == ')' {
                    end = open + i;
                    break;
                }
            }
            _ => {}
        }
    }
    src[open + 1..end]
        .split(',')
        .map(|p| {
            p.split_once(':')
                .map(|(_, t)| t.trim().to_string())
                .unwrap_or_default()
        })
        .filter(|t| !t.is_empty())
        .collect()
}

fn move_type(p: &Param) -> &'static str {
    match p {
        Param::Registry => "&WorkerRegistry",
        Param::RegistryMut => "&mut WorkerRegistry",
        Param::WorkerMut => "&mut Worker",
        Param::WorkerByValue => "Worker",
        Param::Coin => "Coin<SUI>",
        Param::AdminCap => "&AdminCap",
        Param::SlashCap => "&SlashCap",
        Param::MasterCap => "&MasterCap",
        Param::Clock => "&Clock",
        Param::U64 => "u64",
        Param::String => "String",
        Param::Bytes => "vector<u8>",
        Param::Address => "address",
        Param::Id => "ID",
    }
}

#[test]
fn every_entry_function_has_the_parameters_the_builder_and_sandbox_use() {
    let src = source();
    for f in ENTRY_FUNCTIONS {
        let mut got = params_of(&src, f.name);
        if got.last().is_some_and(|t| t.ends_with("TxContext")) {
            got.pop();
        }
        let want: Vec<&str> = f.params.iter().map(move_type).collect();
        assert_eq!(got, want, "parameters of {}", f.name);
    }
}

#[test]
fn abort_codes_and_statuses_are_the_same_numbers() {
    let src = source();
    for code in 1..=12u64 {
        let name = abort::name(code).unwrap();
        assert!(
            src.contains(&format!("const {name}: u64 = {code};")),
            "{name} = {code} missing in Move"
        );
    }
    for (name, v) in [
        ("PENDING", 0),
        ("TOKEN_ISSUED", 1),
        ("ACTIVE", 2),
        ("LEAVING", 3),
        ("SLASHED", 4),
        ("REVOKED", 5),
    ] {
        assert!(
            src.contains(&format!("const STATUS_{name}: u8 = {v};")),
            "STATUS_{name} = {v} missing in Move"
        );
    }
}

/// Field names of `public struct <name> … { … }` in declaration order.
fn fields_of(src: &str, name: &str) -> Vec<String> {
    let start = src
        .find(&format!("public struct {name} "))
        .unwrap_or_else(|| panic!("no struct {name}"));
    let open = start + src[start..].find('{').unwrap();
    let close = open + src[open..].find('}').unwrap();
    src[open + 1..close]
        .split(',')
        .filter_map(|f| f.split_once(':').map(|(n, _)| n.trim().to_string()))
        .collect()
}

#[test]
fn struct_fields_are_in_the_order_clients_decode() {
    let src = source();
    let cases: &[(&str, &[&str])] = &[
        (
            "WorkerRegistry",
            &[
                "id",
                "workers",
                "master_caps",
                "envelope_key_cert",
                "min_stake",
                "registration_fee",
                "cooldown_ms",
                "revoke_grace_ms",
                "max_envelope_ttl_ms",
                "treasury",
                "total_stake",
                "total_workers",
            ],
        ),
        (
            "Worker",
            &[
                "id",
                "registry_id",
                "node_id",
                "owner",
                "stake",
                "status",
                "seal_token",
                "join_envelope",
                "token_version",
                "cooldown_ms",
                "registered_at_ms",
                "unlock_at_ms",
            ],
        ),
        (
            "WorkerRegisteredEvent",
            &[
                "registry_id",
                "worker_id",
                "node_id",
                "owner",
                "stake_amount",
                "seal_token",
                "timestamp_ms",
            ],
        ),
        (
            "StakeDepositedEvent",
            &[
                "registry_id",
                "worker_id",
                "node_id",
                "owner",
                "amount",
                "timestamp_ms",
            ],
        ),
        (
            "JoinTokenSetEvent",
            &[
                "registry_id",
                "worker_id",
                "node_id",
                "token_version",
                "expires_at_ms",
                "timestamp_ms",
            ],
        ),
        (
            "MasterActionSkippedEvent",
            &[
                "registry_id",
                "worker_id",
                "node_id",
                "action",
                "status",
                "timestamp_ms",
            ],
        ),
        (
            "WorkerStatusChangedEvent",
            &[
                "registry_id",
                "worker_id",
                "node_id",
                "old_status",
                "new_status",
                "timestamp_ms",
            ],
        ),
        (
            "WorkerSlashedEvent",
            &[
                "registry_id",
                "worker_id",
                "node_id",
                "amount",
                "reason",
                "timestamp_ms",
            ],
        ),
        (
            "StakeWithdrawnEvent",
            &[
                "registry_id",
                "worker_id",
                "node_id",
                "owner",
                "amount",
                "timestamp_ms",
            ],
        ),
        (
            "SealTokenRotatedEvent",
            &[
                "registry_id",
                "worker_id",
                "node_id",
                "seal_token",
                "timestamp_ms",
            ],
        ),
        (
            "EnvelopeKeyCertSetEvent",
            &["registry_id", "serial", "timestamp_ms"],
        ),
        (
            "MasterCapChangedEvent",
            &["registry_id", "cap_id", "valid", "timestamp_ms"],
        ),
    ];
    for (name, want) in cases {
        assert_eq!(fields_of(&src, name), *want, "fields of {name}");
    }
}
