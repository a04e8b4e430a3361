//! Per-device images and fleet provisioning, end to end: MBR and GPT disk images built
//! here (partition table + FAT, as a Raspberry Pi image has), stamped by the master's
//! `image stamp` code, read back with `fatfs`, and the extracted bundle imported by the
//! real `daas-agent import --boot-dir` (this crate's multi-call binary, started under
//! the name `daas-agent`) the way a board does at first boot; the refusals; and
//! `fleet keygen` → `fleet register` (resumable, against the sandbox chain) →
//! `fleet stamp` (private keys gone from the bundles).
//!
//! What "the FAT copies were wiped" checks here: a board sees the boot partition
//! mounted as `/boot`; without root no test can mount the stamped FAT, so the files are
//! extracted into a folder standing for `/boot/k8s-daas` (with the modes a vfat mount
//! gives them, 0755/0644), the agent imports from there, and the test checks that the
//! secret files (and everything but README.txt) are gone from that folder afterwards.

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::{Read as _, Write as _};
use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};
use std::process::Command;

use daas_master::ops::Session;
use daas_master::ops::amount::Amount;
use daas_master::ops::bundle::{Bundle, BundleConfig};
use daas_master::ops::fleet::{self, RegisterOutcome, StampOutcome};
use daas_master::ops::image::{self, Slice};
use daas_protocol::config::{ChainConfig, TransportKind};
use daas_protocol::{Address, DeviceKeys, ObjectId, RootKey, SealToken, SuiKeypair, bundle};
use daas_sandbox::{GenesisParams, Sandbox, SandboxConfig};

const DEMO: &str = env!("CARGO_BIN_EXE_daas-demo");
const MIB: u64 = 1024 * 1024;
const SUI: u64 = 1_000_000_000;
/// Bytes the "root file system" partition of the test images starts with.
const ROOTFS_MAGIC: &[u8] = b"not a FAT file system: the root partition";

fn mode(p: &Path) -> u32 {
    fs::symlink_metadata(p).unwrap().permissions().mode() & 0o7777
}

fn offline_config() -> BundleConfig {
    BundleConfig {
        root_public_key: RootKey::generate().public(),
        chain: ChainConfig::new(
            "4btiuiMPvEENsttpZC7CZ53DruC3MAgfznDbASZ7DR6S"
                .parse()
                .unwrap(),
            TransportKind::Graphql,
            vec!["https://fullnode.example/graphql".into()],
            ObjectId::from_u64(0x2a),
            ObjectId::from_u64(0x2b),
        ),
    }
}

/// Formats `len` bytes at `offset` of `f` as FAT and puts a `config.txt` in it, as a
/// Pi boot partition has.
fn format_fat(f: &mut File, offset: u64, len: u64) {
    fatfs::format_volume(
        Slice::new(&mut *f, offset, len).unwrap(),
        fatfs::FormatVolumeOptions::new(),
    )
    .unwrap();
    let fs = fatfs::FileSystem::new(
        Slice::new(&mut *f, offset, len).unwrap(),
        fatfs::FsOptions::new(),
    )
    .unwrap();
    let mut c = fs.root_dir().create_file("config.txt").unwrap();
    c.write_all(b"arm_64bit=1\n").unwrap();
    drop(c);
    fs.unmount().unwrap();
}

fn write_rootfs(f: &mut File, offset: u64) {
    use std::os::unix::fs::FileExt as _;
    f.write_all_at(ROOTFS_MAGIC, offset).unwrap();
}

/// A new all-zero (sparse) file of `len` bytes.
fn blank_disk(path: &Path, len: u64) -> File {
    let f = File::options()
        .read(true)
        .write(true)
        .create_new(true)
        .open(path)
        .unwrap();
    f.set_len(len).unwrap();
    f
}

/// An MBR image: partition 1 FAT (type `fat_type`, `fat_mib` MiB, unformatted when
/// `format` is false) at 1 MiB, partition 2 Linux (4 MiB) after it.
fn mbr_image(path: &Path, fat_type: u8, fat_mib: u64, format: bool) -> (u64, u64) {
    let fat_off = MIB;
    let fat_len = fat_mib * MIB;
    let root_off = fat_off + fat_len;
    let total = root_off + 4 * MIB;
    let mut f = blank_disk(path, total);
    let mut mbr = mbrman::MBR::new_from(&mut f, 512, [0xde, 0xad, 0xbe, 0xef]).unwrap();
    let entry = |sys, start: u64, len: u64| mbrman::MBRPartitionEntry {
        boot: 0,
        first_chs: mbrman::CHS::empty(),
        sys,
        last_chs: mbrman::CHS::empty(),
        starting_lba: (start / 512) as u32,
        sectors: (len / 512) as u32,
    };
    mbr[1] = entry(fat_type, fat_off, fat_len);
    mbr[2] = entry(0x83, root_off, 4 * MIB);
    mbr.write_into(&mut f).unwrap();
    if format {
        format_fat(&mut f, fat_off, fat_len);
    }
    write_rootfs(&mut f, root_off);
    (fat_off, fat_len)
}

/// A GPT image: an EFI System partition (FAT, 8 MiB) and a Linux one (4 MiB).
fn gpt_image(path: &Path) -> (u64, u64) {
    let total = 16 * MIB;
    let mut f = blank_disk(path, total);
    gpt::mbr::ProtectiveMBR::with_lb_size((total / 512 - 1) as u32)
        .overwrite_lba0(&mut f)
        .unwrap();
    let mut disk = gpt::GptConfig::new()
        .writable(true)
        .logical_block_size(gpt::disk::LogicalBlockSize::Lb512)
        .create_from_device(&mut f, None)
        .unwrap();
    disk.update_partitions(BTreeMap::new()).unwrap();
    let boot = disk
        .add_partition("boot", 8 * MIB, gpt::partition_types::EFI, 0, None)
        .unwrap();
    let root = disk
        .add_partition("root", 4 * MIB, gpt::partition_types::LINUX_FS, 0, None)
        .unwrap();
    let parts = disk.partitions().clone();
    disk.write().unwrap();
    let (b, r) = (&parts[&boot], &parts[&root]);
    let fat = (b.first_lba * 512, (b.last_lba + 1 - b.first_lba) * 512);
    format_fat(&mut f, fat.0, fat.1);
    write_rootfs(&mut f, r.first_lba * 512);
    fat
}

/// The files in `k8s-daas/` of the FAT at (`offset`, `len`) of `image`, and whether
/// the base image's `config.txt` is still there.
fn read_fat_bundle(image: &Path, offset: u64, len: u64) -> (BTreeMap<String, Vec<u8>>, bool) {
    let f = File::open(image).unwrap();
    let fs = fatfs::FileSystem::new(
        Slice::new(ReadOnly(f), offset, len).unwrap(),
        fatfs::FsOptions::new(),
    )
    .unwrap();
    let root = fs.root_dir();
    let config_txt = root.open_file("config.txt").is_ok();
    let mut out = BTreeMap::new();
    if let Ok(dir) = root.open_dir(bundle::PARTITION_DIR) {
        for e in dir.iter() {
            let e = e.unwrap();
            if e.is_file() {
                let mut b = Vec::new();
                e.to_file().read_to_end(&mut b).unwrap();
                out.insert(e.file_name(), b);
            }
        }
    }
    (out, config_txt)
}

/// A file that refuses writes (fatfs wants Write; reading back must change nothing).
struct ReadOnly(File);
impl std::io::Read for ReadOnly {
    fn read(&mut self, b: &mut [u8]) -> std::io::Result<usize> {
        self.0.read(b)
    }
}
impl std::io::Write for ReadOnly {
    fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
        Err(std::io::Error::other("read-only"))
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
impl std::io::Seek for ReadOnly {
    fn seek(&mut self, p: std::io::SeekFrom) -> std::io::Result<u64> {
        self.0.seek(p)
    }
}

/// One bundle made by `fleet keygen` in `dir/bundles`.
fn one_bundle(dir: &Path, label: &str) -> Bundle {
    let bundles = dir.join("bundles");
    let r = fleet::keygen(&bundles, 1, label, &Address::from_u64(7), &offline_config()).unwrap();
    Bundle::read(&r.created[0].dir).unwrap()
}

/// The bundle's files as it holds them.
fn bundle_files(b: &Bundle) -> BTreeMap<String, Vec<u8>> {
    bundle::ALL_FILES
        .iter()
        .map(|f| (f.to_string(), fs::read(b.dir.join(f)).unwrap()))
        .collect()
}

/// `daas-agent` as a board runs it: this crate's binary under that name.
fn agent_binary(dir: &Path) -> PathBuf {
    let bin = dir.join("bin");
    fs::create_dir_all(&bin).unwrap();
    let agent = bin.join("daas-agent");
    if !agent.exists() {
        std::os::unix::fs::symlink(DEMO, &agent).unwrap();
    }
    agent
}

/// Stamps `image` with a fresh bundle, checks the output, extracts the bundle as a
/// board's `/boot/k8s-daas`, imports it with the real agent and checks the result.
fn stamp_and_import(dir: &Path, image_path: &Path, fat: (u64, u64), table: image::Table) {
    let b = one_bundle(dir, "pi-");
    let out = dir.join("device.img");
    let r = image::stamp(image_path, &b.dir, &out, false).unwrap();
    assert_eq!(r.partition.table, table);
    assert_eq!((r.partition.offset, r.partition.len), fat);
    assert_eq!(r.node_id, b.node_id.to_string());

    // the output: same size, 0600, sparse, the other partition intact
    let input = fs::read(image_path).unwrap();
    let stamped = fs::read(&out).unwrap();
    assert_eq!(stamped.len(), input.len());
    assert_eq!(mode(&out), 0o600);
    let meta = fs::metadata(&out).unwrap();
    assert!(
        meta.blocks() * 512 < meta.len() / 2,
        "sparse: {} of {} bytes allocated",
        meta.blocks() * 512,
        meta.len()
    );
    let outside = |v: &[u8]| {
        let mut o = v[..fat.0 as usize].to_vec();
        o.extend_from_slice(&v[(fat.0 + fat.1) as usize..]);
        o
    };
    assert_eq!(outside(&stamped), outside(&input), "only the FAT changed");
    assert!(
        stamped
            .windows(ROOTFS_MAGIC.len())
            .any(|w| w == ROOTFS_MAGIC)
    );
    assert_eq!(
        fs::read_dir(dir)
            .unwrap()
            .filter_map(Result::ok)
            .filter(|e| e.file_name().to_string_lossy().contains(".tmp"))
            .count(),
        0,
        "no temporary file left"
    );

    // the bundle, read back with fatfs: every file, byte for byte; the base's files kept
    let (files, config_txt) = read_fat_bundle(&out, fat.0, fat.1);
    assert!(config_txt, "the boot partition's own files stay");
    assert_eq!(files, bundle_files(&b));
    let (base_files, _) = read_fat_bundle(image_path, fat.0, fat.1);
    assert!(base_files.is_empty(), "the base image is not changed");

    // a board: /boot/k8s-daas as its vfat mount shows it, an empty /etc and /var/lib
    let board = dir.join("board");
    let boot = board.join("boot/k8s-daas");
    fs::create_dir_all(&boot).unwrap();
    fs::set_permissions(&boot, fs::Permissions::from_mode(0o755)).unwrap();
    let key_dir = board.join("var/lib/k8s-daas");
    for (name, bytes) in &files {
        let bytes = if name == bundle::CONFIG_FILE {
            // the board's paths live under the test's folder, not the real /var/lib
            let mut t = format!(
                "key_dir = \"{}\"\ndata_dir = \"{}\"\nstatus_file = \"{}\"\n",
                key_dir.display(),
                key_dir.display(),
                board.join("run/status.json").display()
            )
            .into_bytes();
            t.extend_from_slice(bytes);
            t
        } else {
            bytes.clone()
        };
        fs::write(boot.join(name), &bytes).unwrap();
        fs::set_permissions(boot.join(name), fs::Permissions::from_mode(0o644)).unwrap();
    }
    let config = board.join("etc/k8s-daas/agent.toml");
    let o = Command::new(agent_binary(dir))
        .args(["import", "--boot-dir"])
        .arg(&boot)
        .arg("--config")
        .arg(&config)
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "daas-agent import: {}\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    let printed = format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    for secret in bundle::SECRET_FILES {
        let text = String::from_utf8(files[secret].clone()).unwrap();
        let hex = text.trim().rsplit(' ').next().unwrap();
        assert!(!printed.contains(hex), "the import printed a key");
    }

    // installed: keys 0600 in 0700 (the bundle's keys), node_id, config
    assert_eq!(mode(&key_dir), 0o700);
    for secret in bundle::SECRET_FILES {
        assert_eq!(mode(&key_dir.join(secret)), 0o600, "{secret}");
        assert_eq!(
            fs::read(key_dir.join(secret)).unwrap(),
            files[secret],
            "{secret}"
        );
    }
    let keys = DeviceKeys::load(&key_dir).unwrap();
    assert_eq!(keys.identity.public(), *b.seal_token.identity());
    assert_eq!(keys.sealing.public(), *b.seal_token.sealing());
    assert_eq!(
        fs::read_to_string(key_dir.join(bundle::NODE_ID_FILE))
            .unwrap()
            .trim(),
        b.node_id.as_str()
    );
    assert_eq!(mode(&config), 0o644);
    let cfg = daas_agent::config::AgentConfig::load(&config).unwrap();
    assert_eq!(cfg.chain, b.config.chain);
    assert_eq!(cfg.root_public_key, b.config.root_public_key);

    // and the boot partition: the secrets wiped, only the README left
    let left: Vec<String> = fs::read_dir(&boot)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(left, [bundle::README_FILE], "after the import");
}

#[test]
fn an_mbr_image_is_stamped_sparse_and_private_and_its_bundle_imports_on_the_board() {
    let d = tempfile::tempdir().unwrap();
    let img = d.path().join("base.img");
    let fat = mbr_image(&img, 0x0c, 8, true);
    stamp_and_import(d.path(), &img, fat, image::Table::Mbr);
}

#[test]
fn a_gpt_image_is_stamped_and_its_bundle_imports_on_the_board() {
    let d = tempfile::tempdir().unwrap();
    let img = d.path().join("base.img");
    let fat = gpt_image(&img);
    stamp_and_import(d.path(), &img, fat, image::Table::Gpt);
}

/// Refused as bad input (64), the message holding every one of `needles`.
fn assert_refused(r: Result<image::StampReport, image::ImageError>, needles: &[&str]) {
    let e: daas_master::ops::OpsError = r.unwrap_err().into();
    let code = e.exit_code();
    let e = e.to_string();
    assert_eq!(code, 64, "{e}");
    for n in needles {
        assert!(e.contains(n), "{n:?} not in: {e}");
    }
}

#[test]
fn images_that_cannot_take_a_bundle_and_outputs_that_exist_are_refused() {
    let d = tempfile::tempdir().unwrap();
    let b = one_bundle(d.path(), "pi-");
    let out = d.path().join("out.img");

    // no partition table at all
    let blank = d.path().join("blank.img");
    fs::write(&blank, vec![0u8; 4096]).unwrap();
    assert_refused(
        image::stamp(&blank, &b.dir, &out, false),
        &["--image", "blank.img", "MBR or GPT"],
    );

    // a partition table without a FAT partition
    let linux = d.path().join("linux.img");
    mbr_image(&linux, 0x83, 2, false);
    assert_refused(
        image::stamp(&linux, &b.dir, &out, false),
        &["linux.img", "no FAT partition", "1 0x83, 2 0x83"],
    );

    // a FAT-typed partition that holds no FAT file system
    let unformatted = d.path().join("unformatted.img");
    mbr_image(&unformatted, 0x0c, 2, false);
    assert_refused(
        image::stamp(&unformatted, &b.dir, &out, false),
        &["partition 1", "mkfs.vfat"],
    );

    // a FAT partition too full for the bundle
    let full = d.path().join("full.img");
    let (off, len) = mbr_image(&full, 0x0c, 1, true);
    {
        let mut f = File::options().read(true).write(true).open(&full).unwrap();
        let fs = fatfs::FileSystem::new(
            Slice::new(&mut f, off, len).unwrap(),
            fatfs::FsOptions::new(),
        )
        .unwrap();
        let stats = fs.stats().unwrap();
        let free = u64::from(stats.free_clusters()) * u64::from(stats.cluster_size());
        let mut filler = fs.root_dir().create_file("filler.bin").unwrap();
        filler
            .write_all(&vec![
                0x5a;
                (free - 2 * u64::from(stats.cluster_size())) as usize
            ])
            .unwrap();
        drop(filler);
        fs.unmount().unwrap();
    }
    assert_refused(
        image::stamp(&full, &b.dir, &out, false),
        &["full.img", "bytes free", "larger"],
    );

    // a partition that runs past the end of a truncated image
    let truncated = d.path().join("truncated.img");
    mbr_image(&truncated, 0x0c, 2, true);
    File::options()
        .write(true)
        .open(&truncated)
        .unwrap()
        .set_len(2 * MIB)
        .unwrap();
    assert_refused(
        image::stamp(&truncated, &b.dir, &out, false),
        &["truncated.img", "truncated; copy it again"],
    );
    assert!(!out.exists(), "nothing written for a refused image");

    // an existing output: refused without --force, replaced (0600) with it
    let good = d.path().join("good.img");
    let fat = mbr_image(&good, 0x0c, 4, true);
    fs::write(&out, b"precious").unwrap();
    fs::set_permissions(&out, fs::Permissions::from_mode(0o644)).unwrap();
    assert_refused(
        image::stamp(&good, &b.dir, &out, false),
        &["--out", "out.img", "--force"],
    );
    assert_eq!(fs::read(&out).unwrap(), b"precious");
    image::stamp(&good, &b.dir, &out, true).unwrap();
    assert_eq!(mode(&out), 0o600);
    assert_eq!(read_fat_bundle(&out, fat.0, fat.1).0, bundle_files(&b));

    // a stamped image as the base, and the image as its own output
    let again = d.path().join("again.img");
    assert_refused(
        image::stamp(&out, &b.dir, &again, false),
        &["already holds a first-boot bundle"],
    );
    assert_refused(
        image::stamp(&good, &b.dir, &good, true),
        &["is the --image itself"],
    );

    // a directory as the output
    assert_refused(
        image::stamp(&good, &b.dir, d.path(), true),
        &["not a regular file or a block device"],
    );

    // a bundle whose keys are open to others
    fs::set_permissions(
        b.dir.join(bundle::IDENTITY_KEY_FILE),
        fs::Permissions::from_mode(0o644),
    )
    .unwrap();
    let x = d.path().join("x.img");
    assert_refused(image::stamp(&good, &b.dir, &x, false), &["chmod 600"]);
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keygen_then_register_twice_then_stamp_leaves_keys_only_in_the_images() {
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let sandbox = Sandbox::start(
        SandboxConfig::local(GenesisParams::new(23, 2, now_ms())),
        async move {
            let _ = stopped.await;
        },
    )
    .await
    .unwrap();
    let info = sandbox.info.clone();
    let chain = ChainConfig::new(
        info.chain_id.parse().unwrap(),
        TransportKind::Jsonrpc,
        vec![info.rpc_url.clone()],
        info.package_id,
        info.registry_id,
    );
    let owner = SuiKeypair::from_suiprivkey(&info.accounts[0].suiprivkey).unwrap();
    let squatter = SuiKeypair::from_suiprivkey(&info.accounts[1].suiprivkey).unwrap();
    let config = BundleConfig {
        root_public_key: info.root_key.public.parse().unwrap(),
        chain: chain.clone(),
    };
    let d = tempfile::tempdir().unwrap();
    let dir = d.path().join("bundles");

    // keygen: 3, then 4 (the 3 kept, 1 added)
    let first = fleet::keygen(&dir, 3, "pi-", &owner.address(), &config).unwrap();
    assert_eq!(first.created.len(), 3);
    assert_eq!(mode(&dir), 0o700);
    let second = fleet::keygen(&dir, 4, "pi-", &owner.address(), &config).unwrap();
    assert_eq!((second.created.len(), second.kept.len()), (1, 3));
    let e = fleet::keygen(&dir, 5, "pi-", &squatter.address(), &config).unwrap_err();
    assert!(e.to_string().contains("another owner"), "{e}");
    let bundles = fleet::read_all(&dir).unwrap();
    assert_eq!(bundles.len(), 4);
    for b in &bundles {
        assert_eq!(mode(&b.dir), 0o700);
        for f in bundle::SECRET_FILES {
            assert_eq!(mode(&b.dir.join(f)), 0o600);
        }
    }

    // someone with the keys of bundle 4 registers it first, under their own address
    let stolen = &bundles[3];
    let keys = DeviceKeys::load(&stolen.dir).unwrap();
    let token = SealToken::create(
        &keys.identity,
        &keys.sealing.public(),
        &info.registry_id,
        &squatter.address(),
        &stolen.node_id,
    )
    .unwrap();
    let session = Session::new(chain.clone()).unwrap();
    let r = daas_master::ops::owner::register(
        &session,
        squatter.clone(),
        &daas_master::ops::owner::Registration {
            node_id: stolen.node_id.clone(),
            seal_token: token,
            stake: Amount(SUI),
            max_fee: Amount(0),
        },
    )
    .await
    .unwrap();
    assert!(r.ok());

    // register: 3 registered in one transaction, the squatted one reported
    let r = fleet::register(&session, owner.clone(), &bundles, Amount(SUI), Amount(0), 2)
        .await
        .unwrap();
    assert_eq!(r.registered(), 3, "{r:#?}");
    assert_eq!(r.transactions.len(), 2, "batches of 2");
    assert_eq!(r.foreign(), 1);
    assert!(!r.ok());
    match &r.bundles[3].outcome {
        RegisterOutcome::RegisteredByOther { owner: o, .. } => assert_eq!(*o, squatter.address()),
        other => panic!("{other:?}"),
    }
    for row in &r.bundles[..3] {
        match &row.outcome {
            RegisterOutcome::Registered { worker_id, .. } => assert!(worker_id.is_some()),
            other => panic!("{other:?}"),
        }
    }

    // again: nothing sent, every bundle accounted for
    let again = fleet::register(
        &session,
        owner.clone(),
        &bundles,
        Amount(SUI),
        Amount(0),
        250,
    )
    .await
    .unwrap();
    assert_eq!(
        (
            again.registered(),
            again.skipped(),
            again.foreign(),
            again.transactions.len()
        ),
        (0, 3, 1, 0)
    );

    // a key that is not the bundles' owner is refused before anything is sent
    let e = fleet::register(
        &session,
        squatter.clone(),
        &bundles[..1],
        Amount(SUI),
        Amount(0),
        250,
    )
    .await
    .unwrap_err();
    assert_eq!(e.exit_code(), 64);
    assert!(e.to_string().contains("--key"), "{e}");

    // stamp one, then all: keys leave the bundles as their images are written
    let img = d.path().join("base.img");
    let fat = mbr_image(&img, 0x0c, 4, true);
    let out_dir = d.path().join("images");
    let only = bundles[1].node_id.to_string();
    let rows = fleet::stamp(&img, &bundles, &out_dir, Some(&only), |_| {}).unwrap();
    assert_eq!(rows.len(), 1);
    assert!(!bundles[1].has_keys());
    assert!(bundles[0].has_keys());
    let e = fleet::stamp(
        &img,
        &bundles,
        &out_dir,
        Some("pi-999-0123456789abcdef"),
        |_| {},
    )
    .unwrap_err();
    assert!(e.to_string().starts_with("--only"), "{e}");
    let mut seen = 0;
    let rows = fleet::stamp(&img, &bundles, &out_dir, None, |_| seen += 1).unwrap();
    assert_eq!(seen, 4);
    let stamped: Vec<_> = rows
        .iter()
        .filter(|r| matches!(r.outcome, StampOutcome::Stamped { .. }))
        .collect();
    assert_eq!(stamped.len(), 3);
    assert!(matches!(
        rows[1].outcome,
        StampOutcome::AlreadyStamped { .. }
    ));
    for b in &bundles {
        assert!(!b.has_keys(), "{}", b.dir.display());
        for f in bundle::SECRET_FILES {
            assert!(!b.dir.join(f).exists());
        }
        let out = out_dir.join(format!("{}.img", b.node_id));
        assert_eq!(mode(&out), 0o600);
        let (files, _) = read_fat_bundle(&out, fat.0, fat.1);
        assert_eq!(
            files[bundle::NODE_ID_FILE],
            format!("{}\n", b.node_id).into_bytes()
        );
        let id = DeviceKeys::IDENTITY_FILE;
        assert!(files[id].starts_with(b"k8s-daas-key v1 identity "));
    }
    assert_eq!(mode(&out_dir), 0o700);
    let e = image::stamp(&img, &bundles[0].dir, &d.path().join("x.img"), false).unwrap_err();
    assert!(e.to_string().contains("only copy"), "{e}");

    // registering still works from the public files alone: all accounted for
    let after = fleet::register(&session, owner, &bundles, Amount(SUI), Amount(0), 250)
        .await
        .unwrap();
    assert_eq!((after.skipped(), after.transactions.len()), (3, 0));
    let _ = stop.send(());
}
