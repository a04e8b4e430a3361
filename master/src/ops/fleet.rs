//! Fleet provisioning: device identities made at provisioning time, hundreds at once,
//! each written only to its own card (DESIGN §1) — `fleet keygen` (one bundle per
//! device, [`super::bundle`]), `fleet register` (every bundle's node_id and seal token
//! in batched programmable transactions) and `fleet stamp` (one image per bundle,
//! [`super::image`], then the bundle's private keys removed).
//!
//! All three are resumable: `keygen` keeps the labels already made, `register` skips
//! node_ids this owner already registered (one registered by someone else is reported,
//! never retried), `stamp` skips bundles whose keys are gone (their image was written).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use daas_protocol::chain::{AnyChain, RegistryReader, Spend, fmt_sui};
use daas_protocol::envkey_cert::EnvelopeKeyCert;
use daas_protocol::node_id::validate_label;
use daas_protocol::tx::{PtbBuilder, limits};
use daas_protocol::{Address, ObjectId, SuiKeypair};
use futures::StreamExt as _;
use serde::Serialize;
use serde_json::{Map, json};

use super::amount::Amount;
use super::bundle::{self, Bundle, BundleConfig};
use super::explain::Context;
use super::image::{self, StampReport};
use super::owner::{Payment, Registration, add_registration, check_registration};
use super::send::{Authority, Plan, TxReport, send};
use super::{OpsError, Session};

/// Most registrations in one transaction: each emits two events (Sui allows 1,024 per
/// transaction) and takes two commands (1,024) and three inputs (2,048).
pub const MAX_BATCH: usize = 500;
/// Default registrations per transaction.
pub const DEFAULT_BATCH: usize = 250;
/// Bytes kept free for the rest of the transaction (sender, up to 256 gas coins,
/// budget): the commands and inputs get the remainder of Sui's 128 KiB.
const SIZE_MARGIN: usize = 24 * 1024;

/// One bundle in a report.
#[derive(Debug, Clone, Serialize)]
pub struct BundleRow {
    /// The device's node_id.
    pub node_id: String,
    /// Its folder.
    pub dir: PathBuf,
}

/// What `fleet keygen` did.
#[derive(Debug, Clone, Serialize)]
pub struct KeygenReport {
    /// The bundles folder.
    pub dir: PathBuf,
    /// The owner the seal tokens are for.
    pub owner: Address,
    /// Bundles made now.
    pub created: Vec<BundleRow>,
    /// Labels that already had a bundle (kept as they are).
    pub kept: Vec<BundleRow>,
}

/// The labels of `count` devices: `<prefix><n>`, n from 1, zero-padded to the width of
/// `count` (at least 3 digits: `pi-001` … `pi-500`).
pub fn labels(prefix: &str, count: usize) -> Result<Vec<String>, OpsError> {
    if count == 0 {
        return Err(OpsError::usage("--count", "must be at least 1"));
    }
    let width = count.to_string().len().max(3);
    let all: Vec<String> = (1..=count)
        .map(|n| format!("{prefix}{n:0width$}"))
        .collect();
    validate_label(all.last().expect("count >= 1")).map_err(|e| {
        OpsError::usage(
            "--prefix",
            format!(
                "{prefix:?} makes labels like {:?}: {e}",
                all.last().expect("count >= 1")
            ),
        )
    })?;
    Ok(all)
}

/// `fleet keygen`: a bundle for each of `count` devices in `dir` (0700), for `owner`
/// and the chain and root key in `config`. Labels that already have a bundle in `dir`
/// are kept, so a second run (or a larger `count`) only adds what is missing.
pub fn keygen(
    dir: &Path,
    count: usize,
    prefix: &str,
    owner: &Address,
    config: &BundleConfig,
) -> Result<KeygenReport, OpsError> {
    config.chain.validate("chain")?;
    let labels = labels(prefix, count)?;
    bundle::ensure_private_dir(dir).map_err(|e| OpsError::usage("--out", e.to_string()))?;
    let mut existing: HashMap<String, BundleRow> = HashMap::new();
    for path in bundle::list(dir)? {
        let b = Bundle::read(&path)?;
        let same = b.config == *config
            && b.seal_token
                .verify(&config.chain.registry_id, owner, &b.node_id)
                .is_ok();
        if !same {
            return Err(OpsError::usage(
                "--out",
                format!(
                    "{} already holds bundle {} made for another owner, chain or root key: give each batch its own --out folder",
                    dir.display(),
                    b.node_id
                ),
            ));
        }
        existing.insert(
            b.node_id.label().to_string(),
            BundleRow {
                node_id: b.node_id.to_string(),
                dir: path,
            },
        );
    }
    let mut report = KeygenReport {
        dir: dir.to_path_buf(),
        owner: *owner,
        created: Vec::new(),
        kept: Vec::new(),
    };
    for label in labels {
        if let Some(row) = existing.remove(&label) {
            report.kept.push(row);
            continue;
        }
        let b = bundle::create(dir, &label, owner, config)?;
        report.created.push(BundleRow {
            node_id: b.node_id.to_string(),
            dir: b.dir,
        });
    }
    Ok(report)
}

/// Reads every bundle in `dir`, or refuses naming `--bundles`.
pub fn read_all(dir: &Path) -> Result<Vec<Bundle>, OpsError> {
    let paths = bundle::list(dir).map_err(|e| OpsError::usage("--bundles", e.to_string()))?;
    if paths.is_empty() {
        return Err(OpsError::usage(
            "--bundles",
            format!(
                "{} holds no bundle (folders with a node_id file): make them with `daas-master fleet keygen --out {}`",
                dir.display(),
                dir.display()
            ),
        ));
    }
    paths
        .iter()
        .map(|p| Bundle::read(p).map_err(|e| OpsError::usage("--bundles", e.to_string())))
        .collect()
}

/// The fate of one bundle in `fleet register`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "snake_case", tag = "outcome")]
pub enum RegisterOutcome {
    /// Registered now.
    Registered {
        /// The new Worker.
        worker_id: Option<ObjectId>,
        /// The transaction.
        digest: String,
    },
    /// Already registered by this owner (an earlier run): skipped.
    AlreadyRegistered {
        /// The Worker.
        worker_id: ObjectId,
        /// Its status.
        status: String,
    },
    /// Registered by another owner: reported, never retried.
    RegisteredByOther {
        /// The Worker.
        worker_id: ObjectId,
        /// Its owner.
        owner: Address,
    },
    /// In a transaction that did not succeed (see its report); a new run retries it.
    Failed {
        /// The transaction (empty when not sent).
        digest: String,
    },
}

/// One line of the `fleet register` report.
#[derive(Debug, Clone, Serialize)]
pub struct RegisterRow {
    /// The node_id.
    pub node_id: String,
    /// What happened.
    #[serde(flatten)]
    pub outcome: RegisterOutcome,
}

/// What `fleet register` did.
#[derive(Debug, Clone, Serialize)]
pub struct FleetRegisterReport {
    /// The owner.
    pub owner: Address,
    /// The registry.
    pub registry_id: ObjectId,
    /// Stake per device (MIST).
    pub stake: u64,
    /// The registration fee in force, paid per device (MIST).
    pub registration_fee: u64,
    /// One row per bundle, in bundle order.
    pub bundles: Vec<RegisterRow>,
    /// The transactions sent (or dry-run), in order.
    pub transactions: Vec<TxReport>,
    /// Warnings (nothing was refused for them).
    pub warnings: Vec<String>,
}

impl FleetRegisterReport {
    /// Bundles registered by this run.
    pub fn registered(&self) -> usize {
        self.count(|o| matches!(o, RegisterOutcome::Registered { .. }))
    }
    /// Bundles skipped as already registered by this owner.
    pub fn skipped(&self) -> usize {
        self.count(|o| matches!(o, RegisterOutcome::AlreadyRegistered { .. }))
    }
    /// Bundles whose node_id someone else registered.
    pub fn foreign(&self) -> usize {
        self.count(|o| matches!(o, RegisterOutcome::RegisteredByOther { .. }))
    }
    /// Bundles in a transaction that failed.
    pub fn failed(&self) -> usize {
        self.count(|o| matches!(o, RegisterOutcome::Failed { .. }))
    }
    fn count(&self, f: impl Fn(&RegisterOutcome) -> bool) -> usize {
        self.bundles.iter().filter(|r| f(&r.outcome)).count()
    }
    /// Whether every bundle is registered to this owner (now or before).
    pub fn ok(&self) -> bool {
        self.foreign() == 0 && self.failed() == 0
    }
}

/// Checks that every bundle is for the session's chain and registry, and that the
/// registry's envelope-key certificate verifies under the root key the bundles pin
/// (devices pinning another root would never accept an envelope). Returns warnings.
fn check_bundles_match(
    session: &Session,
    bundles: &[Bundle],
    cert: &[u8],
) -> Result<Vec<String>, OpsError> {
    let c = &session.config;
    let mut warnings = Vec::new();
    let parsed = EnvelopeKeyCert::from_bytes(cert).ok();
    if parsed.is_none() {
        warnings.push(format!(
            "registry {} has no envelope-key certificate yet: the devices cannot join until the operator sets one (`daas-master admin set-envelope-cert`)",
            c.registry_id
        ));
    }
    let mut roots_checked = Vec::new();
    for b in bundles {
        let bc = &b.config.chain;
        if bc.chain_id != c.chain_id
            || bc.registry_id != c.registry_id
            || bc.package_id != c.package_id
        {
            return Err(OpsError::usage(
                "--bundles",
                format!(
                    "bundle {} is for chain {} registry {}, not the configured chain {} registry {}: register each deployment's bundles with its own --config",
                    b.dir.display(),
                    bc.chain_id,
                    bc.registry_id,
                    c.chain_id,
                    c.registry_id
                ),
            ));
        }
        let root = b.config.root_public_key;
        if let Some(cert) = &parsed
            && !roots_checked.contains(&root)
        {
            cert.verify(&root, &c.chain_id, &c.registry_id).map_err(|e| {
                OpsError::Refused(format!(
                    "bundle {} pins root key {root}, but the registry's envelope-key certificate does not verify under it ({e}): these devices would never accept an envelope; nothing was sent (make the bundles again with the operator's root public key)",
                    b.dir.display()
                ))
            })?;
            roots_checked.push(root);
        }
    }
    Ok(warnings)
}

/// The registry's table: node_id → Worker id, for every registered node_id.
async fn registered_ids(
    reader: &RegistryReader<&AnyChain>,
) -> Result<HashMap<String, ObjectId>, OpsError> {
    Ok(reader
        .all_workers()
        .await?
        .into_iter()
        .map(|e| (e.key, e.value))
        .collect())
}

/// Splits `items` into batches within `max` registrations and Sui's size, command and
/// input limits.
fn batches(items: &[(Registration, Payment)], max: usize) -> Vec<std::ops::Range<usize>> {
    let mut out = Vec::new();
    let mut start = 0;
    while start < items.len() {
        // registry and clock once; per registration a SplitCoins and a Move call
        // (~120 bytes), the amount, the node_id and the 129-byte seal token
        let (mut size, mut commands, mut inputs) = (200usize, 0usize, 2usize);
        let mut end = start;
        while end < items.len() && end - start < max {
            let grow = 120 + 11 + (items[end].0.node_id.as_str().len() + 4) + 133;
            if commands + 2 > limits::MAX_COMMANDS
                || inputs + 3 > limits::MAX_INPUTS
                || size + grow + SIZE_MARGIN > limits::MAX_TX_SIZE
            {
                break;
            }
            size += grow;
            commands += 2;
            inputs += 3;
            end += 1;
        }
        out.push(start..end);
        start = end;
    }
    out
}

/// `fleet register`: registers every bundle in `bundles` for `key`'s address with
/// `stake` each (plus the fee in force, at most `max_fee`), `batch` per transaction,
/// each transaction dry-run first; skips node_ids this owner already registered and
/// reports those someone else registered. Checks everything before sending anything:
/// chain and registry of every bundle, the seal tokens for this owner, stake and fee.
pub async fn register(
    session: &Session,
    key: SuiKeypair,
    bundles: &[Bundle],
    stake: Amount,
    max_fee: Amount,
    batch: usize,
) -> Result<FleetRegisterReport, OpsError> {
    if batch == 0 || batch > MAX_BATCH {
        return Err(OpsError::usage(
            "--batch",
            format!("must be between 1 and {MAX_BATCH}"),
        ));
    }
    let owner = key.address();
    let (reg, calls) = session.registry().await?;
    let warnings = check_bundles_match(session, bundles, &reg.envelope_key_cert)?;
    let registry_id = session.config.registry_id;
    let mut todo = Vec::new();
    for b in bundles {
        b.seal_token
            .verify(&registry_id, &owner, &b.node_id)
            .map_err(|e| {
                OpsError::usage(
                    "--key",
                    format!(
                        "bundle {}: its seal token is not for this key's address {owner} ({e}); register it with the key of the --owner it was made for",
                        b.dir.display()
                    ),
                )
            })?;
        let r = Registration {
            node_id: b.node_id.clone(),
            seal_token: b.seal_token.clone(),
            stake,
            max_fee,
        };
        let p = check_registration(
            &r,
            &registry_id,
            &owner,
            reg.min_stake,
            reg.registration_fee,
        )?;
        todo.push((r, p));
    }
    // Who holds each node_id already: one listing of the registry's table, then the
    // Workers of ours that are in it.
    let reader = session.reader();
    let table = registered_ids(&reader).await?;
    let present: Vec<(String, ObjectId)> = todo
        .iter()
        .filter_map(|(r, _)| {
            table
                .get(r.node_id.as_str())
                .map(|id| (r.node_id.to_string(), *id))
        })
        .collect();
    let reader_ref = &reader;
    let found: Vec<_> = futures::stream::iter(present)
        .map(|(node, id)| async move { (node, id, reader_ref.worker(id).await) })
        .buffer_unordered(16)
        .collect()
        .await;
    let mut known: HashMap<String, RegisterOutcome> = HashMap::new();
    for (node, id, w) in found {
        let w = w?.ok_or_else(|| {
            OpsError::Refused(format!(
                "the registry lists {node} as worker {id}, which does not read: try again"
            ))
        })?;
        let outcome = if w.worker.owner == owner {
            RegisterOutcome::AlreadyRegistered {
                worker_id: id,
                status: match w.worker.status() {
                    Ok(s) => super::explain::status_word(s).to_string(),
                    Err(_) => format!("unknown({})", w.worker.status),
                },
            }
        } else {
            RegisterOutcome::RegisteredByOther {
                worker_id: id,
                owner: w.worker.owner,
            }
        };
        known.insert(node, outcome);
    }
    todo.retain(|(r, _)| !known.contains_key(r.node_id.as_str()));

    let mut report = FleetRegisterReport {
        owner,
        registry_id,
        stake: stake.mist(),
        registration_fee: reg.registration_fee,
        bundles: Vec::new(),
        transactions: Vec::new(),
        warnings,
    };
    let auth = Authority::Key(key);
    let mut sent: HashMap<String, RegisterOutcome> = HashMap::new();
    let mut stopped = false;
    for range in batches(&todo, batch) {
        let chunk = &todo[range];
        if stopped {
            for (r, _) in chunk {
                sent.insert(
                    r.node_id.to_string(),
                    RegisterOutcome::Failed {
                        digest: String::new(),
                    },
                );
            }
            continue;
        }
        let mut b = PtbBuilder::new();
        let mut total = 0u64;
        for (r, p) in chunk {
            add_registration(&mut b, &calls, r, *p);
            total = total.saturating_add(p.stake + p.fee);
        }
        let mut details = Map::new();
        details.insert("registrations".into(), json!(chunk.len()));
        details.insert(
            "first".into(),
            json!(chunk.first().map(|(r, _)| r.node_id.to_string())),
        );
        details.insert(
            "last".into(),
            json!(chunk.last().map(|(r, _)| r.node_id.to_string())),
        );
        details.insert("takes".into(), json!(fmt_sui(total)));
        let plan = Plan {
            action: "fleet register",
            context: Context {
                function: "stake_and_register_worker",
                action: "register",
                ..Context::default()
            },
            details,
        };
        let spend = Spend {
            amount: total,
            what: Some(format!(
                "{} registrations of {} stake + {} fee",
                chunk.len(),
                fmt_sui(stake.mist()),
                fmt_sui(reg.registration_fee)
            )),
        };
        let tx = send(&session.chain, &auth, b.finish(), spend, &plan).await?;
        for (r, _) in chunk {
            let outcome = if tx.ok() {
                RegisterOutcome::Registered {
                    worker_id: None,
                    digest: tx.digest.clone(),
                }
            } else {
                RegisterOutcome::Failed {
                    digest: tx.digest.clone(),
                }
            };
            sent.insert(r.node_id.to_string(), outcome);
        }
        // a failed batch stops the run: what follows would most likely fail the same
        // way, and a new run picks up from the chain's state
        stopped = !tx.ok();
        report.transactions.push(tx);
    }
    if sent
        .values()
        .any(|o| matches!(o, RegisterOutcome::Registered { .. }))
    {
        let ids = registered_ids(&reader).await?;
        for (node, o) in sent.iter_mut() {
            if let RegisterOutcome::Registered { worker_id, .. } = o {
                *worker_id = ids.get(node).copied();
            }
        }
    }
    for b in bundles {
        let node = b.node_id.to_string();
        let outcome = known
            .remove(&node)
            .or_else(|| sent.remove(&node))
            .expect("every bundle has an outcome");
        report.bundles.push(RegisterRow {
            node_id: node,
            outcome,
        });
    }
    Ok(report)
}

/// One bundle's line in `fleet stamp`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "snake_case", tag = "outcome")]
pub enum StampOutcome {
    /// Image written and synced; the bundle's private keys removed.
    Stamped {
        /// What the stamp did.
        image: Box<StampReport>,
        /// The key files removed from the bundle.
        removed: Vec<PathBuf>,
    },
    /// The bundle's keys were removed before (its image was written by an earlier run).
    AlreadyStamped {
        /// The bundle.
        dir: PathBuf,
    },
}

/// One line of `fleet stamp`.
#[derive(Debug, Clone, Serialize)]
pub struct StampRow {
    /// The node_id.
    pub node_id: String,
    /// What happened.
    #[serde(flatten)]
    pub outcome: StampOutcome,
}

/// `fleet stamp`: one image `<out_dir>/<node_id>.img` per bundle in `bundles` (only
/// `only` when given) from `image`, through [`image::stamp_bundle`]; once an image is
/// written and synced, that bundle's private key files are wiped, so the image is the
/// only copy of the device's keys. An existing image of a bundle that still has its
/// keys is replaced (it is the same device's). `on_row` sees each row as it is done
/// (the images take a while); the first error stops the run, the rows before it stand.
pub fn stamp(
    image_path: &Path,
    bundles: &[Bundle],
    out_dir: &Path,
    only: Option<&str>,
    mut on_row: impl FnMut(&StampRow),
) -> Result<Vec<StampRow>, OpsError> {
    let selected: Vec<&Bundle> = match only {
        Some(id) => {
            let b = bundles
                .iter()
                .find(|b| b.node_id.as_str() == id)
                .ok_or_else(|| {
                    OpsError::usage(
                        "--only",
                        format!(
                            "no bundle has node_id {id}: `ls` the --bundles folder for the names"
                        ),
                    )
                })?;
            vec![b]
        }
        None => bundles.iter().collect(),
    };
    bundle::ensure_private_dir(out_dir).map_err(|e| OpsError::usage("--out-dir", e.to_string()))?;
    let mut rows = Vec::new();
    for b in selected {
        let node_id = b.node_id.to_string();
        let row = if !b.has_keys() {
            StampRow {
                node_id,
                outcome: StampOutcome::AlreadyStamped { dir: b.dir.clone() },
            }
        } else {
            let out = out_dir.join(format!("{node_id}.img"));
            let report = image::stamp_bundle(image_path, b, &out, true)?;
            let removed = b.remove_private_keys()?;
            StampRow {
                node_id,
                outcome: StampOutcome::Stamped {
                    image: Box::new(report),
                    removed,
                },
            }
        };
        on_row(&row);
        rows.push(row);
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_padded_and_checked() {
        assert_eq!(labels("pi-", 3).unwrap(), ["pi-001", "pi-002", "pi-003"]);
        assert_eq!(labels("pi-", 1500).unwrap()[0], "pi-0001");
        let e = labels("Pi_", 2).unwrap_err().to_string();
        assert!(e.starts_with("--prefix"), "{e}");
        let e = labels("pi-", 0).unwrap_err().to_string();
        assert!(e.starts_with("--count"), "{e}");
        let long = "a".repeat(44);
        assert!(labels(&long, 9).is_err(), "47 bytes");
    }
}
