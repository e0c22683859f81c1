//! A store that lives as long as the process.

use std::sync::{Arc, Mutex, PoisonError};

use super::{CredentialStore, StoreContents};
use crate::Result;

/// Keeps the credentials in memory only: nothing survives the process. Clones share the same
/// contents, so a test can keep a handle and look inside.
#[derive(Debug, Clone, Default)]
pub struct MemoryStore {
    contents: Arc<Mutex<StoreContents>>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }
}

impl CredentialStore for MemoryStore {
    fn load(&self) -> Result<StoreContents> {
        Ok(self
            .contents
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone())
    }

    fn save(&self, contents: &StoreContents) -> Result<()> {
        // The replaced contents are dropped here, and their secrets wiped with them.
        *self.contents.lock().unwrap_or_else(PoisonError::into_inner) = contents.clone();
        Ok(())
    }
}
