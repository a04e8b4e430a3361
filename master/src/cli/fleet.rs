//! `image stamp` and `fleet keygen | register | stamp`: clap definitions and output;
//! the logic is `daas_master::ops::{image, fleet, bundle}`.

use std::path::PathBuf;
use std::process::ExitCode;

use daas_master::ops::amount::Amount;
use daas_master::ops::bundle::BundleConfig;
use daas_master::ops::fleet::{
    self, FleetRegisterReport, KeygenReport, RegisterOutcome, StampOutcome, StampRow,
};
use daas_master::ops::image::{self, OutKind, StampReport};
use daas_master::ops::{OpsError, Session};
use daas_protocol::{Address, RootPublicKey};

use super::{JsonArg, KeyArg, block_on, fail, print};

/// `image …`.
#[derive(Debug, clap::Subcommand)]
pub enum ImageCommand {
    /// Copy a disk image and write one device's first-boot bundle onto its FAT boot
    /// partition (no root, no mount, no loop device).
    ///
    /// The image must have an MBR or GPT partition table whose first FAT-typed
    /// partition holds a FAT file system with room for the bundle; the bundle goes to
    /// `k8s-daas/` there, where `daas-agent import` finds it at first boot (as
    /// /boot/k8s-daas). A file --out is written sparse and 0600 through a temporary
    /// file renamed into place (an existing one only with --force). A block device
    /// --out (a card: /dev/sdX, /dev/mmcblk0) is written in place, every block of the
    /// image, not truncated; it must not be mounted. The output holds the device's
    /// PRIVATE KEYS until the board's first boot imports and wipes them.
    #[command(
        after_long_help = "Examples:\n  daas-master image stamp --image k8s-daas-image.wic --bundle bundles/pi-001-0123456789abcdef --out pi-001.img\n  daas-master image stamp --image k8s-daas-image.wic --bundle bundles/pi-001-0123456789abcdef --out /dev/sdb"
    )]
    Stamp {
        /// The base disk image (MBR or GPT, with a FAT boot partition).
        #[arg(long, value_name = "FILE")]
        image: PathBuf,
        /// The device's bundle folder (`fleet keygen` makes them).
        #[arg(long, value_name = "DIR")]
        bundle: PathBuf,
        /// The image to write, or a block device to write in place.
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
        /// Replace --out when it is an existing regular file.
        #[arg(long)]
        force: bool,
        #[command(flatten)]
        json: JsonArg,
    },
}

/// `fleet …`.
#[derive(Debug, clap::Subcommand)]
pub enum FleetCommand {
    /// Make first-boot bundles for COUNT devices: keys, node_id, seal token for this
    /// owner and registry, agent.toml (offline).
    ///
    /// One folder per device in --out (0700; key files 0600): identity.key and
    /// sealing.key as `daas-agent init` writes them, node_id `<prefix><n>-<fp>`, the
    /// seal token for (registry, --owner, node_id), agent.toml pinning the chain id,
    /// endpoints, package and registry of --config's [chain] table and the root public
    /// key, and README.txt. Labels already in --out are kept, so a larger --count adds
    /// devices. Use fleet keys for batches of cards; a single board is simpler with
    /// `daas-agent init` on the board, whose keys never leave it.
    #[command(
        after_long_help = "Example:\n  daas-master fleet keygen --count 500 --prefix pi- --owner 0x7a… \\\n      --config master.toml --root-public-key 0x3f… --out bundles/"
    )]
    Keygen {
        /// How many devices (labels `<prefix>001` …).
        #[arg(long, value_name = "N")]
        count: usize,
        /// The label prefix (`[a-z0-9-]`).
        #[arg(long, value_name = "PREFIX")]
        prefix: String,
        /// The address that will register the devices (`fleet register --key`'s).
        #[arg(long, value_name = "ADDR")]
        owner: Address,
        /// A file with the [chain] table the devices use (`master.toml`).
        #[arg(long, value_name = "FILE")]
        config: PathBuf,
        /// The operator's root public key the devices pin (`daas-master key gen --role
        /// root` prints it).
        #[arg(long, value_name = "HEX")]
        root_public_key: RootPublicKey,
        /// The bundles folder (created 0700).
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
        #[command(flatten)]
        json: JsonArg,
    },
    /// Register every bundle's node_id and seal token, in batched transactions.
    ///
    /// Checks every bundle first (chain and registry, seal token for this key's
    /// address, stake and fee, the registry's envelope-key certificate under the root
    /// key the bundles pin), then sends up to --batch registrations per programmable
    /// transaction, each dry-run first. Resumable: node_ids this owner already
    /// registered are skipped; one registered by someone else is reported and never
    /// retried. Reads only the public files, so it also runs after `fleet stamp`.
    #[command(
        after_long_help = "Example:\n  daas-master fleet register --bundles bundles/ --key owner.key --stake 1SUI"
    )]
    Register {
        /// The bundles folder.
        #[arg(long, value_name = "DIR")]
        bundles: PathBuf,
        #[command(flatten)]
        key: KeyArg,
        /// Stake per device: MIST, or SUI with the unit (`1SUI`).
        #[arg(long, value_name = "AMOUNT")]
        stake: Amount,
        /// The highest registration fee to pay per device (not refunded); default 0.
        #[arg(long, value_name = "AMOUNT", default_value = "0")]
        max_fee: Amount,
        /// A file with the [chain] table to send through (default: the bundles'
        /// agent.toml, whose chain and registry it must match anyway).
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
        /// Registrations per transaction (at most 500).
        #[arg(long, value_name = "N", default_value_t = fleet::DEFAULT_BATCH)]
        batch: usize,
        #[command(flatten)]
        json: JsonArg,
    },
    /// Write one image per bundle (`image stamp`), then wipe that bundle's private
    /// keys: the image is then the ONLY copy of that device's keys.
    #[command(
        after_long_help = "Example:\n  daas-master fleet stamp --image k8s-daas-image.wic --bundles bundles/ --out-dir images/\n  daas-master fleet stamp --image k8s-daas-image.wic --bundles bundles/ --out-dir images/ --only pi-007-0123456789abcdef"
    )]
    Stamp {
        /// The base disk image.
        #[arg(long, value_name = "FILE")]
        image: PathBuf,
        /// The bundles folder.
        #[arg(long, value_name = "DIR")]
        bundles: PathBuf,
        /// Where the images go (`<node_id>.img`, 0600; the folder 0700).
        #[arg(long, value_name = "DIR")]
        out_dir: PathBuf,
        /// Only this device.
        #[arg(long, value_name = "NODE_ID")]
        only: Option<String>,
        #[command(flatten)]
        json: JsonArg,
    },
}

const ONLY_COPY: &str = "holds the device's PRIVATE KEYS until the board's first boot imports and wipes them: flash it to one card only, keep it and the card private, and delete the image file once the card is written";

fn human_stamp(r: &StampReport) -> String {
    let what = match r.out_kind {
        OutKind::File => "image file, sparse, 0600",
        OutKind::BlockDevice => "block device, written in place",
    };
    format!(
        "stamped {} ({what}) for {}\n  partition {} ({:?} {}) at byte {}, {} bytes: {}/{{{}}}\n  copied {} of {} bytes\n  {} {ONLY_COPY}\n",
        r.out.display(),
        r.node_id,
        r.partition.number,
        r.partition.table,
        r.partition.kind,
        r.partition.offset,
        r.partition.len,
        r.folder,
        r.files.join(", "),
        r.copied_bytes,
        r.image_bytes,
        r.out.display(),
    )
}

/// Runs `image …`.
pub fn image(c: ImageCommand) -> ExitCode {
    let ImageCommand::Stamp {
        image,
        bundle,
        out,
        force,
        json,
    } = c;
    match image::stamp(&image, &bundle, &out, force) {
        Ok(r) => {
            print(json.json, &r, || human_stamp(&r));
            ExitCode::SUCCESS
        }
        Err(e) => fail(&e.into()),
    }
}

fn human_keygen(r: &KeygenReport) -> String {
    let mut out = String::new();
    for b in &r.created {
        out.push_str(&format!("created {}  {}\n", b.node_id, b.dir.display()));
    }
    for b in &r.kept {
        out.push_str(&format!("kept    {}  {}\n", b.node_id, b.dir.display()));
    }
    out.push_str(&format!(
        "{} bundles created, {} kept, in {} for owner {}\n  the bundles hold private keys: keep {} private; `fleet stamp` removes each bundle's keys once its image is written\n",
        r.created.len(),
        r.kept.len(),
        r.dir.display(),
        r.owner,
        r.dir.display()
    ));
    out
}

fn human_register(r: &FleetRegisterReport) -> String {
    let mut out = String::new();
    for row in &r.bundles {
        let line = match &row.outcome {
            RegisterOutcome::Registered { worker_id, digest } => format!(
                "registered          worker {}  tx {digest}",
                worker_id
                    .map(|w| w.to_string())
                    .unwrap_or_else(|| "?".into())
            ),
            RegisterOutcome::AlreadyRegistered { worker_id, status } => {
                format!("skipped             already yours: worker {worker_id} ({status})")
            }
            RegisterOutcome::RegisteredByOther { worker_id, owner } => format!(
                "NOT REGISTERED      registered by {owner} (worker {worker_id}): this device cannot join under this name; give its card to that owner or make a new bundle"
            ),
            RegisterOutcome::Failed { digest } if digest.is_empty() => {
                "NOT REGISTERED      not sent (an earlier transaction failed): run again".into()
            }
            RegisterOutcome::Failed { digest } => {
                format!("NOT REGISTERED      transaction {digest} did not succeed: run again")
            }
        };
        out.push_str(&format!("{}  {line}\n", row.node_id));
    }
    for tx in &r.transactions {
        if !tx.ok() {
            out.push_str(&tx.human());
        }
    }
    for w in &r.warnings {
        out.push_str(&format!("warning: {w}\n"));
    }
    out.push_str(&format!(
        "{} registered, {} skipped (already yours), {} registered by others, {} failed; {} transaction{}\n",
        r.registered(),
        r.skipped(),
        r.foreign(),
        r.failed(),
        r.transactions.len(),
        if r.transactions.len() == 1 { "" } else { "s" }
    ));
    out
}

fn human_stamp_row(row: &StampRow) -> String {
    match &row.outcome {
        StampOutcome::Stamped { image, removed } => format!(
            "{}  stamped {}; wiped {} private key file{} from the bundle\n",
            row.node_id,
            image.out.display(),
            removed.len(),
            if removed.len() == 1 { "" } else { "s" }
        ),
        StampOutcome::AlreadyStamped { dir } => format!(
            "{}  skipped: {} has no private keys (stamped before)\n",
            row.node_id,
            dir.display()
        ),
    }
}

fn stamped_summary(rows: &[StampRow]) -> String {
    let stamped = rows
        .iter()
        .filter(|r| matches!(r.outcome, StampOutcome::Stamped { .. }))
        .count();
    format!(
        "{stamped} image{} written.\nWARNING: each image is now the ONLY copy of its device's private keys (the bundles keep only public files). Each {ONLY_COPY}.\n",
        if stamped == 1 { "" } else { "s" }
    )
}

fn keygen(
    count: usize,
    prefix: &str,
    owner: &Address,
    config: &std::path::Path,
    root: RootPublicKey,
    out: &std::path::Path,
) -> Result<KeygenReport, OpsError> {
    let chain = daas_master::chain::load_chain_table(config)?;
    let cfg = BundleConfig {
        root_public_key: root,
        chain,
    };
    fleet::keygen(out, count, prefix, owner, &cfg)
}

fn register(
    bundles: &std::path::Path,
    key: &KeyArg,
    stake: Amount,
    max_fee: Amount,
    config: Option<&std::path::Path>,
    batch: usize,
) -> Result<FleetRegisterReport, OpsError> {
    let all = fleet::read_all(bundles)?;
    let chain = match config {
        Some(p) => daas_master::chain::load_chain_table(p)?,
        None => all[0].config.chain.clone(),
    };
    let session = Session::new(chain)?;
    let key = key.load()?;
    block_on(fleet::register(&session, key, &all, stake, max_fee, batch))
}

/// Runs `fleet …`.
pub fn fleet(c: FleetCommand) -> ExitCode {
    match c {
        FleetCommand::Keygen {
            count,
            prefix,
            owner,
            config,
            root_public_key,
            out,
            json,
        } => match keygen(count, &prefix, &owner, &config, root_public_key, &out) {
            Ok(r) => {
                print(json.json, &r, || human_keygen(&r));
                ExitCode::SUCCESS
            }
            Err(e) => fail(&e),
        },
        FleetCommand::Register {
            bundles,
            key,
            stake,
            max_fee,
            config,
            batch,
            json,
        } => match register(&bundles, &key, stake, max_fee, config.as_deref(), batch) {
            Ok(r) => {
                print(json.json, &r, || human_register(&r));
                if r.ok() {
                    ExitCode::SUCCESS
                } else {
                    ExitCode::from(daas_master::ops::EXIT_FAILURE)
                }
            }
            Err(e) => fail(&e),
        },
        FleetCommand::Stamp {
            image,
            bundles,
            out_dir,
            only,
            json,
        } => {
            let live = !json.json;
            let r = fleet::read_all(&bundles).and_then(|all| {
                fleet::stamp(&image, &all, &out_dir, only.as_deref(), |row| {
                    if live {
                        print!("{}", human_stamp_row(row));
                    }
                })
            });
            match r {
                Ok(rows) => {
                    print(json.json, &rows, || stamped_summary(&rows));
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    if live {
                        eprintln!(
                            "the images listed above were written and their bundles' keys wiped; the others were not"
                        );
                    }
                    fail(&e)
                }
            }
        }
    }
}
