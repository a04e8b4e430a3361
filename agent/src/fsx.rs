//! Careful file writes: atomic replacement (temporary file, fsync, rename, fsync of the
//! directory) with an explicit mode, private directories, and wiping a secret file
//! (overwrite with zeros, fsync, remove, fsync of the directory).

use std::fs;
use std::io::{self, Write as _};
use std::os::unix::fs::{DirBuilderExt as _, MetadataExt as _, OpenOptionsExt as _};
use std::path::{Path, PathBuf};

use thiserror::Error;

/// A file operation that failed, naming the path.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum FsError {
    /// The OS refused.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// A directory that must be private is open to group or others, or not ours.
    #[error(
        "directory {} has mode {mode:04o} (owner uid {uid}): it must be 0700 and owned by this user (uid {me}); fix it with `chown {me} {} && chmod 700 {}`",
        path.display(), path.display(), path.display()
    )]
    NotPrivate {
        /// The directory.
        path: PathBuf,
        /// Its mode.
        mode: u32,
        /// Its owner.
        uid: u32,
        /// Our uid.
        me: u32,
    },
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> FsError + '_ {
    move |source| FsError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// The directory `path` is in (`.` for a bare file name).
pub(crate) fn parent(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// Creates `dir` (and missing parents, 0755) with mode `mode` if it does not exist.
pub fn ensure_dir(dir: &Path, mode: u32) -> Result<(), FsError> {
    if dir.is_dir() {
        return Ok(());
    }
    if let Some(p) = dir.parent()
        && !p.as_os_str().is_empty()
        && !p.exists()
    {
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o755)
            .create(p)
            .map_err(io_err(p))?;
    }
    match fs::DirBuilder::new().mode(mode).create(dir) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists && dir.is_dir() => Ok(()),
        Err(e) => Err(io_err(dir)(e)),
    }
}

/// Creates `dir` 0700 if missing; refuses an existing one that group or others can
/// enter or that another user owns.
pub fn ensure_private_dir(dir: &Path) -> Result<(), FsError> {
    ensure_dir(dir, 0o700)?;
    let meta = fs::metadata(dir).map_err(io_err(dir))?;
    let me = rustix::process::geteuid().as_raw();
    let mode = meta.mode() & 0o7777;
    if mode & 0o077 != 0 || meta.uid() != me {
        return Err(FsError::NotPrivate {
            path: dir.to_path_buf(),
            mode,
            uid: meta.uid(),
            me,
        });
    }
    Ok(())
}

/// Replaces `path` atomically with `contents`, mode `mode`: a temporary file in the
/// same directory (created with `mode` and `O_EXCL`, so never through a planted
/// symlink), fsync, rename over `path`, fsync
/// of the directory. Readers see the old or the new file, never a torn one.
pub fn write_atomic(path: &Path, contents: &[u8], mode: u32) -> Result<(), FsError> {
    let dir = parent(path);
    let tmp = temp_beside(path, "tmp");
    let result = write_synced(&tmp, contents, mode).and_then(|()| {
        fs::rename(&tmp, path).map_err(io_err(path))?;
        sync_dir(dir)
    });
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// Creates `path` with `contents` and mode `mode` without ever replacing an existing
/// file: a synced temporary file is hard-linked into place (which fails if the name
/// exists), then the directory is synced. Returns false if `path` already existed.
pub fn create_new(path: &Path, contents: &[u8], mode: u32) -> Result<bool, FsError> {
    let dir = parent(path);
    let tmp = temp_beside(path, "new");
    let result = write_synced(&tmp, contents, mode).and_then(|()| {
        match fs::hard_link(&tmp, path) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => return Ok(false),
            Err(e) => return Err(io_err(path)(e)),
        }
        sync_dir(dir)?;
        Ok(true)
    });
    let _ = fs::remove_file(&tmp);
    result
}

/// `.<name>.<tag>-<pid>` in `path`'s directory, with any leftover of that name removed.
fn temp_beside(path: &Path, tag: &str) -> PathBuf {
    let tmp = parent(path).join(format!(
        ".{}.{tag}-{}",
        path.file_name().and_then(|n| n.to_str()).unwrap_or("file"),
        std::process::id()
    ));
    let _ = fs::remove_file(&tmp);
    tmp
}

/// Writes a new file `tmp` (`O_EXCL`, so never through a planted symlink) with exactly
/// `mode` and `contents`, and fsyncs it.
fn write_synced(tmp: &Path, contents: &[u8], mode: u32) -> Result<(), FsError> {
    let mut f = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(tmp)
        .map_err(io_err(tmp))?;
    // The umask may have narrowed the mode; never widen beyond what was asked.
    f.set_permissions(std::os::unix::fs::PermissionsExt::from_mode(mode))
        .map_err(io_err(tmp))?;
    f.write_all(contents).map_err(io_err(tmp))?;
    f.sync_all().map_err(io_err(tmp))
}

/// fsyncs a directory (so a rename or unlink in it is durable).
pub fn sync_dir(dir: &Path) -> Result<(), FsError> {
    fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io_err(dir))
}

/// Overwrites a file's bytes with zeros in place, syncs, removes it and syncs its
/// directory (`daas_protocol::keys::wipe_file`). A missing file is fine; a symbolic
/// link is dropped, never followed out of the bundle.
pub fn wipe(path: &Path) -> Result<(), FsError> {
    daas_protocol::keys::wipe_file(path).map_err(io_err(path))
}

/// Removes a file if it exists and syncs its directory.
pub fn remove_if_exists(path: &Path) -> Result<(), FsError> {
    match fs::remove_file(path) {
        Ok(()) => sync_dir(parent(path)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(io_err(path)(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt as _;

    fn mode(p: &Path) -> u32 {
        fs::metadata(p).unwrap().mode() & 0o777
    }

    #[test]
    fn atomic_write_replaces_with_the_given_mode_and_leaves_no_temp_file() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("state.json");
        write_atomic(&p, b"one", 0o600).unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"one");
        assert_eq!(mode(&p), 0o600);
        write_atomic(&p, b"two", 0o644).unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"two");
        assert_eq!(mode(&p), 0o644);
        assert_eq!(fs::read_dir(d.path()).unwrap().count(), 1);
    }

    #[test]
    fn private_dir_is_created_0700_and_an_open_one_is_refused() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("run").join("private");
        ensure_private_dir(&p).unwrap();
        assert_eq!(mode(&p), 0o700);
        fs::set_permissions(&p, fs::Permissions::from_mode(0o755)).unwrap();
        let e = ensure_private_dir(&p).unwrap_err().to_string();
        assert!(e.contains("0755") && e.contains("chmod 700"), "{e}");
    }

    #[test]
    fn wipe_zeroes_the_bytes_before_removing_the_name() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("identity.key");
        fs::write(&p, b"k8s-daas-key v1 identity abcdef").unwrap();
        // A second name for the same inode shows what happened to the bytes.
        let witness = d.path().join("witness");
        fs::hard_link(&p, &witness).unwrap();
        wipe(&p).unwrap();
        assert!(!p.exists());
        let bytes = fs::read(&witness).unwrap();
        assert_eq!(bytes.len(), 31);
        assert!(bytes.iter().all(|b| *b == 0));
        wipe(&p).unwrap();
    }
}
