//! The operator and owner CLI, run as the real `daas-master` binary against the sandbox
//! chain over HTTP (JSON-RPC, and GraphQL for a representative subset), with the chain
//! read back after every command.

use std::io::Write as _;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use daas_protocol::chain::{Chain, JsonRpcClient, RegistryReader, WorkerObject};
use daas_protocol::envkey_cert::EnvelopeKeyCert;
use daas_protocol::hash::blake2b256;
use daas_protocol::onchain::{WorkerRegistry, WorkerStatus};
use daas_protocol::sui::SignatureScheme;
use daas_protocol::{
    Address, ChainId, EnvelopeKey, IdentityKey, NodeId, ObjectId, RootKey, SealToken, SealingKey,
    SuiKeypair,
};
use daas_sandbox::{GenesisParams, Sandbox, SandboxConfig};
use serde_json::Value;

const SUI: u64 = 1_000_000_000;
const DAY: u64 = 86_400_000;

/// A sandbox chain, config files for both transports, and key files.
struct Env {
    sandbox: Sandbox,
    _stop: tokio::sync::oneshot::Sender<()>,
    dir: tempfile::TempDir,
    jsonrpc: PathBuf,
    graphql: PathBuf,
    /// Holds AdminCap, SlashCap and MasterCap.
    admin_key: PathBuf,
    admin: SuiKeypair,
    stakers: Vec<(SuiKeypair, PathBuf)>,
    reader: RegistryReader<JsonRpcClient>,
    chain_id: ChainId,
}

fn write_0600(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).unwrap();
}

impl Env {
    async fn start() -> Env {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis() as u64;
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let sandbox = Sandbox::start(
            SandboxConfig::local(GenesisParams::new(11, 3, now)),
            async move {
                let _ = rx.await;
            },
        )
        .await
        .expect("sandbox starts");
        let info = sandbox.info.clone();
        let dir = tempfile::tempdir().unwrap();
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
        let table = |transport: &str, url: &str| {
            format!(
                "# a master.toml: only [chain] is read by the CLI\n[chain]\nchain_id = \"{}\"\ntransport = \"{transport}\"\nendpoints = [\"{url}\"]\npackage_id = \"{}\"\nregistry_id = \"{}\"\nattempts = 2\n\n[master]\nanything = \"ignored by the CLI\"\n",
                info.chain_id, info.package_id, info.registry_id
            )
        };
        let jsonrpc = dir.path().join("jsonrpc.toml");
        std::fs::write(&jsonrpc, table("jsonrpc", &info.rpc_url)).unwrap();
        let graphql = dir.path().join("graphql.toml");
        std::fs::write(&graphql, table("graphql", &info.graphql_url)).unwrap();
        let admin_key = dir.path().join("admin.key");
        write_0600(&admin_key, &format!("{}\n", info.master.suiprivkey));
        let admin = SuiKeypair::from_suiprivkey(&info.master.suiprivkey).unwrap();
        let stakers = info
            .accounts
            .iter()
            .enumerate()
            .map(|(i, a)| {
                let p = dir.path().join(format!("staker{i}.key"));
                write_0600(&p, &a.suiprivkey);
                (SuiKeypair::from_suiprivkey(&a.suiprivkey).unwrap(), p)
            })
            .collect();
        let chain_id: ChainId = info.chain_id.parse().unwrap();
        let client = JsonRpcClient::new(daas_protocol::chain::ClientConfig {
            endpoints: vec![info.rpc_url.clone()],
            chain_id,
            retry: daas_protocol::chain::RetryPolicy::default(),
        })
        .unwrap();
        Env {
            reader: RegistryReader::new(client, info.package_id, info.registry_id),
            sandbox,
            _stop: tx,
            dir,
            jsonrpc,
            graphql,
            admin_key,
            admin,
            stakers,
            chain_id,
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn info(&self) -> &daas_sandbox::SandboxInfo {
        &self.sandbox.info
    }

    async fn registry(&self) -> WorkerRegistry {
        self.reader.registry().await.unwrap().1
    }

    async fn worker(&self, node_id: &NodeId) -> Option<WorkerObject> {
        self.reader
            .worker_by_node_id(node_id.as_str())
            .await
            .unwrap()
    }

    /// A device for `owner`: node_id and seal token.
    fn device(&self, owner: &Address, label: &str, seed: u64) -> (NodeId, SealToken) {
        let identity =
            IdentityKey::from_secret_bytes(blake2b256(&[b"cli id", &seed.to_le_bytes()]));
        let sealing =
            SealingKey::from_secret_bytes(blake2b256(&[b"cli seal", &seed.to_le_bytes()]));
        let node_id = NodeId::from_label(label, &identity.public()).unwrap();
        let token = SealToken::create(
            &identity,
            &sealing.public(),
            &self.info().registry_id,
            owner,
            &node_id,
        )
        .unwrap();
        (node_id, token)
    }

    fn advance(&self, ms: u64) {
        self.sandbox.node.advance_clock(ms);
    }
}

/// Runs the real binary (off the runtime's worker threads), with optional stdin.
async fn run(args: &[&str], stdin: Option<&str>) -> Output {
    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    let stdin = stdin.map(str::to_string);
    tokio::task::spawn_blocking(move || {
        let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_daas-master"));
        c.args(&args)
            .stdin(if stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = c.spawn().expect("daas-master runs");
        if let Some(text) = stdin {
            child
                .stdin
                .take()
                .unwrap()
                .write_all(text.as_bytes())
                .unwrap();
        }
        child.wait_with_output().unwrap()
    })
    .await
    .unwrap()
}

fn code(o: &Output) -> i32 {
    o.status.code().expect("exited")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Runs and expects exit 0; returns stdout.
async fn ok(args: &[&str]) -> String {
    let o = run(args, None).await;
    assert_eq!(
        code(&o),
        0,
        "{args:?}\nstdout: {}\nstderr: {}",
        stdout(&o),
        stderr(&o)
    );
    stdout(&o)
}

async fn ok_json(args: &[&str]) -> Value {
    let mut a = args.to_vec();
    a.push("--json");
    let out = ok(&a).await;
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("{args:?}: {e}\n{out}"))
}

/// Runs and expects `want`; returns stderr + stdout.
async fn fails(args: &[&str], want: i32) -> String {
    let o = run(args, None).await;
    assert_eq!(
        code(&o),
        want,
        "{args:?}\nstdout: {}\nstderr: {}",
        stdout(&o),
        stderr(&o)
    );
    format!("{}{}", stderr(&o), stdout(&o))
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn key_commands_write_0600_files_and_print_only_public_parts() {
    let dir = tempfile::tempdir().unwrap();
    let keys = dir.path().join("keys");
    for (role, scheme) in [
        ("root", None),
        ("envelope", None),
        ("node-password", None),
        ("sui", None),
        ("sui", Some("secp256k1")),
        ("sui", Some("secp256r1")),
    ] {
        let out = keys.join(format!("{role}-{}.key", scheme.unwrap_or("default")));
        let mut args = vec!["key", "gen", "--role", role, "--out", s(&out)];
        if let Some(sc) = scheme {
            args.extend(["--scheme", sc]);
        }
        let j = ok_json(&args).await;
        let meta = std::fs::metadata(&out).unwrap();
        assert_eq!(meta.permissions().mode() & 0o777, 0o600, "{role}");
        assert_eq!(
            std::fs::metadata(&keys).unwrap().permissions().mode() & 0o777,
            0o700
        );
        let text = std::fs::read_to_string(&out).unwrap();
        match role {
            "root" => {
                let k = RootKey::load(&out).unwrap();
                assert_eq!(j["public_key"], k.public().to_hex());
            }
            "envelope" => {
                let k = EnvelopeKey::load(&out).unwrap();
                assert_eq!(j["public_key"], k.public().to_hex());
                let p = ok(&["key", "envelope-pubkey", "--key", s(&out)]).await;
                assert_eq!(p.trim(), k.public().to_hex());
            }
            "node-password" => {
                assert!(text.starts_with("k8s-daas-key v1 node-password "), "{text}");
                assert!(daas_protocol::NodePasswordKey::load(&out).is_ok());
                assert!(j.get("public_key").is_none());
            }
            _ => {
                let k = SuiKeypair::load(&out, None).unwrap();
                let want = scheme.unwrap_or("ed25519");
                assert_eq!(k.scheme().name(), want);
                assert_eq!(j["scheme"], want);
                assert_eq!(j["address"], k.address().to_string());
                assert!(text.starts_with("suiprivkey1"));
                // `key address` from the file and from stdin.
                let a = ok_json(&["key", "address", "--key", s(&out)]).await;
                assert_eq!(a["address"], k.address().to_string());
                assert_eq!(a["scheme"], want);
                let o = run(&["key", "address", "--key", "-"], Some(&text)).await;
                assert_eq!(code(&o), 0, "{}", stderr(&o));
                assert!(stdout(&o).starts_with(&k.address().to_string()));
            }
        }
        // Nothing printed is the secret.
        let secret_hex = text.trim().rsplit(' ').next().unwrap().to_string();
        assert!(!j.to_string().contains(&secret_hex), "{role} leaked");
        // Never overwritten.
        let before = std::fs::read(&out).unwrap();
        let e = fails(&args, 64).await;
        assert!(e.contains("already exists"), "{e}");
        assert_eq!(std::fs::read(&out).unwrap(), before);
    }
    let e = fails(
        &[
            "key",
            "gen",
            "--role",
            "root",
            "--scheme",
            "secp256k1",
            "--out",
            s(&keys.join("x")),
        ],
        64,
    )
    .await;
    assert!(e.contains("--scheme"), "{e}");
    let e = fails(
        &[
            "key",
            "gen",
            "--role",
            "sui",
            "--scheme",
            "rsa",
            "--out",
            s(&keys.join("y")),
        ],
        64,
    )
    .await;
    assert!(
        e.contains("--scheme") && e.contains("ed25519, secp256k1 or secp256r1"),
        "{e}"
    );
    // A key file readable by others is refused, naming the fix.
    let open = keys.join("open.key");
    std::fs::write(&open, SuiKeypair::generate().to_suiprivkey().as_str()).unwrap();
    std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o644)).unwrap();
    let e = fails(&["key", "address", "--key", s(&open)], 64).await;
    assert!(e.contains("--key") && e.contains("chmod 600"), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn private_keys_are_never_taken_from_argv() {
    let k = SuiKeypair::generate();
    let priv_ = k.to_suiprivkey().to_string();
    // `--key` names a file: the key itself is not a file, so it is refused, and the
    // error does not echo it.
    let e = fails(&["key", "address", "--key", &priv_], 64).await;
    assert!(!e.contains(&priv_[12..]), "the key was echoed: {e}");
    // No flag takes a key.
    for flag in ["--private-key", "--suiprivkey", "--secret"] {
        fails(&["key", "address", flag, &priv_], 64).await;
    }
    let help = ok(&["register", "--help"]).await;
    assert!(
        help.contains("--key <FILE>") && help.contains("stdin"),
        "{help}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cert_issue_is_offline_and_verifies_under_the_root_key() {
    let env = Env::start().await;
    let root = env.path("root.key");
    let envelope = env.path("envelope.key");
    ok(&["key", "gen", "--role", "root", "--out", s(&root)]).await;
    ok(&["key", "gen", "--role", "envelope", "--out", s(&envelope)]).await;
    let registry = env.info().registry_id.to_string();
    let chain = env.info().chain_id.clone();
    let from_file = ok(&[
        "cert",
        "issue",
        "--root-key",
        s(&root),
        "--envelope-key",
        s(&envelope),
        "--serial",
        "2",
        "--chain-id",
        &chain,
        "--registry",
        &registry,
    ])
    .await;
    let pubkey = ok(&["key", "envelope-pubkey", "--key", s(&envelope)]).await;
    let from_pub = ok_json(&[
        "cert",
        "issue",
        "--root-key",
        s(&root),
        "--envelope-pubkey",
        pubkey.trim(),
        "--serial",
        "2",
        "--config",
        s(&env.jsonrpc),
    ])
    .await;
    assert_eq!(from_file.trim(), from_pub["certificate"]);
    let bytes = daas_protocol::hex::decode(from_file.trim()).unwrap();
    assert_eq!(bytes.len(), 105);
    let cert = EnvelopeKeyCert::from_bytes(&bytes).unwrap();
    let certified = cert
        .verify(
            &RootKey::load(&root).unwrap().public(),
            &env.chain_id,
            &env.info().registry_id,
        )
        .unwrap();
    assert_eq!(certified.serial, 2);
    assert_eq!(
        certified.key,
        EnvelopeKey::load(&envelope).unwrap().public()
    );
    // The root key cannot certify itself.
    let root_pub = RootKey::load(&root).unwrap().public().to_hex();
    let e = fails(
        &[
            "cert",
            "issue",
            "--root-key",
            s(&root),
            "--envelope-pubkey",
            &root_pub,
            "--serial",
            "3",
            "--config",
            s(&env.jsonrpc),
        ],
        64,
    )
    .await;
    assert!(e.contains("root key"), "{e}");
    // A root key file passed as the envelope key is refused by its role.
    let e = fails(
        &[
            "cert",
            "issue",
            "--root-key",
            s(&root),
            "--envelope-key",
            s(&root),
            "--serial",
            "3",
            "--config",
            s(&env.jsonrpc),
        ],
        64,
    )
    .await;
    assert!(
        e.contains("--envelope-key") && e.contains("root key"),
        "{e}"
    );

    // Stored with `admin set-envelope-cert`, read back from the registry.
    let admin_cap = env.info().admin_cap_id.to_string();
    let r = ok_json(&[
        "admin",
        "set-envelope-cert",
        "--config",
        s(&env.jsonrpc),
        "--key",
        s(&env.admin_key),
        "--admin-cap",
        &admin_cap,
        "--cert",
        from_file.trim(),
    ])
    .await;
    assert_eq!(r["status"], "success", "{r}");
    assert_eq!(env.registry().await.envelope_key_cert, bytes);
    // The same serial again is refused locally, naming the next one.
    let e = fails(
        &[
            "admin",
            "set-envelope-cert",
            "--config",
            s(&env.jsonrpc),
            "--key",
            s(&env.admin_key),
            "--admin-cap",
            &admin_cap,
            "--cert",
            from_file.trim(),
        ],
        1,
    )
    .await;
    assert!(e.contains("--serial 3"), "{e}");
}

async fn owner_lifecycle(env: &Env, config: &Path, seed: u64) {
    let config = s(config);
    let (owner, key) = &env.stakers[0];
    let key = s(key);
    let (node_id, token) = env.device(&owner.address(), "cli", seed);
    let node = node_id.as_str();
    let token_hex = token.to_hex();

    // A token the device made for someone else: refused before sending, naming it.
    let (_, foreign) = env.device(&env.stakers[1].0.address(), "cli", seed);
    let e = fails(
        &[
            "register",
            "--config",
            config,
            "--key",
            key,
            "--node-id",
            node,
            "--seal-token",
            &foreign.to_hex(),
            "--stake",
            "1SUI",
        ],
        64,
    )
    .await;
    assert!(e.contains("--seal-token") && e.contains("owner"), "{e}");
    // Below min_stake.
    let e = fails(
        &[
            "register",
            "--config",
            config,
            "--key",
            key,
            "--node-id",
            node,
            "--seal-token",
            &token_hex,
            "--stake",
            "0.5SUI",
        ],
        1,
    )
    .await;
    assert!(e.contains("min_stake"), "{e}");
    assert!(env.worker(&node_id).await.is_none(), "nothing was sent");

    let r = ok_json(&[
        "register",
        "--config",
        config,
        "--key",
        key,
        "--node-id",
        node,
        "--seal-token",
        &token_hex,
        "--stake",
        "1.5 SUI",
    ])
    .await;
    assert_eq!(r["status"], "success", "{r}");
    assert_eq!(r["calls"][0], "stake_and_register_worker");
    assert_eq!(r["details"]["registration_fee"], 0);
    let w = env.worker(&node_id).await.expect("registered");
    assert_eq!(r["details"]["worker_id"], w.info.id.to_string());
    assert_eq!(w.worker.owner, owner.address());
    assert_eq!(w.worker.stake.value, 1_500_000_000);
    assert_eq!(w.worker.status().unwrap(), WorkerStatus::Pending);
    // Twice: refused, naming the worker.
    let e = fails(
        &[
            "register",
            "--config",
            config,
            "--key",
            key,
            "--node-id",
            node,
            "--seal-token",
            &token_hex,
            "--stake",
            "1SUI",
        ],
        1,
    )
    .await;
    assert!(e.contains("already registered"), "{e}");

    // `workers` lists it.
    let rows = ok_json(&["workers", "--config", config]).await;
    let row = rows
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["node_id"] == node)
        .expect("listed");
    assert_eq!(row["status"], "Pending");
    assert_eq!(row["stake"], 1_500_000_000u64);
    assert_eq!(row["owner"], owner.address().to_string());
    assert_eq!(row["id"], w.info.id.to_string());
    assert_eq!(row["token_version"], 0);
    let table = ok(&["workers", "--config", config]).await;
    assert!(table.contains(node) && table.contains("Pending"), "{table}");

    // request-join-token needs TokenIssued: the dry run aborts, nothing is sent.
    let o = run(
        &[
            "owner",
            "request-join-token",
            "--config",
            config,
            "--key",
            key,
            "--node-id",
            node,
        ],
        None,
    )
    .await;
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert!(
        stdout(&o).contains(
            "aborted 7 EInvalidStatus: worker is Pending, request-join-token needs TokenIssued"
        ),
        "{}",
        stdout(&o)
    );
    let after = env.worker(&node_id).await.unwrap();
    assert_eq!(
        after.info.version, w.info.version,
        "an aborting dry run sends nothing"
    );

    // Someone else's key.
    let e = fails(
        &[
            "owner",
            "unstake",
            "--config",
            config,
            "--key",
            s(&env.stakers[1].1),
            "--node-id",
            node,
        ],
        1,
    )
    .await;
    assert!(e.contains("owned by"), "{e}");

    // rotate-seal-token: same device key, new sealing key → Pending, version + 1.
    let identity = IdentityKey::from_secret_bytes(blake2b256(&[b"cli id", &seed.to_le_bytes()]));
    let new_token = SealToken::create(
        &identity,
        &SealingKey::generate().public(),
        &env.info().registry_id,
        &owner.address(),
        &node_id,
    )
    .unwrap();
    let r = ok_json(&[
        "owner",
        "rotate-seal-token",
        "--config",
        config,
        "--key",
        key,
        "--node-id",
        node,
        "--seal-token",
        &new_token.to_hex(),
    ])
    .await;
    assert_eq!(r["status"], "success", "{r}");
    let w = env.worker(&node_id).await.unwrap();
    assert_eq!(w.worker.seal_token, new_token.to_bytes().to_vec());
    assert_eq!(w.worker.token_version, 1);

    // unstake → Leaving; withdraw before the cooldown aborts 9 in the dry run.
    let r = ok_json(&[
        "owner",
        "unstake",
        "--config",
        config,
        "--key",
        key,
        "--node-id",
        node,
    ])
    .await;
    assert_eq!(r["status"], "success", "{r}");
    let w = env.worker(&node_id).await.unwrap();
    assert_eq!(w.worker.status().unwrap(), WorkerStatus::Leaving);
    let o = run(
        &[
            "owner",
            "withdraw",
            "--config",
            config,
            "--key",
            key,
            "--node-id",
            node,
            "--json",
        ],
        None,
    )
    .await;
    assert_eq!(code(&o), 1);
    let j: Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(j["status"], "dry_run_aborted");
    assert_eq!(j["abort"]["code"], 9);
    assert_eq!(j["abort"]["name"], "ECooldownNotOver");
    // Past unlock + grace (no master confirmed the revocation): withdrawn, deleted.
    env.advance(w.worker.unlock_at_ms - env.sandbox.node.clock.now() + 2 * DAY);
    let before: u64 = env
        .reader
        .chain
        .coins(owner.address())
        .await
        .unwrap()
        .iter()
        .map(|c| c.balance)
        .sum();
    let r = ok_json(&[
        "owner",
        "withdraw",
        "--config",
        config,
        "--key",
        key,
        "--node-id",
        node,
    ])
    .await;
    assert_eq!(r["status"], "success", "{r}");
    assert!(
        env.worker(&node_id).await.is_none(),
        "the Worker is deleted"
    );
    let after: u64 = env
        .reader
        .chain
        .coins(owner.address())
        .await
        .unwrap()
        .iter()
        .map(|c| c.balance)
        .sum();
    assert!(
        after > before + SUI,
        "the stake came back: {before} -> {after}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn owner_commands_over_jsonrpc() {
    let env = Env::start().await;
    owner_lifecycle(&env, &env.jsonrpc, 1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn owner_commands_over_graphql() {
    let env = Env::start().await;
    owner_lifecycle(&env, &env.graphql, 2).await;
}

async fn admin_json(env: &Env, config: &Path, args: &[&str]) -> Value {
    let cap = env.info().admin_cap_id.to_string();
    let mut a = vec!["admin"];
    a.extend_from_slice(&args[..1]);
    a.extend([
        "--config",
        s(config),
        "--key",
        s(&env.admin_key),
        "--admin-cap",
        &cap,
    ]);
    a.extend_from_slice(&args[1..]);
    let j = ok_json(&a).await;
    assert_eq!(j["status"], "success", "{args:?}: {j}");
    j
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_commands_change_the_registry() {
    let env = Env::start().await;
    let c = env.jsonrpc.clone();
    admin_json(&env, &c, &["set-min-stake", "--amount", "2SUI"]).await;
    assert_eq!(env.registry().await.min_stake, 2 * SUI);
    admin_json(
        &env,
        &env.graphql,
        &["set-registration-fee", "--amount", "0.25 SUI"],
    )
    .await;
    assert_eq!(env.registry().await.registration_fee, SUI / 4);
    admin_json(&env, &c, &["set-cooldown", "--duration", "3d"]).await;
    assert_eq!(env.registry().await.cooldown_ms, 3 * DAY);
    admin_json(&env, &c, &["set-revoke-grace", "--duration", "36h"]).await;
    assert_eq!(env.registry().await.revoke_grace_ms, 36 * 3_600_000);
    admin_json(&env, &c, &["set-max-envelope-ttl", "--duration", "2d"]).await;
    assert_eq!(env.registry().await.max_envelope_ttl_ms, 2 * DAY);
    let e = fails(
        &[
            "admin",
            "set-cooldown",
            "--config",
            s(&c),
            "--key",
            s(&env.admin_key),
            "--admin-cap",
            &env.info().admin_cap_id.to_string(),
            "--duration",
            "31d",
        ],
        64,
    )
    .await;
    assert!(e.contains("30 days"), "{e}");

    // The fee in force is shown and capped by --max-fee.
    let (owner, key) = &env.stakers[2];
    let (node_id, token) = env.device(&owner.address(), "fee", 7);
    let reg = |max_fee: &'static str| {
        let token = token.to_hex();
        let node = node_id.to_string();
        let key = key.clone();
        let c = c.clone();
        async move {
            run(
                &[
                    "register",
                    "--config",
                    s(&c),
                    "--key",
                    s(&key),
                    "--node-id",
                    &node,
                    "--seal-token",
                    &token,
                    "--stake",
                    "2SUI",
                    "--max-fee",
                    max_fee,
                ],
                None,
            )
            .await
        }
    };
    let o = reg("0").await;
    assert_eq!(code(&o), 1, "{}", stdout(&o));
    assert!(
        stderr(&o).contains("0.25 SUI") && stderr(&o).contains("--max-fee"),
        "{}",
        stderr(&o)
    );
    assert!(env.worker(&node_id).await.is_none());
    let o = reg("0.25SUI").await;
    assert_eq!(code(&o), 0, "{}{}", stdout(&o), stderr(&o));
    assert!(
        stdout(&o).contains("0.25 SUI (you accept up to 0.25 SUI)"),
        "{}",
        stdout(&o)
    );
    let w = env.worker(&node_id).await.unwrap();
    assert_eq!(w.worker.stake.value, 2 * SUI);
    assert_eq!(env.registry().await.treasury.value, SUI / 4);

    // withdraw-treasury: too much is refused; the fee goes to the recipient.
    let to = Address::from_u64(0xfee);
    let e = fails(
        &[
            "admin",
            "withdraw-treasury",
            "--config",
            s(&c),
            "--key",
            s(&env.admin_key),
            "--admin-cap",
            &env.info().admin_cap_id.to_string(),
            "--amount",
            "1SUI",
            "--to",
            &to.to_string(),
        ],
        1,
    )
    .await;
    assert!(e.contains("treasury holds 0.25 SUI"), "{e}");
    admin_json(
        &env,
        &c,
        &[
            "withdraw-treasury",
            "--amount",
            "0.25SUI",
            "--to",
            &to.to_string(),
        ],
    )
    .await;
    assert_eq!(env.registry().await.treasury.value, 0);
    let got: u64 = env
        .reader
        .chain
        .coins(to)
        .await
        .unwrap()
        .iter()
        .map(|c| c.balance)
        .sum();
    assert_eq!(got, SUI / 4);

    // MasterCaps: issue one (created, valid), revoke it (no longer valid).
    let new_master = Address::from_u64(0x4d);
    let j = admin_json(
        &env,
        &c,
        &["issue-master-cap", "--to", &new_master.to_string()],
    )
    .await;
    let created: Vec<ObjectId> = j["created"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().parse().unwrap())
        .collect();
    let reg_after = env.registry().await;
    let cap = *created
        .iter()
        .find(|id| reg_after.master_caps.contents.contains(id))
        .expect("the new MasterCap is valid");
    admin_json(
        &env,
        &env.graphql,
        &["revoke-master-cap", "--cap", &cap.to_string()],
    )
    .await;
    assert!(!env.registry().await.master_caps.contents.contains(&cap));
    let e = fails(
        &[
            "admin",
            "revoke-master-cap",
            "--config",
            s(&c),
            "--key",
            s(&env.admin_key),
            "--admin-cap",
            &env.info().admin_cap_id.to_string(),
            "--cap",
            &cap.to_string(),
        ],
        1,
    )
    .await;
    assert!(e.contains("not a valid MasterCap"), "{e}");

    // SlashCaps: issue one to the admin itself, revoke it.
    let j = admin_json(
        &env,
        &c,
        &["issue-slash-cap", "--to", &env.admin.address().to_string()],
    )
    .await;
    let slash: ObjectId = j["created"][0].as_str().unwrap().parse().unwrap();
    assert!(env.registry().await.slash_caps.contents.contains(&slash));
    admin_json(&env, &c, &["revoke-slash-cap", "--cap", &slash.to_string()]).await;
    assert!(!env.registry().await.slash_caps.contents.contains(&slash));
    // Slashing with the revoked cap is refused before sending.
    let e = fails(
        &[
            "slash",
            "--config",
            s(&c),
            "--key",
            s(&env.admin_key),
            "--slash-cap",
            &slash.to_string(),
            "--node-id",
            node_id.as_str(),
            "--amount",
            "1SUI",
            "--reason",
            "x",
        ],
        1,
    )
    .await;
    assert!(e.contains("revoked"), "{e}");

    // A non-holder's key is refused naming the owner of the cap.
    let e = fails(
        &[
            "admin",
            "set-min-stake",
            "--config",
            s(&c),
            "--key",
            s(key),
            "--admin-cap",
            &env.info().admin_cap_id.to_string(),
            "--amount",
            "1SUI",
        ],
        1,
    )
    .await;
    assert!(e.contains("owned by"), "{e}");
    // Not an AdminCap at all.
    let e = fails(
        &[
            "admin",
            "set-min-stake",
            "--config",
            s(&c),
            "--key",
            s(&env.admin_key),
            "--admin-cap",
            &env.info().slash_cap_id.to_string(),
            "--amount",
            "1SUI",
        ],
        64,
    )
    .await;
    assert!(e.contains("--admin-cap") && e.contains("not a"), "{e}");
}

/// The cold-wallet path: `--unsigned-out` writes what a cold signer signs; the test
/// signs it as `sui keytool sign` would (intent digest, flag || sig || pk) and `submit`
/// sends it.
async fn cold_slash(env: &Env, config: &Path, scheme_note: &str) {
    let c = s(config);
    let (owner, key) = &env.stakers[1];
    let (node_id, token) = env.device(&owner.address(), "cold", 40);
    ok(&[
        "register",
        "--config",
        c,
        "--key",
        s(key),
        "--node-id",
        node_id.as_str(),
        "--seal-token",
        &token.to_hex(),
        "--stake",
        "2SUI",
    ])
    .await;
    let file = env.path(&format!("slash-{scheme_note}.tx"));
    let sender = env.admin.address().to_string();
    let j = ok_json(&[
        "slash",
        "--config",
        c,
        "--sender",
        &sender,
        "--unsigned-out",
        s(&file),
        "--slash-cap",
        &env.info().slash_cap_id.to_string(),
        "--node-id",
        node_id.as_str(),
        "--amount",
        "0.5SUI",
        "--reason",
        "double join",
    ])
    .await;
    assert_eq!(j["status"], "unsigned", "{j}");
    let line = std::fs::read_to_string(&file).unwrap();
    assert!(line.ends_with('\n') && line.trim().len() > 100);
    let tx_bytes = BASE64.decode(line.trim()).unwrap();
    let data = daas_protocol::tx::TransactionData::from_bcs(&tx_bytes).unwrap();
    assert_eq!(data.v1().sender, env.admin.address());
    assert_eq!(data.digest().to_string(), j["digest"]);
    // Nothing happened yet.
    assert_eq!(
        env.worker(&node_id).await.unwrap().worker.status().unwrap(),
        WorkerStatus::Pending
    );
    // Never overwritten.
    let e = fails(
        &[
            "slash",
            "--config",
            c,
            "--sender",
            &sender,
            "--unsigned-out",
            s(&file),
            "--slash-cap",
            &env.info().slash_cap_id.to_string(),
            "--node-id",
            node_id.as_str(),
            "--amount",
            "0.5SUI",
            "--reason",
            "double join",
        ],
        64,
    )
    .await;
    assert!(e.contains("--unsigned-out"), "{e}");

    // A signature by the wrong key is named and nothing is sent.
    let wrong = SuiKeypair::generate_scheme(SignatureScheme::Secp256k1)
        .unwrap()
        .sign_transaction(&tx_bytes)
        .to_base64();
    let right = env.admin.sign_transaction(&tx_bytes).to_base64();
    let e = fails(
        &[
            "submit",
            "--config",
            c,
            "--tx",
            s(&file),
            "--signature",
            &wrong,
        ],
        64,
    )
    .await;
    assert!(e.contains("signature 1") && e.contains("secp256k1"), "{e}");
    let e = fails(
        &[
            "submit",
            "--config",
            c,
            "--tx",
            s(&file),
            "--signature",
            "bm90IGEgc2ln",
        ],
        64,
    )
    .await;
    assert!(e.contains("signature 1"), "{e}");
    // The cold signer's signature: sent, and the worker is slashed.
    let r = ok_json(&[
        "submit",
        "--config",
        c,
        "--tx",
        s(&file),
        "--signature",
        &right,
    ])
    .await;
    assert_eq!(r["status"], "success", "{r}");
    assert_eq!(r["calls"][0], "slash");
    let w = env.worker(&node_id).await.unwrap();
    assert_eq!(w.worker.status().unwrap(), WorkerStatus::Slashed);
    assert_eq!(w.worker.stake.value, 1_500_000_000);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unsigned_admin_and_slash_transactions_are_signed_offline_and_submitted() {
    let env = Env::start().await;
    cold_slash(&env, &env.jsonrpc, "jsonrpc").await;

    // An admin command the same way, over GraphQL.
    let file = env.path("fee.tx");
    let j = ok_json(&[
        "admin",
        "set-registration-fee",
        "--config",
        s(&env.graphql),
        "--sender",
        &env.admin.address().to_string(),
        "--unsigned-out",
        s(&file),
        "--admin-cap",
        &env.info().admin_cap_id.to_string(),
        "--amount",
        "1000",
    ])
    .await;
    assert_eq!(j["status"], "unsigned");
    assert_eq!(env.registry().await.registration_fee, 0);
    let tx = BASE64
        .decode(std::fs::read_to_string(&file).unwrap().trim())
        .unwrap();
    let sig = env.admin.sign_transaction(&tx).to_base64();
    let r = ok_json(&[
        "submit",
        "--config",
        s(&env.graphql),
        "--tx",
        s(&file),
        "--signature",
        &sig,
    ])
    .await;
    assert_eq!(r["status"], "success", "{r}");
    assert_eq!(env.registry().await.registration_fee, 1000);
    // --key and --sender together are a usage error.
    fails(
        &[
            "admin",
            "set-min-stake",
            "--config",
            s(&env.jsonrpc),
            "--key",
            s(&env.admin_key),
            "--sender",
            &env.admin.address().to_string(),
            "--admin-cap",
            &env.info().admin_cap_id.to_string(),
            "--amount",
            "1SUI",
        ],
        64,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slash_with_a_key_over_graphql() {
    let env = Env::start().await;
    let (owner, key) = &env.stakers[0];
    let (node_id, token) = env.device(&owner.address(), "hot", 50);
    let c = s(&env.graphql);
    ok(&[
        "register",
        "--config",
        c,
        "--key",
        s(key),
        "--node-id",
        node_id.as_str(),
        "--seal-token",
        &token.to_hex(),
        "--stake",
        "1SUI",
    ])
    .await;
    let e = fails(
        &[
            "slash",
            "--config",
            c,
            "--key",
            s(&env.admin_key),
            "--slash-cap",
            &env.info().slash_cap_id.to_string(),
            "--node-id",
            node_id.as_str(),
            "--amount",
            "2SUI",
            "--reason",
            "x",
        ],
        1,
    )
    .await;
    assert!(e.contains("more than"), "{e}");
    let out = ok(&[
        "slash",
        "--config",
        c,
        "--key",
        s(&env.admin_key),
        "--slash-cap",
        &env.info().slash_cap_id.to_string(),
        "--node-id",
        node_id.as_str(),
        "--amount",
        "0.25SUI",
        "--reason",
        "offline for a week",
    ])
    .await;
    assert!(out.contains("success"), "{out}");
    let w = env.worker(&node_id).await.unwrap();
    assert_eq!(w.worker.status().unwrap(), WorkerStatus::Slashed);
    assert_eq!(w.worker.stake.value, 750_000_000);
    assert_eq!(env.registry().await.treasury.value, 250_000_000);
    // Slashing a Slashed worker: the dry run aborts 7, named.
    let o = run(
        &[
            "slash",
            "--config",
            c,
            "--key",
            s(&env.admin_key),
            "--slash-cap",
            &env.info().slash_cap_id.to_string(),
            "--node-id",
            node_id.as_str(),
            "--amount",
            "1",
            "--reason",
            "again",
        ],
        None,
    )
    .await;
    assert_eq!(code(&o), 1);
    assert!(
        stdout(&o).contains("aborted 7 EInvalidStatus: worker is Slashed"),
        "{}",
        stdout(&o)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_arguments_and_configs_name_what_is_wrong() {
    let env = Env::start().await;
    let c = s(&env.jsonrpc);
    let (owner, key) = &env.stakers[0];
    let (node_id, token) = env.device(&owner.address(), "bad", 60);
    let reg = |extra: Vec<String>| {
        let mut a: Vec<String> = ["register", "--config", c, "--key", s(key)]
            .iter()
            .map(|s| s.to_string())
            .collect();
        a.extend(extra);
        a
    };
    let cases: Vec<(Vec<String>, &str)> = vec![
        (
            vec![
                "--node-id".into(),
                node_id.to_string(),
                "--seal-token".into(),
                token.to_hex(),
                "--stake".into(),
                "1.5".into(),
            ],
            "--stake",
        ),
        (
            vec![
                "--node-id".into(),
                node_id.to_string(),
                "--seal-token".into(),
                token.to_hex(),
                "--stake".into(),
                "0.0000000001SUI".into(),
            ],
            "9 decimals",
        ),
        (
            vec![
                "--node-id".into(),
                "Not_A_Node".into(),
                "--seal-token".into(),
                token.to_hex(),
                "--stake".into(),
                "1SUI".into(),
            ],
            "--node-id",
        ),
        (
            vec![
                "--node-id".into(),
                node_id.to_string(),
                "--seal-token".into(),
                "0x1234".into(),
                "--stake".into(),
                "1SUI".into(),
            ],
            "--seal-token",
        ),
        (
            vec![
                "--node-id".into(),
                node_id.to_string(),
                "--seal-token".into(),
                token.to_hex(),
                "--stake".into(),
                "1SUI".into(),
                "--max-fee=-1".into(),
            ],
            "--max-fee",
        ),
    ];
    for (extra, want) in cases {
        let a = reg(extra);
        let args: Vec<&str> = a.iter().map(|s| s.as_str()).collect();
        let e = fails(&args, 64).await;
        assert!(e.contains(want), "{want}: {e}");
    }
    // An id that is not one.
    let e = fails(
        &[
            "admin",
            "set-min-stake",
            "--config",
            c,
            "--key",
            s(&env.admin_key),
            "--admin-cap",
            "0xzz",
            "--amount",
            "1SUI",
        ],
        64,
    )
    .await;
    assert!(e.contains("--admin-cap"), "{e}");
    // Configs: missing file, unknown key, bad value — each names the file or field.
    let missing = env.path("nope.toml");
    let e = fails(&["workers", "--config", s(&missing)], 64).await;
    assert!(e.contains("nope.toml"), "{e}");
    let typo = env.path("typo.toml");
    std::fs::write(
        &typo,
        std::fs::read_to_string(&env.jsonrpc)
            .unwrap()
            .replace("endpoints", "endpoint"),
    )
    .unwrap();
    let e = fails(&["workers", "--config", s(&typo)], 64).await;
    assert!(e.contains("endpoint"), "{e}");
    let bad = env.path("bad.toml");
    std::fs::write(
        &bad,
        std::fs::read_to_string(&env.jsonrpc)
            .unwrap()
            .replace("attempts = 2", "attempts = 0"),
    )
    .unwrap();
    let e = fails(&["workers", "--config", s(&bad)], 64).await;
    assert!(e.contains("chain.attempts"), "{e}");
    // A config pointing at a chain that is not there: a chain failure (1), not usage.
    let down = env.path("down.toml");
    std::fs::write(
        &down,
        std::fs::read_to_string(&env.jsonrpc)
            .unwrap()
            .replace(&env.info().rpc_url, "http://127.0.0.1:9"),
    )
    .unwrap();
    let e = fails(&["workers", "--config", s(&down)], 1).await;
    assert!(e.contains("127.0.0.1:9"), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fleet_keygen_and_register_through_the_binary_are_resumable() {
    let env = Env::start().await;
    let c = s(&env.graphql);
    let (owner, key) = &env.stakers[2];
    let bundles = env.path("bundles");
    let root = env.info().root_key.public.clone();
    let owner_s = owner.address().to_string();
    let keygen = |count: &'static str| {
        vec![
            "fleet",
            "keygen",
            "--count",
            count,
            "--prefix",
            "rack7-",
            "--owner",
            &owner_s,
            "--config",
            c,
            "--root-public-key",
            &root,
            "--out",
            s(&bundles),
        ]
    };
    let made = ok_json(&keygen("3")).await;
    assert_eq!(made["created"].as_array().unwrap().len(), 3);
    let text = ok(&keygen("3")).await;
    assert!(text.contains("0 bundles created, 3 kept"), "{text}");
    assert!(!text.contains("k8s-daas-key"), "no key printed: {text}");
    let register = [
        "fleet",
        "register",
        "--bundles",
        s(&bundles),
        "--key",
        s(key),
        "--stake",
        "1SUI",
    ];
    // the bundles' own agent.toml names the chain (GraphQL here)
    let first = ok(&register).await;
    assert!(
        first.contains("3 registered, 0 skipped (already yours), 0 registered by others, 0 failed; 1 transaction"),
        "{first}"
    );
    let again = ok(&register).await;
    assert!(
        again.contains("0 registered, 3 skipped (already yours)")
            && again.contains("0 transactions"),
        "{again}"
    );
    for row in made["created"].as_array().unwrap() {
        let node_id = NodeId::parse(row["node_id"].as_str().unwrap()).unwrap();
        let w = env.worker(&node_id).await.expect("registered");
        assert_eq!(w.worker.owner, owner.address());
        assert_eq!(w.worker.stake.value, SUI);
    }

    // bad input names the flag and exits 64
    let mut bad_prefix = keygen("3");
    bad_prefix[5] = "Rack_";
    let e = fails(&bad_prefix, 64).await;
    assert!(e.contains("--prefix"), "{e}");
    let (_, other_key) = &env.stakers[1];
    let e = fails(
        &[
            "fleet",
            "register",
            "--bundles",
            s(&bundles),
            "--key",
            s(other_key),
            "--stake",
            "1SUI",
        ],
        64,
    )
    .await;
    assert!(
        e.contains("--key") && e.contains("not for this key's address"),
        "{e}"
    );
    let e = fails(
        &[
            "fleet",
            "register",
            "--bundles",
            s(&env.path("none")),
            "--key",
            s(key),
            "--stake",
            "1SUI",
        ],
        64,
    )
    .await;
    assert!(e.contains("--bundles"), "{e}");
    let not_an_image = env.path("notes.txt");
    std::fs::write(&not_an_image, "hello").unwrap();
    let one = made["created"][0]["dir"].as_str().unwrap();
    let e = fails(
        &[
            "image",
            "stamp",
            "--image",
            s(&not_an_image),
            "--bundle",
            one,
            "--out",
            s(&env.path("o.img")),
        ],
        64,
    )
    .await;
    assert!(e.contains("--image") && e.contains("notes.txt"), "{e}");
}
