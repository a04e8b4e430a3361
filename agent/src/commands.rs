//! The text `init`, `seal-token` and `rotate-sealing-key` print for the device's owner:
//! the seal token and the exact commands to register it (or rotate it) — a `sui client
//! ptb` line (the Sui CLI's PTB syntax, `MystenLabs/sui`
//! `docs/content/references/cli/ptb.mdx`: `--split-coins gas "[AMOUNT]"`, `--assign`,
//! `--move-call PKG::module::function ARGS…`, `@0x…` for object ids, `'"…"'` for a
//! string, `vector[…]` for bytes) and the `daas-master register` line. The `--json`
//! forms are [`InitReport`] and [`RotateReport`].

use daas_protocol::onchain::MIST_PER_SUI;
use daas_protocol::{Address, ObjectId, SealToken};
use serde::Serialize;

/// `1SUI`, `1.5SUI`, `0.000000001SUI` — the stake as `daas-master --stake` takes it.
pub fn format_sui(mist: u64) -> String {
    let whole = mist / MIST_PER_SUI;
    let frac = mist % MIST_PER_SUI;
    if frac == 0 {
        format!("{whole}SUI")
    } else {
        let f = format!("{frac:09}");
        format!("{whole}.{}SUI", f.trim_end_matches('0'))
    }
}

fn vector_literal(bytes: &[u8]) -> String {
    let items: Vec<String> = bytes.iter().map(|b| format!("0x{b:02x}")).collect();
    format!("vector[{}]", items.join(","))
}

/// `sui client ptb` that splits `stake_mist` off the gas coin and calls
/// `stake_and_register_worker(registry, coin, node_id, seal_token, clock)`.
pub fn sui_register_line(
    package: &ObjectId,
    registry: &ObjectId,
    stake_mist: u64,
    node_id: &str,
    token: &SealToken,
) -> String {
    format!(
        "sui client ptb --split-coins gas \"[{stake_mist}]\" --assign stake --move-call {package}::worker_registry::stake_and_register_worker @{registry} stake.0 '\"{node_id}\"' \"{}\" @0x6",
        vector_literal(&token.to_bytes())
    )
}

/// `sui client ptb` calling `rotate_seal_token(registry, worker, seal_token, clock)`.
pub fn sui_rotate_line(
    package: &ObjectId,
    registry: &ObjectId,
    worker: &ObjectId,
    token: &SealToken,
) -> String {
    format!(
        "sui client ptb --move-call {package}::worker_registry::rotate_seal_token @{registry} @{worker} \"{}\" @0x6",
        vector_literal(&token.to_bytes())
    )
}

/// The `daas-master register` line (the master's operator CLI signs with `--key`).
pub fn master_register_line(node_id: &str, token: &SealToken, stake_mist: u64) -> String {
    format!(
        "daas-master register --node-id {node_id} --seal-token {} --stake {} --key FILE --config FILE",
        token.to_hex(),
        format_sui(stake_mist)
    )
}

/// `daas-agent init --json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InitReport {
    /// `<label>-<fingerprint>`.
    pub node_id: String,
    /// The key directory.
    pub key_dir: String,
    /// Whether keys were generated now (false: existing keys kept).
    pub created: bool,
    /// Where `--force` moved the previous keys.
    pub retired_to: Option<String>,
    /// The identity public key (`0x` hex).
    pub identity_public_key: String,
    /// The sealing public key in use (`0x` hex).
    pub sealing_public_key: String,
    /// With `--registry` and `--owner`: what the owner registers.
    pub registration: Option<Registration>,
}

/// The seal token and the commands that register it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Registration {
    /// The registry.
    pub registry_id: String,
    /// The owner the token is made for (only this account can register it).
    pub owner: String,
    /// The 129-byte seal token, `0x` hex.
    pub seal_token: String,
    /// The stake the commands pay (MIST).
    pub stake_mist: u64,
    /// The `sui client ptb` line (with `--package`).
    pub sui_client_ptb: Option<String>,
    /// The `daas-master register` line.
    pub daas_master_register: String,
}

impl Registration {
    /// The registration of `token` for `node_id`.
    pub fn new(
        node_id: &str,
        token: &SealToken,
        registry: &ObjectId,
        owner: &Address,
        package: Option<&ObjectId>,
        stake_mist: u64,
    ) -> Self {
        Registration {
            registry_id: registry.to_string(),
            owner: owner.to_string(),
            seal_token: token.to_hex(),
            stake_mist,
            sui_client_ptb: package
                .map(|p| sui_register_line(p, registry, stake_mist, node_id, token)),
            daas_master_register: master_register_line(node_id, token, stake_mist),
        }
    }

    /// The human form.
    pub fn render(&self) -> String {
        let mut s = format!(
            "seal token (for owner {} in registry {}):\n{}\n\nregister it with the Sui CLI (stake {}):\n",
            self.owner,
            self.registry_id,
            self.seal_token,
            format_sui(self.stake_mist)
        );
        match &self.sui_client_ptb {
            Some(l) => s.push_str(&format!("{l}\n")),
            None => s.push_str("(pass --package <id> to get the `sui client ptb` line)\n"),
        }
        s.push_str(&format!(
            "\nor with the operator CLI:\n{}\n",
            self.daas_master_register
        ));
        s
    }
}

/// `daas-agent rotate-sealing-key --json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RotateReport {
    /// The node_id.
    pub node_id: String,
    /// The new sealing public key.
    pub sealing_public_key: String,
    /// Whether the key was made now (false: a pending rotation is shown again).
    pub created: bool,
    /// The new seal token for `rotate_seal_token`.
    pub seal_token: String,
    /// The `sui client ptb` line (with `--package` and `--worker`).
    pub sui_client_ptb: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use daas_protocol::{IdentityKey, NodeId, SealingKey};

    #[test]
    fn sui_amounts_print_as_the_master_cli_takes_them() {
        assert_eq!(format_sui(1_000_000_000), "1SUI");
        assert_eq!(format_sui(1_500_000_000), "1.5SUI");
        assert_eq!(format_sui(1), "0.000000001SUI");
        assert_eq!(format_sui(0), "0SUI");
    }

    #[test]
    fn the_ptb_line_carries_every_seal_token_byte_and_the_clock() {
        let identity = IdentityKey::from_secret_bytes([3; 32]);
        let sealing = SealingKey::from_secret_bytes([4; 32]);
        let node_id = NodeId::from_label("rpi", &identity.public()).unwrap();
        let registry = ObjectId::from_u64(0xab);
        let owner = Address::from_u64(0xcd);
        let token =
            SealToken::create(&identity, &sealing.public(), &registry, &owner, &node_id).unwrap();
        let line = sui_register_line(
            &ObjectId::from_u64(0x2a),
            &registry,
            1_000_000_000,
            node_id.as_str(),
            &token,
        );
        assert!(line.starts_with("sui client ptb --split-coins gas \"[1000000000]\" --assign stake --move-call 0x000000000000000000000000000000000000000000000000000000000000002a::worker_registry::stake_and_register_worker @0x00000000000000000000000000000000000000000000000000000000000000ab stake.0 "), "{line}");
        assert!(line.contains(&format!("'\"{node_id}\"'")), "{line}");
        assert!(line.ends_with(" @0x6"), "{line}");
        let inner = line
            .split("vector[")
            .nth(1)
            .unwrap()
            .split(']')
            .next()
            .unwrap();
        let bytes: Vec<u8> = inner
            .split(',')
            .map(|b| u8::from_str_radix(b.trim_start_matches("0x"), 16).unwrap())
            .collect();
        assert_eq!(bytes, token.to_bytes().to_vec());
        let reg = master_register_line(node_id.as_str(), &token, 1_000_000_000);
        assert_eq!(
            reg,
            format!(
                "daas-master register --node-id {node_id} --seal-token {} --stake 1SUI --key FILE --config FILE",
                token.to_hex()
            )
        );
    }
}
