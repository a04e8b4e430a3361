//! The object store: every object by (resource, namespace, name), one global
//! resourceVersion counter (as etcd's revision), a window of recent events for watches,
//! and persistence under `DATA_DIR/server/db` — `snapshot.json` (written atomically) plus
//! an fsync'd `log.jsonl` of every write since, replayed at start (a torn last line is
//! dropped) and folded into a new snapshot. Both files are 0600: they hold Secrets.

use std::collections::{BTreeMap, VecDeque};
use std::fs::{self, File, OpenOptions};
use std::io::{BufRead as _, BufReader, Write as _};
use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde_json::{Value, json};

use super::resources::{RESOURCES, resource_by_id};

/// (resource index in [`RESOURCES`], namespace ("" when cluster-scoped), name).
pub type Key = (usize, String, String);

/// A watch event kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventType {
    /// `ADDED`.
    Added,
    /// `MODIFIED`.
    Modified,
    /// `DELETED`.
    Deleted,
}

impl EventType {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Added => "ADDED",
            Self::Modified => "MODIFIED",
            Self::Deleted => "DELETED",
        }
    }
}

/// One change, kept for watches.
#[derive(Debug, Clone)]
pub struct Event {
    /// The resourceVersion of the change.
    pub rv: u64,
    /// What happened.
    pub typ: EventType,
    /// Which object.
    pub key: Key,
    /// The object after the change (for DELETED: the last state, with the deletion's RV).
    pub object: Arc<Value>,
    /// The object before the change, if any (to turn selector transitions into ADDED/DELETED).
    pub prev: Option<Arc<Value>>,
}

/// How many events a watch can go back over; older resourceVersions get 410 Gone.
pub const EVENT_WINDOW: usize = 50_000;
/// Fold the log into the snapshot after this many lines.
const COMPACT_AFTER: usize = 20_000;

/// A store failure (persistence).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The snapshot is not what this stand-in writes.
    #[error(
        "{path}: {message}: restore it from a backup or delete DATA_DIR/server/db to start empty"
    )]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
}

struct Log {
    path: PathBuf,
    file: File,
    lines: usize,
}

/// The objects and their history.
pub struct Store {
    /// The current (highest) resourceVersion.
    pub rv: u64,
    /// Every object.
    pub objects: BTreeMap<Key, Arc<Value>>,
    /// Recent events, oldest first.
    pub events: VecDeque<Event>,
    /// The resourceVersion from which `events` is complete: a watch from `rv >= oldest`
    /// sees every later change.
    pub oldest: u64,
    dir: Option<PathBuf>,
    log: Option<Log>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Store(rv={}, objects={})", self.rv, self.objects.len())
    }
}

fn io(path: &Path, source: std::io::Error) -> StoreError {
    StoreError::Io {
        path: path.to_owned(),
        source,
    }
}

fn key_json(key: &Key) -> Value {
    json!([resource_by_id(key.0).id(), key.1, key.2])
}

fn key_from_json(v: &Value) -> Option<Key> {
    let a = v.as_array()?;
    let id = a.first()?.as_str()?;
    let idx = RESOURCES.iter().position(|r| r.id() == id)?;
    Some((
        idx,
        a.get(1)?.as_str()?.to_owned(),
        a.get(2)?.as_str()?.to_owned(),
    ))
}

impl Store {
    /// An empty in-memory store.
    pub fn memory() -> Self {
        Self {
            rv: 1,
            objects: BTreeMap::new(),
            events: VecDeque::new(),
            oldest: 1,
            dir: None,
            log: None,
        }
    }

    /// Opens (or creates) the store in `dir`, replaying its log.
    pub fn open(dir: &Path) -> Result<Self, StoreError> {
        fs::create_dir_all(dir).map_err(|e| io(dir, e))?;
        fs::set_permissions(dir, fs::Permissions::from_mode(0o700)).map_err(|e| io(dir, e))?;
        let mut store = Self::memory();
        let snap_path = dir.join("snapshot.json");
        match fs::read(&snap_path) {
            Ok(bytes) => {
                let corrupt = |m: &str| StoreError::Corrupt {
                    path: snap_path.clone(),
                    message: m.to_owned(),
                };
                let v: Value =
                    serde_json::from_slice(&bytes).map_err(|e| corrupt(&e.to_string()))?;
                store.rv = v["rv"].as_u64().ok_or_else(|| corrupt("no rv"))?;
                for item in v["objects"]
                    .as_array()
                    .ok_or_else(|| corrupt("no objects"))?
                {
                    let key = key_from_json(&item["k"]).ok_or_else(|| corrupt("bad key"))?;
                    store.objects.insert(key, Arc::new(item["o"].clone()));
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(io(&snap_path, e)),
        }
        let log_path = dir.join("log.jsonl");
        match File::open(&log_path) {
            Ok(f) => {
                for line in BufReader::new(f).lines() {
                    let line = line.map_err(|e| io(&log_path, e))?;
                    // A torn last line (a crash mid-write) is dropped; its write was never
                    // acknowledged.
                    let Ok(v) = serde_json::from_str::<Value>(&line) else {
                        break;
                    };
                    let (Some(rv), Some(key)) = (v["rv"].as_u64(), key_from_json(&v["k"])) else {
                        break;
                    };
                    if rv <= store.rv {
                        continue;
                    }
                    store.rv = rv;
                    if v["o"].is_null() {
                        store.objects.remove(&key);
                    } else {
                        store.objects.insert(key, Arc::new(v["o"].clone()));
                    }
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(io(&log_path, e)),
        }
        store.oldest = store.rv;
        store.dir = Some(dir.to_owned());
        store.compact()?;
        Ok(store)
    }

    /// Writes a snapshot of the current state and starts a new, empty log.
    fn compact(&mut self) -> Result<(), StoreError> {
        let Some(dir) = self.dir.clone() else {
            return Ok(());
        };
        let objects: Vec<Value> = self
            .objects
            .iter()
            .map(|(k, o)| json!({ "k": key_json(k), "o": o.as_ref() }))
            .collect();
        let snap =
            serde_json::to_vec(&json!({ "rv": self.rv, "objects": objects })).expect("serializes");
        let snap_path = dir.join("snapshot.json");
        super::pki::write_file(&snap_path, &snap, 0o600).map_err(|e| io(&snap_path, e))?;
        let log_path = dir.join("log.jsonl");
        let file = OpenOptions::new()
            .create(true)
            .write(true)
            .truncate(true)
            .mode(0o600)
            .open(&log_path)
            .map_err(|e| io(&log_path, e))?;
        file.sync_all().map_err(|e| io(&log_path, e))?;
        self.log = Some(Log {
            path: log_path,
            file,
            lines: 0,
        });
        Ok(())
    }

    fn persist(&mut self, key: &Key, obj: Option<&Value>) {
        let Some(log) = &mut self.log else { return };
        let line = serde_json::to_string(&json!({ "rv": self.rv, "k": key_json(key), "o": obj }))
            .expect("serializes");
        // Written and synced before the API answers: a restarted server has every write a
        // client saw succeed.
        if let Err(e) = writeln!(log.file, "{line}").and_then(|()| log.file.sync_data()) {
            tracing::error!(path = %log.path.display(), error = %e, "cannot persist a write");
        }
        log.lines += 1;
        if log.lines >= COMPACT_AFTER
            && let Err(e) = self.compact()
        {
            tracing::error!(error = %e, "cannot compact the store");
        }
    }

    fn record(&mut self, typ: EventType, key: Key, object: Arc<Value>, prev: Option<Arc<Value>>) {
        self.events.push_back(Event {
            rv: self.rv,
            typ,
            key,
            object,
            prev,
        });
        while self.events.len() > EVENT_WINDOW {
            if let Some(e) = self.events.pop_front() {
                self.oldest = e.rv;
            }
        }
    }

    /// Stores `obj` under `key` with the next resourceVersion (set in its metadata).
    pub fn put(&mut self, key: Key, mut obj: Value) -> Arc<Value> {
        self.rv += 1;
        obj["metadata"]["resourceVersion"] = json!(self.rv.to_string());
        let obj = Arc::new(obj);
        let prev = self.objects.insert(key.clone(), obj.clone());
        self.persist(&key, Some(&obj));
        let typ = if prev.is_some() {
            EventType::Modified
        } else {
            EventType::Added
        };
        self.record(typ, key, obj.clone(), prev);
        obj
    }

    /// Removes `key`; the DELETED event carries the deletion's resourceVersion.
    pub fn remove(&mut self, key: &Key) -> Option<Arc<Value>> {
        let prev = self.objects.remove(key)?;
        self.rv += 1;
        self.persist(key, None);
        let mut last = prev.as_ref().clone();
        last["metadata"]["resourceVersion"] = json!(self.rv.to_string());
        self.record(
            EventType::Deleted,
            key.clone(),
            Arc::new(last),
            Some(prev.clone()),
        );
        Some(prev)
    }

    /// The object at `key`.
    pub fn get(&self, key: &Key) -> Option<&Arc<Value>> {
        self.objects.get(key)
    }

    /// Every object of resource `res` (in namespace `ns` if given), in key order.
    pub fn list(&self, res: usize, ns: Option<&str>) -> impl Iterator<Item = (&Key, &Arc<Value>)> {
        let start = (res, ns.unwrap_or("").to_owned(), String::new());
        self.objects
            .range(start..)
            .take_while(move |(k, _)| k.0 == res && ns.is_none_or(|n| k.1 == n))
    }

    /// The object with this uid, if any (for owner references).
    pub fn by_uid(&self, uid: &str) -> Option<(&Key, &Arc<Value>)> {
        self.objects
            .iter()
            .find(|(_, o)| o["metadata"]["uid"].as_str() == Some(uid))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn persists_and_replays_with_the_resource_version() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("db");
        let key: Key = (2, "kube-system".into(), "a".into());
        {
            let mut s = Store::open(&db).unwrap();
            s.put(key.clone(), json!({"metadata": {"name": "a"}}));
            s.put(
                (2, "kube-system".into(), "b".into()),
                json!({"metadata": {"name": "b"}}),
            );
            s.remove(&(2, "kube-system".into(), "b".into()));
            assert_eq!(s.rv, 4);
        }
        let mode = fs::metadata(db.join("log.jsonl"))
            .unwrap()
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(mode, 0o600);
        // A torn last line is ignored.
        let mut f = OpenOptions::new()
            .append(true)
            .open(db.join("log.jsonl"))
            .unwrap();
        f.write_all(b"{\"rv\":9,\"k\":[").unwrap();
        drop(f);
        let s = Store::open(&db).unwrap();
        assert_eq!(s.rv, 4);
        assert_eq!(s.get(&key).unwrap()["metadata"]["resourceVersion"], "2");
        assert!(s.get(&(2, "kube-system".into(), "b".into())).is_none());
        assert_eq!(s.oldest, 4, "watches cannot go back before a restart");
        let mode = fs::metadata(db.join("snapshot.json"))
            .unwrap()
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(mode, 0o600);
    }
}
