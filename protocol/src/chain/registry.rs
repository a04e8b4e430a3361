//! Reads of one registry deployment, on any [`Chain`].

use super::{Chain, ChainError, ObjectInfo, Result, TableEntry};
use crate::ids::ObjectId;
use crate::onchain::{self, Worker, WorkerRegistry};

/// A Worker object with its chain metadata.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkerObject {
    /// Reference, owner (shared), raw contents.
    pub info: ObjectInfo,
    /// Decoded contents.
    pub worker: Worker,
}

/// Reads one deployment: the registry, its workers and their table.
pub struct RegistryReader<C> {
    /// The transport.
    pub chain: C,
    /// The package id.
    pub package: ObjectId,
    /// The registry's object id.
    pub registry_id: ObjectId,
}

fn check_type(info: &ObjectInfo, package: &ObjectId, name: &str) -> Result<()> {
    if onchain::struct_name_in(&info.type_, package) != Some(name) {
        return Err(ChainError::WrongType {
            object: info.id,
            expected: onchain::struct_type(package, name),
            reason: format!("its type is {}", info.type_),
        });
    }
    Ok(())
}

impl<C: Chain> RegistryReader<C> {
    /// A reader for `registry_id` of `package`.
    pub fn new(chain: C, package: ObjectId, registry_id: ObjectId) -> Self {
        RegistryReader {
            chain,
            package,
            registry_id,
        }
    }

    /// The registry object (error if it does not exist or is not a WorkerRegistry).
    pub async fn registry(&self) -> Result<(ObjectInfo, WorkerRegistry)> {
        let info =
            self.chain
                .object(self.registry_id)
                .await?
                .ok_or_else(|| ChainError::WrongType {
                    object: self.registry_id,
                    expected: onchain::struct_type(&self.package, "WorkerRegistry"),
                    reason: "no such object on this chain: check `registry_id` and `package_id`"
                        .into(),
                })?;
        check_type(&info, &self.package, "WorkerRegistry")?;
        let reg: WorkerRegistry = info.decode("WorkerRegistry")?;
        Ok((info, reg))
    }

    /// A Worker by object id; `None` once it is withdrawn.
    pub async fn worker(&self, id: ObjectId) -> Result<Option<WorkerObject>> {
        match self.chain.object(id).await? {
            None => Ok(None),
            Some(info) => Self::decode_worker(&self.package, info).map(Some),
        }
    }

    /// Decodes a Worker read some other way (e.g. through a quorum).
    pub fn decode_worker(package: &ObjectId, info: ObjectInfo) -> Result<WorkerObject> {
        check_type(&info, package, "Worker")?;
        let worker: Worker = info.decode("Worker")?;
        if worker.id != info.id {
            return Err(ChainError::WrongType {
                object: info.id,
                expected: "Worker".into(),
                reason: format!("its UID says {}", worker.id),
            });
        }
        Ok(WorkerObject { info, worker })
    }

    /// The Worker id registered under `node_id` (the Table entry of the registry).
    pub async fn worker_id_by_node_id(
        &self,
        registry: &WorkerRegistry,
        node_id: &str,
    ) -> Result<Option<ObjectId>> {
        self.chain.table_entry(registry.workers.id, node_id).await
    }

    /// The Worker registered under `node_id`.
    pub async fn worker_by_node_id(&self, node_id: &str) -> Result<Option<WorkerObject>> {
        let (_, reg) = self.registry().await?;
        match self.worker_id_by_node_id(&reg, node_id).await? {
            Some(id) => self.worker(id).await,
            None => Ok(None),
        }
    }

    /// Every (node_id, Worker id) in the registry, all pages.
    pub async fn all_workers(&self) -> Result<Vec<TableEntry>> {
        let (_, reg) = self.registry().await?;
        let mut out = Vec::with_capacity(reg.workers.size as usize);
        let mut cursor = None;
        loop {
            let page = self.chain.table_entries(reg.workers.id, cursor).await?;
            out.extend(page.data);
            match page.next_cursor {
                Some(c) => cursor = Some(c),
                None => return Ok(out),
            }
        }
    }
}
