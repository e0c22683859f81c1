//! The credentials in memory, the generation that fences them, and the one place that writes
//! them to the store.

use std::ops::Deref;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use crate::Result;
use crate::store::{CredentialStore, StoreContents};

/// The client's [`State`] behind its lock, with the store it is saved to. Reads go through
/// [`SharedState::lock`]; every change goes through [`SharedState::commit`], so every store
/// write happens under the lock.
pub(crate) struct SharedState {
    store: Arc<dyn CredentialStore>,
    state: Mutex<State>,
}

/// What the client holds.
pub(crate) struct State {
    /// Bumped, with [`Draft::fence`], by every change of credentials: login, refresh (or the
    /// server refusing one), logout. A refresh writes its result only if the generation is
    /// still the one it started from; this is the logout fence, and it is checked under the
    /// same lock as the store write.
    pub(crate) generation: u64,
    /// A copy of what the store holds.
    pub(crate) contents: StoreContents,
    /// The server refused our refresh token: the session ended without a logout from here.
    pub(crate) ended: bool,
}

/// The state, read under its lock.
pub(crate) struct Locked<'a>(MutexGuard<'a, State>);

impl Deref for Locked<'_> {
    type Target = State;

    fn deref(&self) -> &State {
        &self.0
    }
}

/// What becomes of a change that the store failed to save.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum IfUnsaved {
    /// It is dropped, and memory stays as the store is: a login is all or nothing, and the
    /// pending list in memory is the one in the store.
    Drop,
    /// It holds in memory all the same: a logout wipes memory whatever happens, and tokens that
    /// the server has rotated or refused are of no use any more.
    Keep,
}

/// A change in the making: the copy of the state that [`SharedState::commit`] hands to its
/// closure.
pub(crate) struct Draft {
    generation: u64,
    /// See [`State::ended`].
    pub(crate) ended: bool,
    contents: StoreContents,
    /// Whether `contents` was handed out for a change, and so must be saved.
    touched: bool,
}

impl Draft {
    /// The generation when the lock was taken.
    pub(crate) fn generation(&self) -> u64 {
        self.generation
    }

    /// Moves the generation on: a refresh that started before can no longer store its result.
    pub(crate) fn fence(&mut self) {
        self.generation += 1;
    }

    /// The store contents, to read.
    pub(crate) fn contents(&self) -> &StoreContents {
        &self.contents
    }

    /// The store contents, to change: once handed out, they are saved.
    pub(crate) fn contents_mut(&mut self) -> &mut StoreContents {
        self.touched = true;
        &mut self.contents
    }
}

impl SharedState {
    /// What `store` loaded, at generation 0.
    pub(crate) fn new(store: Arc<dyn CredentialStore>, contents: StoreContents) -> Self {
        Self {
            store,
            state: Mutex::new(State {
                generation: 0,
                contents,
                ended: false,
            }),
        }
    }

    /// The state, to read. Hold it briefly: every change waits for it.
    pub(crate) fn lock(&self) -> Locked<'_> {
        Locked(self.guard())
    }

    /// Changes the state; the only way to. Under the lock, `change` edits a copy of the state;
    /// if it changed the store contents, they are saved; then the copy becomes the state if the
    /// save succeeded, or anyway with [`IfUnsaved::Keep`]. Returns what `change` returned and
    /// how the save went.
    ///
    /// A `change` that leaves the copy as it was (say, one that finds the generation moved on)
    /// changes nothing and writes nothing.
    pub(crate) fn commit<R>(
        &self,
        if_unsaved: IfUnsaved,
        change: impl FnOnce(&mut Draft) -> R,
    ) -> (R, Result<()>) {
        let mut state = self.guard();
        let mut draft = Draft {
            generation: state.generation,
            ended: state.ended,
            contents: state.contents.clone(),
            touched: false,
        };
        let value = change(&mut draft);
        let saved = if draft.touched {
            self.store.save(&draft.contents)
        } else {
            Ok(())
        };
        if saved.is_ok() || if_unsaved == IfUnsaved::Keep {
            state.generation = draft.generation;
            state.ended = draft.ended;
            state.contents = draft.contents;
        }
        (value, saved)
    }

    fn guard(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}
