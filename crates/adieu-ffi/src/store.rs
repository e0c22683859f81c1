//! The host's secure storage, and how the client's one document is kept in it.

use std::sync::Arc;

use adieu_client::{CredentialStore, StoreContents};
use zeroize::Zeroizing;

use crate::AdieuError;

/// Storage the app provides: Keychain on iOS, Keystore-backed storage on Android, a 0600 file
/// on a desktop. The client keeps one document under one key (`AdieuConfig.store_key`): the
/// session's tokens and the revocations still owed to a server.
///
/// The methods are synchronous and short. The client calls them under the lock that also
/// fences a logout against a refresh in flight, on its own threads (never the app's main
/// thread), so a write and the fence check are one step; an async store would split them.
///
/// What each method must guarantee:
/// - `read`: the bytes last written, or `None` if nothing is stored. Data that cannot be
///   decrypted (a key lost with a reinstall or a restore on another device) is logged out: delete
///   it and answer `None`.
/// - `write`: replaces the whole value; once it returns, the old value is gone.
/// - `delete`: durable when it returns (committed to disk, not just to a cache), because a
///   logout wipes the device by it before it calls the server.
///
/// Throwing from any of them is reported to the caller as `AdieuError.Store`.
#[uniffi::export(with_foreign)]
pub trait SecureStore: Send + Sync {
    /// The value stored under `key`, or `None`.
    fn read(&self, key: String) -> Result<Option<Vec<u8>>, AdieuError>;
    /// Stores `value` under `key`, replacing what was there.
    fn write(&self, key: String, value: Vec<u8>) -> Result<(), AdieuError>;
    /// Removes `key` (nothing to do if it is absent), durably.
    fn delete(&self, key: String) -> Result<(), AdieuError>;
}

/// The client's [`CredentialStore`] over the host's [`SecureStore`]: the document as JSON under
/// one key, deleted when it holds nothing.
pub(crate) struct HostStore {
    store: Arc<dyn SecureStore>,
    key: String,
}

impl HostStore {
    pub(crate) fn new(store: Arc<dyn SecureStore>, key: String) -> Self {
        Self { store, key }
    }
}

impl CredentialStore for HostStore {
    fn load(&self) -> adieu_client::Result<StoreContents> {
        let Some(bytes) = self.store.read(self.key.clone()).map_err(host_error)? else {
            return Ok(StoreContents::default());
        };
        let bytes = Zeroizing::new(bytes);
        // serde's message can quote the input, so only the position is told.
        serde_json::from_slice(&bytes).map_err(|e| {
            adieu_client::Error::store(
                format!(
                    "the stored value is not a credentials document (line {}, column {})",
                    e.line(),
                    e.column()
                ),
                None,
            )
        })
    }

    fn save(&self, contents: &StoreContents) -> adieu_client::Result<()> {
        if contents.is_empty() {
            // Nothing left to keep: no empty document lingers in the host's storage.
            return self.store.delete(self.key.clone()).map_err(host_error);
        }
        let bytes = serde_json::to_vec(contents)
            .map(Zeroizing::new)
            .map_err(|e| {
                adieu_client::Error::store("could not encode the credentials", Some(e.into()))
            })?;
        // The host gets its own copy; ours is wiped when dropped.
        self.store
            .write(self.key.clone(), bytes.to_vec())
            .map_err(host_error)
    }
}

/// The host's failure, kept as its text (it comes back out as `AdieuError.Store`).
fn host_error(e: AdieuError) -> adieu_client::Error {
    let what = match e {
        AdieuError::Store { detail } => detail,
        other => other.to_string(),
    };
    adieu_client::Error::store(what, None)
}
