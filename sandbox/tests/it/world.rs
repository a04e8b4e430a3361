//! A sandbox chain on 127.0.0.1:0 and a client of one transport, with helpers to act
//! as stakers, the master and the operator.

use std::sync::Arc;

use daas_protocol::chain::{
    Chain, ClientConfig, ExecOutcome, GraphQlClient, JsonRpcClient, RegistryReader, RetryPolicy,
    Submitter, WorkerObject,
};
use daas_protocol::envelope::{self, EnvelopeContext, JoinSecret};
use daas_protocol::hash::blake2b256;
use daas_protocol::onchain::RegistryEvent;
use daas_protocol::secret::{JoinToken, NodePassword};
use daas_protocol::tx::{ObjectRef, PtbBuilder, RegistryCalls, SharedRef};
use daas_protocol::{
    Address, ChainId, EnvelopeKey, IdentityKey, NodeId, ObjectId, SealToken, SealingKey, SuiKeypair,
};
use daas_sandbox::conformance::Spec;
use daas_sandbox::{Faults, GenesisParams, Sandbox, SandboxConfig, SandboxInfo};

pub const HOUR: u64 = 3_600_000;
pub const DAY: u64 = 24 * HOUR;
pub const SUI: u64 = 1_000_000_000;

/// Sui's specs, when this checkout has them (else one skip line per test process,
/// and a failure with `CI=true`).
pub fn spec() -> Option<Arc<Spec>> {
    Spec::for_tests()
}

/// A device: keys, node_id, and its seal token for one owner.
pub struct Device {
    pub identity: IdentityKey,
    pub sealing: SealingKey,
    pub node_id: NodeId,
    pub token: SealToken,
}

pub struct World<C> {
    pub sandbox: Sandbox,
    pub info: SandboxInfo,
    pub reader: RegistryReader<C>,
    pub master: SuiKeypair,
    pub accounts: Vec<SuiKeypair>,
    pub calls: RegistryCalls,
    pub other: RegistryCalls,
    pub chain_id: ChainId,
    pub envelope_key: EnvelopeKey,
    pub _stop: tokio::sync::oneshot::Sender<()>,
}

pub async fn start(
    genesis: GenesisParams,
    state_dir: Option<std::path::PathBuf>,
) -> (Sandbox, tokio::sync::oneshot::Sender<()>) {
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let sb = Sandbox::start(
        SandboxConfig {
            listen: "127.0.0.1:0".parse().unwrap(),
            genesis,
            state_dir,
            faults: Faults::none(),
            read_lag: 0,
            read_lag_interval_ms: 3_600_000,
            spec: spec(),
        },
        async move {
            let _ = rx.await;
        },
    )
    .await
    .expect("sandbox starts");
    (sb, tx)
}

pub fn params() -> GenesisParams {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    GenesisParams::new(7, 3, now)
}

pub fn client_config(url: &str, chain: ChainId) -> ClientConfig {
    ClientConfig {
        endpoints: vec![url.to_string()],
        chain_id: chain,
        retry: RetryPolicy {
            attempts: 2,
            ..RetryPolicy::default()
        },
    }
}

/// A client of one transport for a running sandbox (tests that need a second client,
/// e.g. other users' traffic, make one of the same kind).
pub trait Connect: Chain + Sized + 'static {
    /// A client of this transport for `info`'s sandbox.
    fn connect(info: &SandboxInfo) -> Self;
}

impl Connect for JsonRpcClient {
    fn connect(info: &SandboxInfo) -> Self {
        JsonRpcClient::new(client_config(&info.rpc_url, info.chain_id.parse().unwrap())).unwrap()
    }
}

impl Connect for GraphQlClient {
    fn connect(info: &SandboxInfo) -> Self {
        GraphQlClient::new(client_config(
            &info.graphql_url,
            info.chain_id.parse().unwrap(),
        ))
        .unwrap()
    }
}

impl World<JsonRpcClient> {
    pub async fn jsonrpc() -> Self {
        let (sb, stop) = start(params(), None).await;
        let chain: ChainId = sb.info.chain_id.parse().unwrap();
        let c = JsonRpcClient::new(client_config(&sb.info.rpc_url, chain)).unwrap();
        World::with(sb, stop, c)
    }
}

impl World<GraphQlClient> {
    pub async fn graphql() -> Self {
        let (sb, stop) = start(params(), None).await;
        let chain: ChainId = sb.info.chain_id.parse().unwrap();
        let c = GraphQlClient::new(client_config(&sb.info.graphql_url, chain)).unwrap();
        World::with(sb, stop, c)
    }
}

impl<C: Chain> World<C> {
    pub fn with(sandbox: Sandbox, stop: tokio::sync::oneshot::Sender<()>, chain: C) -> Self {
        let info = sandbox.info.clone();
        let calls = RegistryCalls {
            package: info.package_id,
            registry: SharedRef {
                id: info.registry_id,
                initial_shared_version: info.registry_initial_shared_version,
            },
        };
        let other = RegistryCalls {
            package: info.package_id,
            registry: SharedRef {
                id: info.other_registry.registry_id,
                initial_shared_version: info.other_registry.registry_initial_shared_version,
            },
        };
        World {
            reader: RegistryReader::new(chain, info.package_id, info.registry_id),
            master: SuiKeypair::from_suiprivkey(&info.master.suiprivkey).unwrap(),
            accounts: info
                .accounts
                .iter()
                .map(|a| SuiKeypair::from_suiprivkey(&a.suiprivkey).unwrap())
                .collect(),
            chain_id: info.chain_id.parse().unwrap(),
            envelope_key: EnvelopeKey::from_secret_bytes(
                daas_protocol::hex::decode_array(&info.envelope_key.private).unwrap(),
            ),
            calls,
            other,
            info,
            sandbox,
            _stop: stop,
        }
    }

    pub fn chain(&self) -> &C {
        &self.reader.chain
    }

    /// Fails the test if any request or answer so far departed from Sui's specs.
    pub fn assert_conformant(&self) {
        let v = self.sandbox.node.violations.lock().unwrap();
        assert!(v.is_empty(), "spec violations:\n{}", v.join("\n"));
    }

    pub fn now(&self) -> u64 {
        self.sandbox.node.clock.now()
    }

    pub fn advance(&self, ms: u64) {
        self.sandbox.node.advance_clock(ms);
    }

    /// A deterministic device for `owner` in `registry`.
    pub fn device_for(
        &self,
        registry: ObjectId,
        owner: Address,
        label: &str,
        seed: u64,
        identity_seed: u64,
    ) -> Device {
        let identity =
            IdentityKey::from_secret_bytes(blake2b256(&[b"id", &identity_seed.to_le_bytes()]));
        let sealing = SealingKey::from_secret_bytes(blake2b256(&[b"seal", &seed.to_le_bytes()]));
        let node_id = NodeId::from_label(label, &identity.public()).unwrap();
        let token =
            SealToken::create(&identity, &sealing.public(), &registry, &owner, &node_id).unwrap();
        Device {
            identity,
            sealing,
            node_id,
            token,
        }
    }

    pub fn device(&self, account: usize, label: &str, seed: u64) -> Device {
        self.device_for(
            self.info.registry_id,
            self.accounts[account].address(),
            label,
            seed,
            seed,
        )
    }

    pub async fn submit(
        &self,
        signer: &SuiKeypair,
        build: impl FnOnce(&mut PtbBuilder),
    ) -> ExecOutcome {
        let mut b = PtbBuilder::new();
        build(&mut b);
        Submitter::new(self.chain(), signer)
            .submit(b.finish())
            .await
            .expect("transaction reaches the chain")
    }

    /// Registers raw (node_id, token bytes) with `amount` from account `i`.
    pub async fn register_raw(
        &self,
        i: usize,
        amount: u64,
        node_id: &str,
        token: &[u8],
    ) -> ExecOutcome {
        let calls = self.calls;
        self.submit(&self.accounts[i], |b| {
            calls.stake_and_register_worker(b, amount, node_id, token);
        })
        .await
    }

    pub async fn register(&self, i: usize, label: &str, seed: u64) -> (Device, WorkerObject) {
        let d = self.device(i, label, seed);
        let out = self
            .register_raw(i, SUI, d.node_id.as_str(), &d.token.to_bytes())
            .await;
        assert!(
            out.is_success(),
            "registration of {} failed: {:?}",
            d.node_id,
            out.status
        );
        let w = self
            .worker(d.node_id.as_str())
            .await
            .expect("registered worker is found");
        (d, w)
    }

    pub async fn worker(&self, node_id: &str) -> Option<WorkerObject> {
        self.reader
            .worker_by_node_id(node_id)
            .await
            .expect("worker lookup")
    }

    pub async fn worker_by_id(&self, id: ObjectId) -> Option<WorkerObject> {
        self.reader.worker(id).await.expect("worker read")
    }

    pub fn shared(w: &WorkerObject) -> SharedRef {
        SharedRef {
            id: w.info.id,
            initial_shared_version: match w.info.owner {
                daas_protocol::chain::Owner::Shared {
                    initial_shared_version,
                } => initial_shared_version,
                other => panic!("worker is not shared: {other:?}"),
            },
        }
    }

    pub async fn object_ref(&self, id: ObjectId) -> ObjectRef {
        self.chain()
            .object(id)
            .await
            .unwrap()
            .expect("object exists")
            .object_ref()
    }

    pub fn envelope(
        &self,
        w: &WorkerObject,
        d: &Device,
        version: u64,
        expires_at_ms: u64,
    ) -> Vec<u8> {
        let ctx = EnvelopeContext {
            chain_id: self.chain_id,
            registry_id: w.worker.registry_id,
            worker_id: w.info.id,
            node_id: d.node_id.clone(),
        };
        let secret = JoinSecret {
            server: "https://10.0.0.1:6443".into(),
            token: JoinToken::new(format!("K10{}::abcdef.0123456789abcdef", "ab".repeat(32)))
                .unwrap(),
            node_password: NodePassword::generate(),
        };
        let recipient = d.sealing.public();
        envelope::seal(
            &ctx,
            &self.envelope_key,
            &recipient,
            version,
            expires_at_ms,
            &secret,
        )
        .unwrap()
    }

    /// Every registry event so far, through the client's pagination.
    pub async fn events(&self) -> Vec<RegistryEvent> {
        let mut out = Vec::new();
        let mut cursor = None;
        loop {
            let page = self
                .chain()
                .events(self.info.package_id, cursor.as_ref(), 50)
                .await
                .unwrap();
            out.extend(
                page.events
                    .into_iter()
                    .map(|e| e.event.expect("a known registry event")),
            );
            cursor = page.next_cursor;
            if !page.has_next_page {
                return out;
            }
        }
    }

    /// Events emitted after the first `n`.
    pub async fn events_after(&self, n: usize) -> Vec<RegistryEvent> {
        self.events().await.split_off(n)
    }
}

/// POSTs a JSON body to `url` and returns the JSON answer (hand-made requests).
pub async fn post(url: &str, body: serde_json::Value) -> serde_json::Value {
    reqwest::Client::new()
        .post(url)
        .json(&body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}
