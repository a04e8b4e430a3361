//! The files a k3s agent keeps: the token file it reads once (k3s `pkg/util/file.go
//! ReadFile`), the node password and node id (k3s `pkg/agent/config/config.go
//! ensureNodePassword`, `ensureNodeID`), and the certificates under
//! `<data-dir>/agent/`.

use std::io::Write as _;
use std::os::unix::fs::{DirBuilderExt as _, OpenOptionsExt as _};
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::log::{self, Level};
use super::secret::Secret;

/// How long k3s waits for `--token-file` to appear.
pub const TOKEN_FILE_TIMEOUT: Duration = Duration::from_secs(4 * 60);
/// How often k3s looks for it.
pub const TOKEN_FILE_POLL: Duration = Duration::from_secs(2);

/// Errors of the agent's files.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FileError {
    /// k3s's own text when the token file never appeared.
    #[error("Timeout while trying to read the file")]
    Timeout,
    /// Any other I/O error, with the path.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What failed.
        source: std::io::Error,
    },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> FileError + '_ {
    move |source| FileError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Reads the token file once, waiting for it to appear as k3s does: a
/// `Waiting for <path> to be available` line every `poll` while it does not exist, up
/// to `timeout`; the contents with surrounding whitespace trimmed.
pub async fn read_token_file(
    path: &Path,
    timeout: Duration,
    poll: Duration,
) -> Result<Secret, FileError> {
    let start = tokio::time::Instant::now();
    while start.elapsed() < timeout {
        match std::fs::read(path) {
            Ok(bytes) => {
                let text = String::from_utf8_lossy(&bytes);
                return Ok(Secret::new(text.trim().to_string()));
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                // k3s formats this with a trailing "\n", which logrus keeps (quoted).
                log::logrus(
                    Level::Info,
                    &format!("Waiting for {} to be available\n", path.display()),
                );
                tokio::time::sleep(poll).await;
            }
            Err(e) => return Err(io(path)(e)),
        }
    }
    Err(FileError::Timeout)
}

/// Reads the node password, or creates it as k3s does: 16 random bytes as 32 lowercase
/// hex characters and a newline, mode 0600 (its directory 0700 when this creates it).
pub fn ensure_node_password(path: &Path) -> Result<Secret, FileError> {
    match std::fs::read(path) {
        Ok(bytes) => {
            return Ok(Secret::new(
                String::from_utf8_lossy(&bytes).trim().to_string(),
            ));
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(io(path)(e)),
    }
    let password = Secret::new(random_hex(16).map_err(io(path))?);
    create_dir_0700(path)?;
    write_new(path, format!("{}\n", password.expose()).as_bytes(), 0o600)?;
    Ok(password)
}

/// Reads the node id used by `--with-node-id`, or creates it: 4 random bytes as 8 hex
/// characters, in the file `id` beside the node password, mode 0644 (not a secret).
pub fn ensure_node_id(path: &Path) -> Result<String, FileError> {
    match std::fs::read_to_string(path) {
        Ok(s) => return Ok(s.trim().to_string()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(io(path)(e)),
    }
    let id = random_hex(4).map_err(io(path))?;
    create_dir_0700(path)?;
    write_new(path, format!("{id}\n").as_bytes(), 0o644)?;
    Ok(id)
}

fn random_hex(n: usize) -> std::io::Result<String> {
    let mut bytes = vec![0u8; n];
    getrandom::fill(&mut bytes).map_err(|e| std::io::Error::other(e.to_string()))?;
    Ok(hex::encode(bytes))
}

fn create_dir_0700(file: &Path) -> Result<(), FileError> {
    let Some(dir) = file.parent().filter(|d| !d.as_os_str().is_empty()) else {
        return Ok(());
    };
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(io(dir))
}

/// Creates (or replaces, through a temporary file and a rename) `path` with `bytes`
/// and `mode`, fsynced, so a crash never leaves half a key.
pub fn write_new(path: &Path, bytes: &[u8], mode: u32) -> Result<(), FileError> {
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    let _ = std::fs::remove_file(&tmp);
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(&tmp)
        .map_err(io(&tmp))?;
    f.write_all(bytes).map_err(io(&tmp))?;
    f.sync_all().map_err(io(&tmp))?;
    drop(f);
    std::fs::rename(&tmp, path).map_err(io(path))
}

/// Creates `<data-dir>/agent` (0700, as k3s `createProxyAndValidateToken` does).
pub fn ensure_agent_dir(data_dir: &Path) -> Result<PathBuf, FileError> {
    let dir = data_dir.join("agent");
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&dir)
        .map_err(io(&dir))?;
    Ok(dir)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt as _;

    fn mode(p: &Path) -> u32 {
        std::fs::metadata(p).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn node_password_is_created_0600_in_a_0700_dir_and_then_kept() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("etc/rancher/node/password");
        let pw = ensure_node_password(&path).unwrap();
        assert_eq!(pw.expose().len(), 32);
        assert!(
            pw.expose()
                .chars()
                .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
        );
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            format!("{}\n", pw.expose())
        );
        assert_eq!(mode(&path), 0o600);
        assert_eq!(mode(path.parent().unwrap()), 0o700);
        let again = ensure_node_password(&path).unwrap();
        assert_eq!(again.expose(), pw.expose());
    }

    #[test]
    fn an_existing_password_is_read_trimmed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("password");
        std::fs::write(&path, "  abc \n").unwrap();
        assert_eq!(ensure_node_password(&path).unwrap().expose(), "abc");
    }

    #[test]
    fn node_id_is_8_hex_and_stable() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("node/id");
        let id = ensure_node_id(&path).unwrap();
        assert_eq!(id.len(), 8);
        assert_eq!(ensure_node_id(&path).unwrap(), id);
        assert_eq!(mode(&path), 0o644);
    }

    // k3s's own timings (4 min, every 2 s) scaled down; the loop is the same
    #[tokio::test]
    async fn token_file_is_waited_for_then_times_out_like_k3s() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("token");
        let err = read_token_file(&path, Duration::from_millis(300), Duration::from_millis(20))
            .await
            .unwrap_err();
        assert_eq!(err.to_string(), "Timeout while trying to read the file");
    }

    #[tokio::test]
    async fn token_file_that_appears_later_is_read_and_trimmed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("token");
        let writer = {
            let path = path.clone();
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_millis(100)).await;
                std::fs::write(&path, "\n K10abc::x.y \n").unwrap();
            })
        };
        // a deadline far beyond the write: the file is read as soon as it is there
        let token = read_token_file(&path, Duration::from_secs(60), Duration::from_millis(20))
            .await
            .unwrap();
        writer.await.unwrap();
        assert_eq!(token.expose(), "K10abc::x.y");
    }

    #[test]
    fn write_new_replaces_with_the_mode() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k.key");
        write_new(&path, b"one", 0o600).unwrap();
        write_new(&path, b"two", 0o600).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"two");
        assert_eq!(mode(&path), 0o600);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }
}
