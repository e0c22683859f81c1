//! Where the client keeps its credentials between runs.
//!
//! A store persists one [`StoreContents`] document: the current session's tokens, if any, and
//! the list of revocations still owed to a server. The client reads it once when it starts and
//! writes the whole document, under its own lock, every time it changes.

mod file;
#[cfg(feature = "keyring")]
mod keyring;
mod memory;

use std::time::{SystemTime, UNIX_EPOCH};

use adieu_types::Secret;
use serde::{Deserialize, Serialize};

use crate::Result;

pub use file::{FileStore, write_private_file};
#[cfg(feature = "keyring")]
pub use keyring::KeyringStore;
pub use memory::MemoryStore;

/// Persistent storage for a [`StoreContents`] document.
///
/// Calls are short and blocking (a file write, a keyring call); the client makes them under its
/// state lock so that no two writes interleave and a logout fence is checked atomically with the
/// write. `save` must replace the whole document: after it returns, nothing of the previous
/// contents may remain readable through the store.
pub trait CredentialStore: Send + Sync + 'static {
    /// The stored document, or an empty one if nothing was stored yet.
    fn load(&self) -> Result<StoreContents>;
    /// Replaces the stored document.
    fn save(&self, contents: &StoreContents) -> Result<()>;
}

/// Everything a client persists. A store serializes it as a whole (JSON works).
///
/// The serialized form holds the access and refresh tokens in clear, and serialization is
/// public because a store written outside this crate needs it: treat the serialized bytes as
/// the tokens themselves (keep them where only the user can read them, and wipe buffers, e.g.
/// with `zeroize::Zeroizing`). The fields are private only so that this type's API hands out no
/// token; that is a guard against mistakes, not a protection from code that holds the document.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoreContents {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) session: Option<StoredSession>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) pending_revocations: Vec<PendingRevocation>,
}

impl StoreContents {
    /// Whether the document holds no credential of any kind.
    pub fn is_empty(&self) -> bool {
        self.session.is_none() && self.pending_revocations.is_empty()
    }

    /// Whether a usable session (access and refresh token) is stored.
    pub fn has_session(&self) -> bool {
        self.session.is_some()
    }

    /// The stored session's id, if any (ids are not secrets).
    pub fn session_id(&self) -> Option<&str> {
        self.session.as_ref().map(|s| s.session_id.as_str())
    }

    /// Base URL of the server that issued the stored session, if any: the one server its tokens
    /// are ever sent to.
    pub fn session_server(&self) -> Option<&str> {
        self.session.as_ref().map(|s| s.server.as_str())
    }

    /// The revocations still owed to a server.
    pub fn pending_revocations(&self) -> &[PendingRevocation] {
        &self.pending_revocations
    }
}

/// The credentials of the session this device is logged in to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct StoredSession {
    /// Base URL of the server that issued the tokens; they are never sent anywhere else.
    pub(crate) server: String,
    pub(crate) username: String,
    pub(crate) session_id: String,
    pub(crate) access_token: Secret,
    pub(crate) refresh_token: Secret,
}

/// A logout whose server call did not get through: the session's refresh token, kept for one
/// purpose only, `POST /api/logout` at the server that issued it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingRevocation {
    server: String,
    session_id: String,
    since: u64,
    refresh_token: Secret,
}

impl PendingRevocation {
    pub(crate) fn new(server: String, session_id: String, refresh_token: Secret) -> Self {
        let since = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        Self {
            server,
            session_id,
            since,
            refresh_token,
        }
    }

    /// Base URL of the server that owes the revocation.
    pub fn server(&self) -> &str {
        &self.server
    }

    /// Id of the session to end.
    pub fn session_id(&self) -> &str {
        &self.session_id
    }

    /// When the logout happened, in seconds since the Unix epoch.
    pub fn since(&self) -> u64 {
        self.since
    }

    pub(crate) fn refresh_token(&self) -> &Secret {
        &self.refresh_token
    }
}

/// Serializes a document into a buffer that is wiped when dropped.
pub(crate) fn to_json(contents: &StoreContents) -> Result<zeroize::Zeroizing<Vec<u8>>> {
    serde_json::to_vec_pretty(contents)
        .map(zeroize::Zeroizing::new)
        .map_err(|e| crate::Error::store("could not encode the credentials", Some(e.into())))
}

/// Parses a stored document. The parser's message is left out: it can quote the input.
pub(crate) fn from_json(bytes: &[u8], what: &str) -> Result<StoreContents> {
    serde_json::from_slice(bytes).map_err(|e| {
        crate::Error::store(
            format!(
                "{what} is not a valid credentials document (line {}, column {})",
                e.line(),
                e.column()
            ),
            None,
        )
    })
}
