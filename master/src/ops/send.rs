//! The one path every CLI transaction takes: gas and budget from the sender's coins
//! (`Submitter`), a dry run of the exact bytes (an abort is reported and nothing is
//! sent), then execution — or, for a cold or multisig signer, the unsigned bytes
//! written as `sui client … --serialize-unsigned-transaction` prints them (one line of
//! Base64 BCS `TransactionData`), to sign offline (`sui keytool sign --data …`) and send
//! with `daas-master submit --tx FILE --signature …`.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use daas_protocol::chain::{
    AnyChain, Chain, ChangeKind, ExecOutcome, ExecStatus, Spend, Submitter,
};
use daas_protocol::ids::ObjectId;
use daas_protocol::tx::{Command, ProgrammableTransaction, TransactionData};
use daas_protocol::{Address, SuiKeypair, UserSignature};
use serde::Serialize;
use serde_json::{Map, Value};

use super::OpsError;
use super::explain::{self, AbortReport, Context};

/// How long to wait, after execution, for the transaction to show in reads.
const WAIT_FOR_TRANSACTION: std::time::Duration = std::time::Duration::from_secs(60);

/// Who authorises a transaction.
pub enum Authority {
    /// A key at hand: sign and execute.
    Key(SuiKeypair),
    /// A cold or multisig signer: write the unsigned transaction for `sender` to `out`.
    Unsigned {
        /// The sender (the cap holder's address).
        sender: Address,
        /// Where to write it (never overwritten).
        out: PathBuf,
    },
}

impl Authority {
    /// The sender's address.
    pub fn sender(&self) -> Address {
        match self {
            Authority::Key(k) => k.address(),
            Authority::Unsigned { sender, .. } => *sender,
        }
    }
}

/// How a transaction ended, as the CLI reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Executed and applied.
    Success,
    /// Executed, and a Move abort undid everything but gas.
    Aborted,
    /// Executed, and failed otherwise (out of gas, a deleted input …).
    Failed,
    /// Not sent: the dry run of the exact bytes aborted or failed (no gas spent).
    DryRunAborted,
    /// Written unsigned, for offline signing.
    Unsigned,
}

/// Gas charged (MIST).
#[derive(Debug, Clone, Copy, Serialize)]
pub struct GasReport {
    /// Computation.
    pub computation: u64,
    /// Storage.
    pub storage: u64,
    /// Storage rebate.
    pub rebate: u64,
}

/// The report of a transaction command (`--json` prints it; the shape is documented in
/// master/README.md).
#[derive(Debug, Clone, Serialize)]
pub struct TxReport {
    /// The command (`owner unstake`).
    pub action: String,
    /// The sender.
    pub sender: Address,
    /// The entry functions called, in order.
    pub calls: Vec<String>,
    /// The transaction digest (Base58).
    pub digest: String,
    /// How it ended.
    pub status: Status,
    /// The abort, when it aborted (on chain or in the dry run).
    pub abort: Option<AbortReport>,
    /// The failure, when it failed otherwise.
    pub error: Option<String>,
    /// Gas charged (absent when nothing executed).
    pub gas: Option<GasReport>,
    /// Objects the transaction created (new caps, the new Worker).
    pub created: Vec<ObjectId>,
    /// The unsigned transaction file, for [`Status::Unsigned`].
    pub unsigned_file: Option<PathBuf>,
    /// Command-specific facts (node_id, amounts, the fee in force …).
    pub details: Map<String, Value>,
}

impl TxReport {
    /// Whether the command did what was asked (executed successfully, or wrote the
    /// unsigned transaction).
    pub fn ok(&self) -> bool {
        matches!(self.status, Status::Success | Status::Unsigned)
    }

    /// Human-readable lines.
    pub fn human(&self) -> String {
        let mut out = format!(
            "{}: {} from {}\n",
            self.action,
            self.calls.join(", "),
            self.sender
        );
        for (k, v) in &self.details {
            let v = match v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            out.push_str(&format!("  {k}: {v}\n"));
        }
        match self.status {
            Status::Success => out.push_str(&format!("  digest {}: success\n", self.digest)),
            Status::Aborted => out.push_str(&format!(
                "  digest {}: {}\n",
                self.digest,
                self.abort
                    .as_ref()
                    .map(|a| a.to_string())
                    .unwrap_or_default()
            )),
            Status::Failed => out.push_str(&format!(
                "  digest {}: failed: {}\n",
                self.digest,
                self.error.as_deref().unwrap_or("")
            )),
            Status::DryRunAborted => out.push_str(&format!(
                "  not sent: the dry run {}\n",
                self.abort
                    .as_ref()
                    .map(|a| a.to_string())
                    .or_else(|| self.error.as_ref().map(|e| format!("failed: {e}")))
                    .unwrap_or_default()
            )),
            Status::Unsigned => {
                let file = self
                    .unsigned_file
                    .as_deref()
                    .map(|p| p.display().to_string())
                    .unwrap_or_default();
                out.push_str(&format!(
                    "  unsigned transaction {} written to {file}\n  sign it offline: sui keytool sign --address {} --data \"$(cat {file})\"\n  then send it: daas-master submit --config FILE --tx {file} --signature <suiSignature>\n",
                    self.digest, self.sender
                ));
            }
        }
        for id in &self.created {
            out.push_str(&format!("  created {id}\n"));
        }
        if let Some(g) = &self.gas {
            out.push_str(&format!(
                "  gas: computation {} + storage {} - rebate {} MIST\n",
                g.computation, g.storage, g.rebate
            ));
        }
        out
    }
}

/// What the command is, for the report and for explaining an abort.
#[derive(Debug, Clone, Default)]
pub struct Plan<'a> {
    /// The command (`owner unstake`).
    pub action: &'a str,
    /// Abort context (the main function, the worker's status …).
    pub context: Context<'a>,
    /// Facts for the report.
    pub details: Map<String, Value>,
}

fn calls_of(pt: &ProgrammableTransaction) -> Vec<String> {
    pt.commands
        .iter()
        .filter_map(|c| match c {
            Command::MoveCall(m) => Some(m.function.clone()),
            _ => None,
        })
        .collect()
}

fn gas_of(o: &ExecOutcome) -> GasReport {
    GasReport {
        computation: o.gas.computation,
        storage: o.gas.storage,
        rebate: o.gas.rebate,
    }
}

fn report(plan: &Plan<'_>, sender: Address, calls: Vec<String>, digest: String) -> TxReport {
    TxReport {
        action: plan.action.to_string(),
        sender,
        calls,
        digest,
        status: Status::Success,
        abort: None,
        error: None,
        gas: None,
        created: vec![],
        unsigned_file: None,
        details: plan.details.clone(),
    }
}

/// Fills status, abort and error from an outcome; `dry` marks a dry run.
fn apply_status(r: &mut TxReport, status: &ExecStatus, cx: &Context<'_>, dry: bool) {
    match status {
        ExecStatus::Success => r.status = Status::Success,
        ExecStatus::MoveAbort { code, .. } => {
            r.status = if dry {
                Status::DryRunAborted
            } else {
                Status::Aborted
            };
            r.abort = Some(explain::explain(*code, cx));
        }
        ExecStatus::Failure(m) => {
            r.status = if dry {
                Status::DryRunAborted
            } else {
                Status::Failed
            };
            r.error = Some(m.clone());
        }
        other => {
            r.status = if dry {
                Status::DryRunAborted
            } else {
                Status::Failed
            };
            r.error = Some(format!("{other:?}"));
        }
    }
}

/// Builds `pt` for the authority's account, dry-runs the exact bytes, and then executes
/// it or writes it unsigned. A dry run that aborts is reported and nothing is sent.
pub async fn send(
    chain: &AnyChain,
    auth: &Authority,
    pt: ProgrammableTransaction,
    spend: Spend,
    plan: &Plan<'_>,
) -> Result<TxReport, OpsError> {
    let calls = calls_of(&pt);
    let sender = auth.sender();
    let (tx_bytes, signature) = match auth {
        Authority::Key(key) => {
            let s = Submitter::new(chain, key);
            let signed = s.sign_with(pt, spend).await?;
            (signed.tx_bytes, Some(signed.signature))
        }
        Authority::Unsigned { sender, .. } => {
            let s = Submitter::for_sender(chain, *sender);
            let data = s.prepare_with(pt, spend).await?;
            (data.to_bcs(), None)
        }
    };
    let digest = TransactionData::from_bcs(&tx_bytes)
        .map(|t| t.digest().to_string())
        .unwrap_or_default();
    let mut r = report(plan, sender, calls, digest);
    let dry = chain.dry_run(&tx_bytes).await?;
    if !dry.is_success() {
        apply_status(&mut r, &dry.status, &plan.context, true);
        return Ok(r);
    }
    match (auth, signature) {
        (Authority::Unsigned { out, .. }, _) => {
            write_unsigned(out, &tx_bytes)?;
            r.status = Status::Unsigned;
            r.unsigned_file = Some(out.clone());
            Ok(r)
        }
        (Authority::Key(_), Some(sig)) => {
            let out = chain.execute(&tx_bytes, &[sig]).await?;
            finish(chain, &mut r, &out, &plan.context).await?;
            Ok(r)
        }
        (Authority::Key(_), None) => unreachable!("a key always signs"),
    }
}

/// Records an executed outcome and waits until the transaction is readable, so the next
/// command (or the caller's read) sees its effects.
async fn finish(
    chain: &AnyChain,
    r: &mut TxReport,
    out: &ExecOutcome,
    cx: &Context<'_>,
) -> Result<(), OpsError> {
    r.digest = out.digest.to_string();
    r.gas = Some(gas_of(out));
    apply_status(r, &out.status, cx, false);
    r.created = out
        .changes
        .iter()
        .filter(|c| c.kind == ChangeKind::Created)
        .map(|c| c.id)
        .collect();
    let deadline = tokio::time::Instant::now() + WAIT_FOR_TRANSACTION;
    chain.wait_for_transaction(&out.digest, deadline).await?;
    Ok(())
}

/// Writes one line of Base64 to a new file (never replacing one).
fn write_unsigned(path: &Path, tx_bytes: &[u8]) -> Result<(), OpsError> {
    let io = |source| OpsError::Io {
        arg: "--unsigned-out",
        path: path.to_path_buf(),
        source,
    };
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .map_err(io)?;
    writeln!(f, "{}", BASE64.encode(tx_bytes)).map_err(io)?;
    f.sync_all().map_err(io)
}

/// Reads an unsigned transaction file (Base64 BCS `TransactionData`, as written by
/// `--unsigned-out` or printed by `sui client … --serialize-unsigned-transaction`).
pub fn read_unsigned(path: &Path) -> Result<(Vec<u8>, TransactionData), OpsError> {
    let text = std::fs::read_to_string(path).map_err(|source| OpsError::Io {
        arg: "--tx",
        path: path.to_path_buf(),
        source,
    })?;
    let bytes = BASE64.decode(text.trim()).map_err(|_| {
        OpsError::usage(
            "--tx",
            format!(
                "{} is not Base64: expected the one line `--unsigned-out` wrote",
                path.display()
            ),
        )
    })?;
    let tx = TransactionData::from_bcs(&bytes)
        .map_err(|e| OpsError::usage("--tx", format!("{}: {e}", path.display())))?;
    Ok((bytes, tx))
}

/// `submit`: checks every signature locally (it must verify over these bytes, and its
/// signer must be the sender or the gas owner), naming the first that fails, then
/// executes the transaction.
pub async fn submit(
    chain: &AnyChain,
    tx_file: &Path,
    signatures: &[String],
    package: &ObjectId,
) -> Result<TxReport, OpsError> {
    let (tx_bytes, tx) = read_unsigned(tx_file)?;
    if signatures.is_empty() {
        return Err(OpsError::usage(
            "--signature",
            "give at least one signature",
        ));
    }
    let sender = tx.v1().sender;
    let gas_owner = tx.v1().gas_data.owner;
    let mut sigs = Vec::with_capacity(signatures.len());
    for (i, s) in signatures.iter().enumerate() {
        let n = i + 1;
        let sig = UserSignature::from_base64(s)
            .map_err(|e| OpsError::usage("--signature", format!("signature {n}: {e}")))?;
        let signer = sig.signer();
        let expected = if signer == gas_owner {
            gas_owner
        } else {
            sender
        };
        sig.verify_transaction(&tx_bytes, &expected).map_err(|e| {
            OpsError::usage(
                "--signature",
                format!("signature {n} ({} key of {signer}): {e}", sig.scheme()),
            )
        })?;
        sigs.push(sig);
    }
    if !sigs.iter().any(|s| s.signer() == sender) {
        return Err(OpsError::usage(
            "--signature",
            format!("no signature is by the sender {sender}"),
        ));
    }
    let calls = calls_of(tx.programmable());
    let function = calls.first().cloned().unwrap_or_default();
    let registry_call = tx
        .programmable()
        .commands
        .iter()
        .any(|c| matches!(c, Command::MoveCall(m) if m.package == *package));
    let plan = Plan {
        action: "submit",
        context: Context {
            function: &function,
            action: &function,
            ..Context::default()
        },
        details: Map::new(),
    };
    let mut r = report(&plan, sender, calls.clone(), tx.digest().to_string());
    if !registry_call {
        r.details.insert(
            "note".into(),
            Value::String("the transaction calls no function of the configured package".into()),
        );
    }
    let out = chain.execute(&tx_bytes, &sigs).await?;
    finish(chain, &mut r, &out, &plan.context).await?;
    Ok(r)
}
