//! The chain commands: `register`, `owner …`, `workers`, `admin …`, `slash`, `submit`.

use std::path::PathBuf;
use std::process::ExitCode;

use daas_master::ops::admin::{self, AdminAction};
use daas_master::ops::amount::{Amount, DurationMs};
use daas_master::ops::owner::{self, OwnerAction, Registration};
use daas_master::ops::send::{self, Authority, TxReport};
use daas_master::ops::{KeySource, OpsError};
use daas_protocol::{Address, NodeId, ObjectId};

use super::{ConfigArg, JsonArg, KeyArg, block_on, fail, print};

/// The chain commands.
#[derive(Debug, clap::Subcommand)]
pub enum TxCommand {
    /// Register a device: stake SUI and record its node_id and seal token (owner).
    ///
    /// Splits stake + the registration fee in force off the gas coin and calls
    /// `stake_and_register_worker`. Reads the registry first and refuses, sending
    /// nothing, when the fee is above `--max-fee` (default 0: a fee must be accepted
    /// explicitly), the stake is below `min_stake`, the node_id is taken, or the seal
    /// token was not made by that device for this registry and this key's address.
    #[command(
        after_long_help = "Example:\n  daas-master register --config master.toml --key owner.key \\\n      --node-id rpi-7-0123456789abcdef --seal-token 0x01ab… --stake 1SUI --max-fee 0.1SUI"
    )]
    Register {
        #[command(flatten)]
        config: ConfigArg,
        #[command(flatten)]
        key: KeyArg,
        /// The device's node_id (`daas-agent init` prints it).
        #[arg(long, value_name = "ID")]
        node_id: String,
        /// The device's seal token, 0x hex of 129 bytes (`daas-agent init` prints it).
        #[arg(long, value_name = "HEX")]
        seal_token: String,
        /// Stake to hold: MIST, or SUI with the unit (`1SUI`, `0.5 SUI`).
        #[arg(long, value_name = "AMOUNT")]
        stake: Amount,
        /// The highest registration fee to pay (not refunded); default 0.
        #[arg(long, value_name = "AMOUNT", default_value = "0")]
        max_fee: Amount,
        #[command(flatten)]
        json: JsonArg,
    },
    /// The owner's calls on a registered worker.
    #[command(subcommand)]
    Owner(OwnerCommand),
    /// List every worker of the registry: node_id, id, owner, status, token_version,
    /// stake, unlock time.
    #[command(
        after_long_help = "Example:\n  daas-master workers --config master.toml --json | jq '.[] | select(.status == \"Pending\")'"
    )]
    Workers {
        #[command(flatten)]
        config: ConfigArg,
        #[command(flatten)]
        json: JsonArg,
    },
    /// The AdminCap holder's calls (parameters, certificate, caps, treasury).
    #[command(subcommand)]
    Admin(AdminCommand),
    /// Slash a worker: move AMOUNT of its stake to the treasury and stop it (SlashCap).
    #[command(
        after_long_help = "Examples:\n  daas-master slash --config master.toml --key slash.key --slash-cap 0x5c… \\\n      --node-id rpi-7-0123456789abcdef --amount 0.5SUI --reason \"served bad blocks\"\n  daas-master slash … --sender 0xc0ld… --unsigned-out slash.tx   # for a cold or multisig holder"
    )]
    Slash {
        #[command(flatten)]
        config: ConfigArg,
        #[command(flatten)]
        auth: AuthArgs,
        /// The SlashCap object id.
        #[arg(long, value_name = "ID")]
        slash_cap: ObjectId,
        /// The worker.
        #[arg(long, value_name = "ID")]
        node_id: String,
        /// How much of its stake: MIST, or SUI with the unit.
        #[arg(long, value_name = "AMOUNT")]
        amount: Amount,
        /// Why (at most 256 bytes; public, in the event).
        #[arg(long, value_name = "TEXT")]
        reason: String,
        #[command(flatten)]
        json: JsonArg,
    },
    /// Send a transaction written by `--unsigned-out` (or by
    /// `sui client … --serialize-unsigned-transaction`) with its signatures.
    ///
    /// Each signature is the Base64 `flag || signature || public key` that
    /// `sui keytool sign` prints as `suiSignature`; each is verified locally over the
    /// bytes (and its signer checked against the sender) before anything is sent.
    #[command(
        after_long_help = "Example:\n  sui keytool sign --address 0xc0ld… --data \"$(cat set-fee.tx)\"\n  daas-master submit --config master.toml --tx set-fee.tx --signature AKD4Xdlt…8w=="
    )]
    Submit {
        #[command(flatten)]
        config: ConfigArg,
        /// The unsigned transaction file (one line of Base64).
        #[arg(long, value_name = "FILE")]
        tx: PathBuf,
        /// A signature (repeat for a sponsored transaction).
        #[arg(long = "signature", value_name = "SIG", required = true, num_args = 1..)]
        signatures: Vec<String>,
        #[command(flatten)]
        json: JsonArg,
    },
}

/// `owner …`.
#[derive(Debug, clap::Subcommand)]
pub enum OwnerCommand {
    /// Leave: the worker goes Leaving; its stake unlocks after the cooldown.
    #[command(
        after_long_help = "Example:\n  daas-master owner unstake --config master.toml --key owner.key --node-id rpi-7-0123456789abcdef"
    )]
    Unstake(OwnerArgs),
    /// Take the stake back (Revoked and unlocked, or Leaving/Slashed past the grace);
    /// deletes the Worker.
    #[command(
        after_long_help = "Example:\n  daas-master owner withdraw --config master.toml --key owner.key --node-id rpi-7-0123456789abcdef"
    )]
    Withdraw(OwnerArgs),
    /// Ask the master for a new envelope (TokenIssued → Pending).
    #[command(
        after_long_help = "Example:\n  daas-master owner request-join-token --config master.toml --key owner.key --node-id rpi-7-0123456789abcdef"
    )]
    RequestJoinToken(OwnerArgs),
    /// Record a new seal token (same device key, new sealing key): back to Pending.
    #[command(
        after_long_help = "Example:\n  daas-master owner rotate-seal-token --config master.toml --key owner.key \\\n      --node-id rpi-7-0123456789abcdef --seal-token 0x01cd…"
    )]
    RotateSealToken {
        #[command(flatten)]
        owner: OwnerArgs,
        /// The new seal token (0x hex, 129 bytes).
        #[arg(long, value_name = "HEX")]
        seal_token: String,
    },
}

/// What every `owner` command takes.
#[derive(Debug, clap::Args)]
pub struct OwnerArgs {
    #[command(flatten)]
    config: ConfigArg,
    #[command(flatten)]
    key: KeyArg,
    /// The worker's node_id.
    #[arg(long, value_name = "ID")]
    node_id: String,
    #[command(flatten)]
    json: JsonArg,
}

/// Sign with `--key`, or write the unsigned transaction for `--sender`.
#[derive(Debug, clap::Args)]
pub struct AuthArgs {
    /// The cap holder's Sui key file (`-` for stdin).
    #[arg(long, value_name = "FILE", required_unless_present = "unsigned_out", conflicts_with_all = ["unsigned_out", "sender"])]
    key: Option<String>,
    /// With a `sui.keystore`: the address whose key to use.
    #[arg(long, value_name = "ADDR", requires = "key")]
    address: Option<Address>,
    /// Write the unsigned transaction (Base64 BCS TransactionData) here instead of
    /// signing; sign it offline and send it with `submit`.
    #[arg(long, value_name = "FILE", requires = "sender")]
    unsigned_out: Option<PathBuf>,
    /// The cap holder's address, with `--unsigned-out`.
    #[arg(long, value_name = "ADDR", requires = "unsigned_out")]
    sender: Option<Address>,
}

impl AuthArgs {
    fn authority(&self) -> Result<Authority, OpsError> {
        match (&self.key, &self.unsigned_out, self.sender) {
            (Some(k), _, _) => Ok(Authority::Key(
                KeySource::from_arg(k).load_sui(self.address.as_ref())?,
            )),
            (None, Some(out), Some(sender)) => Ok(Authority::Unsigned {
                sender,
                out: out.clone(),
            }),
            _ => Err(OpsError::usage(
                "--key",
                "give --key FILE, or --unsigned-out FILE with --sender ADDR",
            )),
        }
    }
}

/// `admin …`: every one takes the AdminCap and `--key` or `--unsigned-out`/`--sender`.
#[derive(Debug, clap::Subcommand)]
pub enum AdminCommand {
    /// Store a new envelope-key certificate (from `cert issue`; its serial must grow).
    #[command(
        after_long_help = "Example:\n  daas-master admin set-envelope-cert --config master.toml --key admin.key --admin-cap 0xad… --cert 0x01…"
    )]
    SetEnvelopeCert {
        #[command(flatten)]
        common: AdminArgs,
        /// The 105-byte certificate, 0x hex.
        #[arg(long, value_name = "HEX")]
        cert: String,
    },
    /// Set the minimum stake of new registrations.
    #[command(
        after_long_help = "Example:\n  daas-master admin set-min-stake --config master.toml --key admin.key --admin-cap 0xad… --amount 2SUI"
    )]
    SetMinStake {
        #[command(flatten)]
        common: AdminArgs,
        /// MIST, or SUI with the unit.
        #[arg(long, value_name = "AMOUNT")]
        amount: Amount,
    },
    /// Set the non-refundable registration fee (paid into the treasury).
    #[command(
        after_long_help = "Example:\n  daas-master admin set-registration-fee --config master.toml --key admin.key --admin-cap 0xad… --amount 0.1SUI"
    )]
    SetRegistrationFee {
        #[command(flatten)]
        common: AdminArgs,
        /// MIST, or SUI with the unit.
        #[arg(long, value_name = "AMOUNT")]
        amount: Amount,
    },
    /// Set the cooldown new registrations copy (at most 30 days).
    #[command(
        after_long_help = "Example:\n  daas-master admin set-cooldown --config master.toml --key admin.key --admin-cap 0xad… --duration 7d"
    )]
    SetCooldown {
        #[command(flatten)]
        common: AdminArgs,
        /// ms, or with a unit: 1500ms, 30s, 90m, 36h, 7d.
        #[arg(long, value_name = "DURATION")]
        duration: DurationMs,
    },
    /// Set the revoke grace new registrations copy (at most 30 days).
    #[command(
        after_long_help = "Example:\n  daas-master admin set-revoke-grace --config master.toml --key admin.key --admin-cap 0xad… --duration 1d"
    )]
    SetRevokeGrace {
        #[command(flatten)]
        common: AdminArgs,
        /// ms, or with a unit.
        #[arg(long, value_name = "DURATION")]
        duration: DurationMs,
    },
    /// Set the longest lifetime of a join envelope.
    #[command(
        after_long_help = "Example:\n  daas-master admin set-max-envelope-ttl --config master.toml --key admin.key --admin-cap 0xad… --duration 7d"
    )]
    SetMaxEnvelopeTtl {
        #[command(flatten)]
        common: AdminArgs,
        /// ms, or with a unit.
        #[arg(long, value_name = "DURATION")]
        duration: DurationMs,
    },
    /// Pay AMOUNT out of the treasury (fees and slashes) to an address.
    #[command(
        after_long_help = "Example:\n  daas-master admin withdraw-treasury --config master.toml --key admin.key --admin-cap 0xad… --amount 3SUI --to 0x7e…"
    )]
    WithdrawTreasury {
        #[command(flatten)]
        common: AdminArgs,
        /// MIST, or SUI with the unit.
        #[arg(long, value_name = "AMOUNT")]
        amount: Amount,
        /// The recipient.
        #[arg(long, value_name = "ADDR")]
        to: Address,
    },
    /// Make a MasterCap for another master's account.
    #[command(
        after_long_help = "Example:\n  daas-master admin issue-master-cap --config master.toml --key admin.key --admin-cap 0xad… --to 0x4d…"
    )]
    IssueMasterCap {
        #[command(flatten)]
        common: AdminArgs,
        /// The master's account.
        #[arg(long, value_name = "ADDR")]
        to: Address,
    },
    /// Cancel a MasterCap (its holder's calls then abort 12).
    #[command(
        after_long_help = "Example:\n  daas-master admin revoke-master-cap --config master.toml --key admin.key --admin-cap 0xad… --cap 0x3c…"
    )]
    RevokeMasterCap {
        #[command(flatten)]
        common: AdminArgs,
        /// The MasterCap's id.
        #[arg(long, value_name = "ID")]
        cap: ObjectId,
    },
    /// Make a SlashCap for an address (a cold wallet or a multisig).
    #[command(
        after_long_help = "Example:\n  daas-master admin issue-slash-cap --config master.toml --key admin.key --admin-cap 0xad… --to 0x5e…"
    )]
    IssueSlashCap {
        #[command(flatten)]
        common: AdminArgs,
        /// The holder.
        #[arg(long, value_name = "ADDR")]
        to: Address,
    },
    /// Cancel a SlashCap (slashing with it then aborts 12).
    #[command(
        after_long_help = "Example:\n  daas-master admin revoke-slash-cap --config master.toml --key admin.key --admin-cap 0xad… --cap 0x5c…"
    )]
    RevokeSlashCap {
        #[command(flatten)]
        common: AdminArgs,
        /// The SlashCap's id.
        #[arg(long, value_name = "ID")]
        cap: ObjectId,
    },
}

/// What every `admin` command takes.
#[derive(Debug, clap::Args)]
pub struct AdminArgs {
    #[command(flatten)]
    config: ConfigArg,
    #[command(flatten)]
    auth: AuthArgs,
    /// The AdminCap object id (printed by `sui client publish`).
    #[arg(long, value_name = "ID")]
    admin_cap: ObjectId,
    #[command(flatten)]
    json: JsonArg,
}

fn node_id(s: &str) -> Result<NodeId, OpsError> {
    NodeId::parse(s).map_err(|e| OpsError::usage("--node-id", e.to_string()))
}

fn finish(json: bool, r: Result<TxReport, OpsError>) -> ExitCode {
    match r {
        Ok(report) => {
            print(json, &report, || report.human());
            if report.ok() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(daas_master::ops::EXIT_FAILURE)
            }
        }
        Err(e) => fail(&e),
    }
}

fn owner_cmd(a: OwnerArgs, action: impl FnOnce() -> Result<OwnerAction, OpsError>) -> ExitCode {
    let json = a.json.json;
    let r = (|| {
        let session = a.config.session()?;
        let node = node_id(&a.node_id)?;
        let action = action()?;
        let key = a.key.load()?;
        block_on(owner::owner_call(&session, key, &node, &action))
    })();
    finish(json, r)
}

/// Runs a chain command.
pub fn run(c: TxCommand) -> ExitCode {
    match c {
        TxCommand::Register {
            config,
            key,
            node_id,
            seal_token,
            stake,
            max_fee,
            json,
        } => {
            let r = (|| {
                let session = config.session()?;
                let (node_id, seal_token) = owner::parse_device(&node_id, &seal_token)?;
                let key = key.load()?;
                let reg = Registration {
                    node_id,
                    seal_token,
                    stake,
                    max_fee,
                };
                block_on(owner::register(&session, key, &reg))
            })();
            finish(json.json, r)
        }
        TxCommand::Owner(o) => match o {
            OwnerCommand::Unstake(a) => owner_cmd(a, || Ok(OwnerAction::Unstake)),
            OwnerCommand::Withdraw(a) => owner_cmd(a, || Ok(OwnerAction::Withdraw)),
            OwnerCommand::RequestJoinToken(a) => owner_cmd(a, || Ok(OwnerAction::RequestJoinToken)),
            OwnerCommand::RotateSealToken { owner, seal_token } => owner_cmd(owner, || {
                daas_protocol::SealToken::from_hex(&seal_token)
                    .map(OwnerAction::RotateSealToken)
                    .map_err(|e| OpsError::usage("--seal-token", e.to_string()))
            }),
        },
        TxCommand::Workers { config, json } => {
            let r = (|| {
                let session = config.session()?;
                block_on(owner::workers(&session))
            })();
            match r {
                Ok(rows) => {
                    print(json.json, &rows, || owner::workers_table(&rows));
                    ExitCode::SUCCESS
                }
                Err(e) => fail(&e),
            }
        }
        TxCommand::Admin(a) => admin_cmd(a),
        TxCommand::Slash {
            config,
            auth,
            slash_cap,
            node_id: node,
            amount,
            reason,
            json,
        } => {
            let r = (|| {
                let session = config.session()?;
                let node = node_id(&node)?;
                let auth = auth.authority()?;
                block_on(admin::slash(
                    &session, &auth, slash_cap, &node, amount, &reason,
                ))
            })();
            finish(json.json, r)
        }
        TxCommand::Submit {
            config,
            tx,
            signatures,
            json,
        } => {
            let r = (|| {
                let session = config.session()?;
                block_on(send::submit(
                    &session.chain,
                    &tx,
                    &signatures,
                    &session.config.package_id,
                ))
            })();
            finish(json.json, r)
        }
    }
}

fn admin_cmd(c: AdminCommand) -> ExitCode {
    let (common, action) = match c {
        AdminCommand::SetEnvelopeCert { common, cert } => match daas_protocol::hex::decode(&cert) {
            Ok(b) => (common, AdminAction::SetEnvelopeCert(b)),
            Err(e) => return fail(&OpsError::usage("--cert", e.to_string())),
        },
        AdminCommand::SetMinStake { common, amount } => (common, AdminAction::SetMinStake(amount)),
        AdminCommand::SetRegistrationFee { common, amount } => {
            (common, AdminAction::SetRegistrationFee(amount))
        }
        AdminCommand::SetCooldown { common, duration } => {
            (common, AdminAction::SetCooldown(duration))
        }
        AdminCommand::SetRevokeGrace { common, duration } => {
            (common, AdminAction::SetRevokeGrace(duration))
        }
        AdminCommand::SetMaxEnvelopeTtl { common, duration } => {
            (common, AdminAction::SetMaxEnvelopeTtl(duration))
        }
        AdminCommand::WithdrawTreasury { common, amount, to } => {
            (common, AdminAction::WithdrawTreasury { amount, to })
        }
        AdminCommand::IssueMasterCap { common, to } => (common, AdminAction::IssueMasterCap { to }),
        AdminCommand::RevokeMasterCap { common, cap } => {
            (common, AdminAction::RevokeMasterCap { cap })
        }
        AdminCommand::IssueSlashCap { common, to } => (common, AdminAction::IssueSlashCap { to }),
        AdminCommand::RevokeSlashCap { common, cap } => {
            (common, AdminAction::RevokeSlashCap { cap })
        }
    };
    let json = common.json.json;
    let r = (|| {
        let session = common.config.session()?;
        let auth = common.auth.authority()?;
        block_on(admin::admin(&session, &auth, common.admin_cap, &action))
    })();
    finish(json, r)
}
