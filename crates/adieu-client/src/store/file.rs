//! A store in a file only its owner can read.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use super::{CredentialStore, StoreContents, from_json, to_json};
use crate::{Error, Result};

/// Name of the credentials file in the configuration directory.
const FILE_NAME: &str = "credentials.json";

/// Keeps the credentials in a JSON file, by default `credentials.json` in the user's
/// configuration directory (`~/.config/adieu/` on Linux).
///
/// - The file is created with mode 0600 and its directory with 0700.
/// - Every write goes to a temporary file in the same directory, is flushed to disk, then
///   renamed over the old file: a crash leaves either the old document or the new one, never
///   half of one.
/// - A file that its group or other users can read or write is refused, with the reason, rather
///   than trusted: its tokens may already have leaked, and the user should know.
///
/// One process at a time should write a given file.
#[derive(Debug, Clone)]
pub struct FileStore {
    path: PathBuf,
}

impl FileStore {
    /// A store in the given file.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self { path: path.into() }
    }

    /// A store in `credentials.json` inside `dir`.
    pub fn in_dir(dir: impl AsRef<Path>) -> Self {
        Self::new(dir.as_ref().join(FILE_NAME))
    }

    /// A store in the user's configuration directory, `<config dir>/adieu/credentials.json`.
    pub fn in_config_dir() -> Result<Self> {
        let dir = dirs::config_dir().ok_or_else(|| {
            Error::store("could not find the user's configuration directory", None)
        })?;
        Ok(Self::in_dir(dir.join("adieu")))
    }

    /// The file this store reads and writes.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn io_error(&self, doing: &str, e: io::Error) -> Error {
        Error::store(
            format!("could not {doing} {}", self.path.display()),
            Some(e.into()),
        )
    }

    /// Writes `contents` atomically; `write` puts the bytes into the open temporary file (a
    /// seam for tests that simulate a crash half-way).
    fn save_with(
        &self,
        contents: &StoreContents,
        write: impl FnOnce(&mut File, &[u8]) -> io::Result<()>,
    ) -> Result<()> {
        let bytes = to_json(contents)?;
        replace_private(&self.path, |file| write(file, &bytes))
            .map_err(|(doing, e)| self.io_error(doing, e))
    }
}

/// Writes `bytes` to the file at `path` the way [`FileStore`] writes the credentials, for
/// other files that belong next to them (an application's settings, say):
///
/// - the missing directories are created with mode 0700, and the file has mode 0600;
/// - the bytes go to a new temporary file in the same directory (`.NAME.tmp`, never an old one
///   reused nor a symlink followed), which is flushed to disk and renamed over `path`; the
///   rename itself is flushed too. A crash leaves either the old file or the new one.
///
/// One process at a time should write a given file. (On other systems than Unix the modes
/// are left to the directory's ACL.)
pub fn write_private_file(path: &Path, bytes: &[u8]) -> io::Result<()> {
    replace_private(path, |file| file.write_all(bytes)).map_err(|(_, e)| e)
}

/// The atomic replacement behind [`write_private_file`]; an error says what it was doing.
fn replace_private(
    path: &Path,
    write: impl FnOnce(&mut File) -> io::Result<()>,
) -> std::result::Result<(), (&'static str, io::Error)> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        create_private_dir(dir).map_err(|e| ("create the directory of", e))?;
    }
    let temp = temp_path(path);
    // A crashed earlier write may have left a temporary file behind; it is replaced, never
    // reused, so that its mode is ours.
    match fs::remove_file(&temp) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(("clean up next to", e)),
    }
    let result = (|| {
        let mut file = create_private_file(&temp)?;
        write(&mut file)?;
        file.sync_all()?;
        drop(file);
        fs::rename(&temp, path)?;
        sync_dir(path)
    })();
    if let Err(e) = result {
        let _ = fs::remove_file(&temp);
        return Err(("write", e));
    }
    Ok(())
}

/// Where a write of `path` puts its bytes before the rename.
fn temp_path(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map_or_else(|| FILE_NAME.into(), |n| n.to_string_lossy().into_owned());
    path.with_file_name(format!(".{name}.tmp"))
}

impl CredentialStore for FileStore {
    fn load(&self) -> Result<StoreContents> {
        let meta = match fs::symlink_metadata(&self.path) {
            Ok(meta) => meta,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(StoreContents::default()),
            Err(e) => return Err(self.io_error("read", e)),
        };
        if !meta.file_type().is_file() {
            return Err(Error::store(
                format!(
                    "refusing to read {}: it is not a regular file",
                    self.path.display()
                ),
                None,
            ));
        }
        check_private(&self.path, &meta)?;
        let bytes =
            zeroize::Zeroizing::new(fs::read(&self.path).map_err(|e| self.io_error("read", e))?);
        from_json(&bytes, &self.path.display().to_string())
    }

    fn save(&self, contents: &StoreContents) -> Result<()> {
        self.save_with(contents, |file, bytes| file.write_all(bytes))
    }
}

#[cfg(unix)]
fn check_private(path: &Path, meta: &fs::Metadata) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(Error::store(
            format!(
                "refusing to read {}: other users can access it (mode {mode:03o}), so its \
                 tokens may have leaked; log out elsewhere or run `chmod 600` on it",
                path.display()
            ),
            None,
        ));
    }
    Ok(())
}

#[cfg(not(unix))]
fn check_private(_path: &Path, _meta: &fs::Metadata) -> Result<()> {
    // Elsewhere the file lives in the per-user profile, protected by its ACL.
    Ok(())
}

#[cfg(unix)]
fn create_private_file(path: &Path) -> io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
}

#[cfg(not(unix))]
fn create_private_file(path: &Path) -> io::Result<File> {
    OpenOptions::new().write(true).create_new(true).open(path)
}

#[cfg(unix)]
fn create_private_dir(dir: &Path) -> io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
}

#[cfg(not(unix))]
fn create_private_dir(dir: &Path) -> io::Result<()> {
    fs::create_dir_all(dir)
}

/// Flushes the rename itself to disk, so that a power cut cannot bring the old file back.
#[cfg(unix)]
fn sync_dir(file: &Path) -> io::Result<()> {
    match file.parent().filter(|d| !d.as_os_str().is_empty()) {
        Some(dir) => File::open(dir)?.sync_all(),
        None => File::open(".")?.sync_all(),
    }
}

#[cfg(not(unix))]
fn sync_dir(_file: &Path) -> io::Result<()> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use adieu_types::Secret;

    use super::*;
    use crate::store::StoredSession;

    fn contents(refresh: &str) -> StoreContents {
        StoreContents {
            session: Some(StoredSession {
                server: "https://adieu.example/".into(),
                username: "alice".into(),
                session_id: "s1".into(),
                access_token: Secret::new("adieu_at_old-access"),
                refresh_token: Secret::new(refresh),
            }),
            pending_revocations: Vec::new(),
        }
    }

    #[test]
    fn a_write_that_fails_half_way_leaves_the_old_file_intact() {
        let dir = tempfile::tempdir().unwrap();
        let store = FileStore::in_dir(dir.path());
        let old = contents("adieu_rt_old-refresh");
        store.save(&old).unwrap();

        let err = store
            .save_with(&contents("adieu_rt_new-refresh"), |file, bytes| {
                file.write_all(&bytes[..bytes.len() / 2])?;
                Err(io::Error::other("disk unplugged"))
            })
            .unwrap_err();

        assert!(err.is_store(), "{err}");
        assert_eq!(store.load().unwrap(), old);
        assert!(
            !temp_path(store.path()).exists(),
            "the half-written file is removed"
        );
    }

    #[test]
    fn a_crash_half_way_leaves_the_old_file_intact_and_the_next_write_recovers() {
        let dir = tempfile::tempdir().unwrap();
        let store = FileStore::in_dir(dir.path());
        let old = contents("adieu_rt_old-refresh");
        store.save(&old).unwrap();

        // A panic stands for the process dying: no clean-up code runs after it.
        let crashed = std::panic::catch_unwind(|| {
            let _ = store.save_with(&contents("adieu_rt_new-refresh"), |file, bytes| {
                file.write_all(&bytes[..bytes.len() / 2])?;
                file.sync_all()?;
                panic!("killed mid-write");
            });
        });
        assert!(crashed.is_err());
        assert!(
            temp_path(store.path()).exists(),
            "the crash left its half file"
        );

        assert_eq!(
            store.load().unwrap(),
            old,
            "the old document is still whole"
        );
        let new = contents("adieu_rt_newer-refresh");
        store.save(&new).unwrap();
        assert_eq!(store.load().unwrap(), new);
        assert!(!temp_path(store.path()).exists());
    }

    #[test]
    fn a_missing_file_is_an_empty_store() {
        let dir = tempfile::tempdir().unwrap();
        let store = FileStore::in_dir(dir.path().join("not-yet"));
        assert!(store.load().unwrap().is_empty());
    }

    #[cfg(unix)]
    #[test]
    fn a_symlink_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("elsewhere.json");
        FileStore::new(&target)
            .save(&contents("adieu_rt_x"))
            .unwrap();
        let link = dir.path().join("credentials.json");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        let err = FileStore::new(&link).load().unwrap_err();
        assert!(err.to_string().contains("not a regular file"), "{err}");
    }
}
