//! Shared fixtures: a deterministic device, master and operator.

use daas_protocol::envelope::{EnvelopeContext, JoinSecret};
use daas_protocol::hash::blake2b256;
use daas_protocol::secret::{JoinToken, NodePassword};
use daas_protocol::{
    Address, ChainId, EnvelopeKey, EnvelopePublicKey, IdentityKey, NodeId, ObjectId, RootKey,
    SealToken, SealingKey,
};

pub const TOKEN: &str =
    "K10d3b1e0c5f4a8e6b2c7d9f0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5::ab12cd.0123456789abcdef";

pub fn seeded(tag: &str, n: u64) -> [u8; 32] {
    blake2b256(&[tag.as_bytes(), &n.to_le_bytes()])
}

pub struct World {
    pub chain: ChainId,
    pub registry: ObjectId,
    pub owner: Address,
    pub worker: ObjectId,
    pub identity: IdentityKey,
    pub sealing: SealingKey,
    pub node_id: NodeId,
    pub root: RootKey,
    pub envelope_key: EnvelopeKey,
    pub envelope_public: EnvelopePublicKey,
}

impl World {
    pub fn new(n: u64) -> Self {
        let identity = IdentityKey::from_secret_bytes(seeded("identity", n));
        let node_id = NodeId::from_label("rpi-42", &identity.public()).unwrap();
        World {
            chain: ChainId(seeded("chain", n)),
            registry: ObjectId(seeded("registry", n)),
            owner: Address(seeded("owner", n)),
            worker: ObjectId(seeded("worker", n)),
            sealing: SealingKey::from_secret_bytes(seeded("sealing", n)),
            identity,
            node_id,
            root: RootKey::from_secret_bytes(seeded("root", n)),
            envelope_key: EnvelopeKey::from_secret_bytes(seeded("envelope", n)),
            envelope_public: EnvelopeKey::from_secret_bytes(seeded("envelope", n)).public(),
        }
    }

    pub fn seal_token(&self) -> SealToken {
        SealToken::create(
            &self.identity,
            &self.sealing.public(),
            &self.registry,
            &self.owner,
            &self.node_id,
        )
        .unwrap()
    }

    pub fn ctx(&self) -> EnvelopeContext {
        EnvelopeContext {
            chain_id: self.chain,
            registry_id: self.registry,
            worker_id: self.worker,
            node_id: self.node_id.clone(),
        }
    }

    pub fn secret(&self) -> JoinSecret {
        JoinSecret {
            server: "https://10.0.0.1:6443".into(),
            token: JoinToken::new(TOKEN.into()).unwrap(),
            node_password: NodePassword::new("00112233445566778899aabbccddeeff".into()).unwrap(),
        }
    }
}
