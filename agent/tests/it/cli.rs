//! The commands that need no chain: `init`, `seal-token`, `rotate-sealing-key`,
//! `import`, and bad configs.

use std::os::unix::fs::MetadataExt as _;
use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;

use daas_protocol::{Address, DeviceKeys, NodeId, ObjectId, SealToken, bundle};

use crate::harness::{Agent, run_cli};

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p).unwrap().mode() & 0o777
}

fn stderr(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

const ROOT: &str = "0xd75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a";
const CHAIN: &str = "4btiuiMPvEENsttpZC7CZ53DruC3MAgfznDbASZ7DR6S";

fn config(key_dir: &Path, extra: &str) -> String {
    format!(
        r#"root_public_key = "{ROOT}"
key_dir = "{}"
data_dir = "{}"
{extra}
[chain]
chain_id = "{CHAIN}"
transport = "jsonrpc"
endpoints = ["http://127.0.0.1:9"]
package_id = "0x2a"
registry_id = "0x2b"
"#,
        key_dir.display(),
        key_dir.display()
    )
}

#[test]
fn init_prints_the_node_id_seal_token_and_registration_commands_as_json() {
    let a = Agent::new();
    let registry = ObjectId::from_u64(0xab);
    let owner = Address::from_u64(0xcd);
    let package = ObjectId::from_u64(0x2a);
    let out = run_cli(&[
        "init",
        "--label",
        "rpi",
        "--dir",
        a.key_dir.to_str().unwrap(),
        "--registry",
        &registry.to_string(),
        "--owner",
        &owner.to_string(),
        "--package",
        &package.to_string(),
        "--json",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let node_id: NodeId = v["node_id"].as_str().unwrap().parse().unwrap();
    assert_eq!(node_id.label(), "rpi");
    assert_eq!(v["created"], true);
    assert_eq!(v["retired_to"], serde_json::Value::Null);
    // The keys: 0600 in a 0700 directory, and the JSON names their public halves.
    assert_eq!(mode(&a.key_dir), 0o700);
    for f in [DeviceKeys::IDENTITY_FILE, DeviceKeys::SEALING_FILE] {
        assert_eq!(mode(&a.key_dir.join(f)), 0o600, "{f}");
    }
    let keys = DeviceKeys::load(&a.key_dir).unwrap();
    assert_eq!(v["identity_public_key"], keys.identity.public().to_hex());
    assert_eq!(v["sealing_public_key"], keys.sealing.public().to_hex());
    node_id.check_identity(&keys.identity.public()).unwrap();
    // The seal token verifies for exactly this owner, registry and node_id.
    let r = &v["registration"];
    let token = SealToken::from_hex(r["seal_token"].as_str().unwrap()).unwrap();
    token.verify(&registry, &owner, &node_id).unwrap();
    assert!(
        token
            .verify(&registry, &Address::from_u64(1), &node_id)
            .is_err()
    );
    assert_eq!(r["stake_mist"], 1_000_000_000u64);
    let ptb = r["sui_client_ptb"].as_str().unwrap();
    assert!(
        ptb.starts_with(
            "sui client ptb --split-coins gas \"[1000000000]\" --assign stake --move-call "
        ),
        "{ptb}"
    );
    assert!(ptb.contains(&format!("{package}::worker_registry::stake_and_register_worker @{registry} stake.0 '\"{node_id}\"' \"vector[0x01,")), "{ptb}");
    assert!(ptb.ends_with("]\" @0x6"), "{ptb}");
    assert_eq!(
        r["daas_master_register"],
        format!(
            "daas-master register --node-id {node_id} --seal-token {} --stake 1SUI --key FILE --config FILE",
            token.to_hex()
        )
    );
    // The node_id file the run command reads.
    assert_eq!(
        std::fs::read_to_string(a.key_dir.join(bundle::NODE_ID_FILE))
            .unwrap()
            .trim(),
        node_id.as_str()
    );

    // Again: the keys are kept; the human form names the token and both commands.
    let again = run_cli(&[
        "init",
        "--label",
        "rpi",
        "--dir",
        a.key_dir.to_str().unwrap(),
        "--registry",
        &registry.to_string(),
        "--owner",
        &owner.to_string(),
    ]);
    assert!(again.status.success(), "{}", stderr(&again));
    let text = String::from_utf8_lossy(&again.stdout);
    assert!(text.contains(&format!("node_id: {node_id}")), "{text}");
    assert!(text.contains("existing keys"), "{text}");
    assert!(text.contains(&token.to_hex()), "{text}");
    assert!(text.contains("daas-master register"), "{text}");

    // --force moves them aside (never overwritten) and makes a new identity.
    let forced = run_cli(&[
        "init",
        "--label",
        "rpi",
        "--dir",
        a.key_dir.to_str().unwrap(),
        "--force",
        "--json",
    ]);
    assert!(forced.status.success(), "{}", stderr(&forced));
    let f: serde_json::Value = serde_json::from_slice(&forced.stdout).unwrap();
    assert_ne!(f["node_id"], v["node_id"]);
    let retired = Path::new(f["retired_to"].as_str().unwrap()).to_path_buf();
    assert_eq!(mode(&retired), 0o700);
    let old = DeviceKeys::load(&retired).unwrap();
    assert_eq!(old.identity.public(), keys.identity.public());

    // seal-token prints the same token again for the same owner.
    let st = run_cli(&[
        "seal-token",
        "--dir",
        retired.to_str().unwrap(),
        "--registry",
        &registry.to_string(),
        "--owner",
        &owner.to_string(),
        "--json",
    ]);
    // (the node_id file moved with the keys)
    assert!(st.status.success(), "{}", stderr(&st));
    let s: serde_json::Value = serde_json::from_slice(&st.stdout).unwrap();
    assert_eq!(s["seal_token"], r["seal_token"]);
}

#[test]
fn rotate_sealing_key_prints_a_token_for_a_new_key_and_keeps_the_old_one() {
    let a = Agent::new();
    let registry = ObjectId::from_u64(0xab);
    let owner = Address::from_u64(0xcd);
    let init = run_cli(&[
        "init",
        "--label",
        "edge",
        "--dir",
        a.key_dir.to_str().unwrap(),
    ]);
    assert!(init.status.success(), "{}", stderr(&init));
    let before = DeviceKeys::load(&a.key_dir).unwrap();
    let out = run_cli(&[
        "rotate-sealing-key",
        "--dir",
        a.key_dir.to_str().unwrap(),
        "--registry",
        &registry.to_string(),
        "--owner",
        &owner.to_string(),
        "--package",
        "0x2a",
        "--worker",
        "0x77",
        "--json",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["created"], true);
    let token = SealToken::from_hex(v["seal_token"].as_str().unwrap()).unwrap();
    let node_id: NodeId = v["node_id"].as_str().unwrap().parse().unwrap();
    token.verify(&registry, &owner, &node_id).unwrap();
    assert_ne!(*token.sealing(), before.sealing.public());
    assert_eq!(v["sealing_public_key"], token.sealing().to_hex());
    let ptb = v["sui_client_ptb"].as_str().unwrap();
    assert!(ptb.contains("::worker_registry::rotate_seal_token @0x00000000000000000000000000000000000000000000000000000000000000ab @0x0000000000000000000000000000000000000000000000000000000000000077 \"vector[0x01,"), "{ptb}");
    // The current key is untouched; the new one waits beside it, 0600.
    let after = DeviceKeys::load(&a.key_dir).unwrap();
    assert_eq!(after.sealing.public(), before.sealing.public());
    assert_eq!(mode(&a.key_dir.join("sealing.next.key")), 0o600);
    // A second call shows the pending rotation instead of making yet another key.
    let again = run_cli(&[
        "rotate-sealing-key",
        "--dir",
        a.key_dir.to_str().unwrap(),
        "--registry",
        &registry.to_string(),
        "--owner",
        &owner.to_string(),
        "--json",
    ]);
    let w: serde_json::Value = serde_json::from_slice(&again.stdout).unwrap();
    assert_eq!(w["created"], false);
    assert_eq!(w["seal_token"], v["seal_token"]);
}

#[test]
fn bad_configs_and_command_lines_exit_64_naming_the_field() {
    let a = Agent::new();
    let dir = a.root.path();
    let key_dir = dir.join("keys");
    let cases: Vec<(String, &str)> = vec![
        (config(&key_dir, "lable = \"rpi\""), "lable"),
        (
            config(&key_dir, "").replace("root_public_key", "# root_public_key"),
            "root_public_key",
        ),
        (
            config(&key_dir, "[k3s]\nargs = [\"--token=K10abc\"]"),
            "k3s.args",
        ),
        (
            config(
                &key_dir,
                "[k3s]\nargs = [\"--server\", \"https://evil:6443\"]",
            ),
            "k3s.args",
        ),
        (
            config(&key_dir, "[k3s]\nargs = [\"--node-name=other\"]"),
            "k3s.args",
        ),
        (
            config(&key_dir, "[k3s]\nargs = [\"--with-node-id\"]"),
            "k3s.args",
        ),
        (
            config(&key_dir, "[poll]\npending_ms = 0"),
            "poll.pending_ms",
        ),
        (config(&key_dir, "label = \"UPPER\""), "label"),
        (
            config(&key_dir, "").replace("endpoints = [\"http://127.0.0.1:9\"]", "endpoints = []"),
            "chain.endpoints",
        ),
        (
            config(&key_dir, "").replace("transport = \"jsonrpc\"", "transport = \"grpc\""),
            "transport",
        ),
        (config(&key_dir, "[k3s]\nbinary = \"k3s\""), "k3s.binary"),
    ];
    for (i, (text, field)) in cases.iter().enumerate() {
        let path = dir.join(format!("bad-{i}.toml"));
        std::fs::write(&path, text).unwrap();
        for cmd in ["run", "status"] {
            let mut args = vec![cmd, "--config", path.to_str().unwrap()];
            if cmd == "run" {
                args.extend(["--boot-dir", "/nonexistent-boot"]);
            }
            let out = run_cli(&args);
            assert_eq!(
                out.status.code(),
                Some(64),
                "{cmd} {field}: {}",
                stderr(&out)
            );
            let e = stderr(&out);
            assert!(
                e.contains(field),
                "{cmd}: the message must name {field}: {e}"
            );
            assert!(e.contains(path.to_str().unwrap()) || e.contains('`'), "{e}");
        }
    }
    let missing = run_cli(&[
        "run",
        "--config",
        dir.join("none.toml").to_str().unwrap(),
        "--boot-dir",
        "/nonexistent-boot",
    ]);
    assert_eq!(missing.status.code(), Some(64));
    assert!(
        stderr(&missing).contains("none.toml"),
        "{}",
        stderr(&missing)
    );
    let flag = run_cli(&["run", "--confg", "x"]);
    assert_eq!(flag.status.code(), Some(64));
    let label = run_cli(&[
        "init",
        "--label",
        "Bad_Label",
        "--dir",
        key_dir.to_str().unwrap(),
    ]);
    assert_eq!(label.status.code(), Some(64), "{}", stderr(&label));
    assert!(
        !key_dir.join(DeviceKeys::IDENTITY_FILE).exists(),
        "no key made for a bad label"
    );
}

/// `daas-agent import` of `a`'s boot folder into `a`'s config.
fn import_cli(a: &Agent) -> std::process::Output {
    run_cli(&[
        "import",
        "--boot-dir",
        a.boot_dir.to_str().unwrap(),
        "--config",
        a.config.to_str().unwrap(),
    ])
}

/// Writes a bundle as the fleet tooling would onto a FAT boot partition (world
/// readable files), with hard links that show what happens to the key bytes.
fn write_bundle(boot: &Path, agent_toml: &str) -> (NodeId, DeviceKeys, Vec<std::path::PathBuf>) {
    let keys = DeviceKeys::generate();
    let staging = tempfile::tempdir().unwrap();
    let sdir = staging.path().join("k");
    keys.save(&sdir).unwrap();
    std::fs::create_dir_all(boot).unwrap();
    let mut witnesses = Vec::new();
    for f in bundle::SECRET_FILES {
        std::fs::copy(sdir.join(f), boot.join(f)).unwrap();
        std::fs::set_permissions(boot.join(f), std::fs::Permissions::from_mode(0o755)).unwrap();
        let w = boot.parent().unwrap().join(format!("witness-{f}"));
        let _ = std::fs::remove_file(&w);
        std::fs::hard_link(boot.join(f), &w).unwrap();
        witnesses.push(w);
    }
    let node_id = NodeId::from_label("fleet-7", &keys.identity.public()).unwrap();
    std::fs::write(boot.join(bundle::CONFIG_FILE), agent_toml).unwrap();
    std::fs::write(boot.join(bundle::NODE_ID_FILE), format!("{node_id}\n")).unwrap();
    std::fs::write(boot.join(bundle::SEAL_TOKEN_FILE), "0x01\n").unwrap();
    std::fs::write(
        boot.join(bundle::README_FILE),
        "k8s-daas first-boot bundle\n",
    )
    .unwrap();
    (node_id, keys, witnesses)
}

#[test]
fn first_boot_import_moves_keys_and_config_into_place_then_wipes_the_bundle() {
    let a = Agent::new();
    let toml = config(&a.key_dir, "");
    let (node_id, keys, witnesses) = write_bundle(&a.boot_dir, &toml);
    let out = import_cli(&a);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("2 secret files wiped"), "{text}");
    // In place, with the right modes.
    assert_eq!(std::fs::read_to_string(&a.config).unwrap(), toml);
    assert_eq!(mode(&a.config), 0o644);
    assert_eq!(mode(&a.key_dir), 0o700);
    for f in bundle::SECRET_FILES {
        assert_eq!(mode(&a.key_dir.join(f)), 0o600, "{f}");
    }
    let installed = DeviceKeys::load(&a.key_dir).unwrap();
    assert_eq!(installed.identity.public(), keys.identity.public());
    assert_eq!(installed.sealing.public(), keys.sealing.public());
    assert_eq!(
        std::fs::read_to_string(a.key_dir.join(bundle::NODE_ID_FILE))
            .unwrap()
            .trim(),
        node_id.as_str()
    );
    // The FAT copies: overwritten with zeros (seen through the hard links), then gone.
    for w in &witnesses {
        let b = std::fs::read(w).unwrap();
        assert!(
            !b.is_empty() && b.iter().all(|x| *x == 0),
            "{} was not zeroed",
            w.display()
        );
    }
    for f in [
        bundle::IDENTITY_KEY_FILE,
        bundle::SEALING_KEY_FILE,
        bundle::CONFIG_FILE,
        bundle::NODE_ID_FILE,
        bundle::SEAL_TOKEN_FILE,
    ] {
        assert!(
            !a.boot_dir.join(f).exists(),
            "{f} left on the boot partition"
        );
    }
    assert!(a.boot_dir.join(bundle::README_FILE).exists());
    // Nothing left to import.
    let again = import_cli(&a);
    assert!(again.status.success());
    assert!(String::from_utf8_lossy(&again.stdout).contains("no first-boot bundle"));

    // A second bundle with another identity is refused: the installed keys stay.
    let (_, _, _) = write_bundle(&a.boot_dir, &toml);
    let refused = import_cli(&a);
    assert_eq!(refused.status.code(), Some(1), "{}", stderr(&refused));
    assert!(
        stderr(&refused).contains("refusing to overwrite a key"),
        "{}",
        stderr(&refused)
    );
    assert_eq!(
        DeviceKeys::load(&a.key_dir).unwrap().identity.public(),
        keys.identity.public()
    );
    assert!(
        a.boot_dir.join(bundle::IDENTITY_KEY_FILE).exists(),
        "a refused bundle is left for the operator"
    );
}

#[test]
fn import_replaces_the_packaged_template_and_says_so() {
    let a = Agent::new();
    let toml = config(&a.key_dir, "");
    write_bundle(&a.boot_dir, &toml);
    // The Debian package's conffile, as installed.
    let template = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("debian/agent.toml"),
    )
    .unwrap();
    std::fs::create_dir_all(a.config.parent().unwrap()).unwrap();
    std::fs::write(&a.config, &template).unwrap();
    let out = import_cli(&a);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("config installed over the unconfigured template"),
        "{text}"
    );
    assert_eq!(std::fs::read_to_string(&a.config).unwrap(), toml);
    assert_eq!(mode(&a.config), 0o644);
}

#[test]
fn a_bundle_with_a_bad_config_is_refused_naming_the_field_and_nothing_is_written() {
    let a = Agent::new();
    let (_, _, witnesses) = write_bundle(
        &a.boot_dir,
        &config(&a.key_dir, "[k3s]\nargs = [\"-t\", \"x\"]"),
    );
    let out = run_cli(&[
        "run",
        "--config",
        a.config.to_str().unwrap(),
        "--boot-dir",
        a.boot_dir.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(64), "{}", stderr(&out));
    assert!(stderr(&out).contains("k3s.args"), "{}", stderr(&out));
    assert!(!a.config.exists());
    assert!(!a.key_dir.join(DeviceKeys::IDENTITY_FILE).exists());
    assert!(
        std::fs::read(&witnesses[0])
            .unwrap()
            .iter()
            .any(|b| *b != 0),
        "the bundle is untouched"
    );
}
