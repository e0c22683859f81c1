//! A store in the operating system's secret service.

use keyring::Entry;
use zeroize::Zeroizing;

use super::{CredentialStore, StoreContents, from_json, to_json};
use crate::{Error, Result};

/// Service name under which entries are filed.
const SERVICE: &str = "adieu";

/// Keeps the credentials in the operating system's secret service: the Keychain on macOS, the
/// Credential Manager on Windows, the Secret Service (GNOME Keyring, KWallet) over D-Bus on
/// Linux. The counterpart of `flutter_secure_storage` on mobile.
///
/// The whole [`StoreContents`] document is one secret, filed under the service `adieu` and an
/// account name of your choice (one per profile or server). Saving an empty document deletes
/// the entry, so that a logged-out device keeps nothing in the keyring.
#[derive(Debug, Clone)]
pub struct KeyringStore {
    account: String,
}

impl KeyringStore {
    /// A store filed under `account` (for example the server's host name).
    pub fn new(account: impl Into<String>) -> Self {
        Self {
            account: account.into(),
        }
    }

    fn entry(&self) -> Result<Entry> {
        Entry::new(SERVICE, &self.account).map_err(|e| keyring_error("open", e))
    }
}

fn keyring_error(doing: &str, e: keyring::Error) -> Error {
    Error::store(
        format!("could not {doing} the keyring entry"),
        Some(e.into()),
    )
}

impl CredentialStore for KeyringStore {
    fn load(&self) -> Result<StoreContents> {
        match self.entry()?.get_password() {
            Ok(json) => {
                let json = Zeroizing::new(json);
                from_json(json.as_bytes(), "the keyring entry")
            }
            Err(keyring::Error::NoEntry) => Ok(StoreContents::default()),
            Err(e) => Err(keyring_error("read", e)),
        }
    }

    fn save(&self, contents: &StoreContents) -> Result<()> {
        let entry = self.entry()?;
        if contents.is_empty() {
            return match entry.delete_credential() {
                Ok(()) | Err(keyring::Error::NoEntry) => Ok(()),
                Err(e) => Err(keyring_error("delete", e)),
            };
        }
        let bytes = to_json(contents)?;
        let json = std::str::from_utf8(&bytes)
            .map_err(|e| Error::store("could not encode the credentials", Some(e.into())))?;
        entry
            .set_password(json)
            .map_err(|e| keyring_error("write", e))
    }
}
