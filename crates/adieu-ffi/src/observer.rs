//! Telling the app when the device's session changes.

use std::sync::{Arc, Mutex, PoisonError};

use crate::{AdieuError, SessionSummary};

/// Told when this device logs in, logs out, or learns that the server ended its session (a
/// refused refresh during any call). Called on the SDK's threads after the call that caused the
/// change: hop to the main thread for UI work, and return quickly. What it throws is logged and
/// ignored.
#[uniffi::export(with_foreign)]
pub trait SessionObserver: Send + Sync {
    /// The device's session is now `session` (`None`: logged out).
    fn session_changed(&self, session: Option<SessionSummary>) -> Result<(), AdieuError>;
}

/// Compares the session after each call with the last one told, and tells the observer of a
/// difference. Under one lock, so that the observer sees changes in order and once each.
pub(crate) struct Notifier {
    observer: Option<Arc<dyn SessionObserver>>,
    last: Mutex<Option<SessionSummary>>,
}

impl Notifier {
    pub(crate) fn new(
        observer: Option<Arc<dyn SessionObserver>>,
        now: Option<SessionSummary>,
    ) -> Self {
        Self {
            observer,
            last: Mutex::new(now),
        }
    }

    /// Tells the observer if the session is no longer the one it was last told.
    pub(crate) fn update(&self, now: Option<SessionSummary>) {
        let Some(observer) = &self.observer else {
            return;
        };
        let mut last = self.last.lock().unwrap_or_else(PoisonError::into_inner);
        if *last == now {
            return;
        }
        *last = now.clone();
        if let Err(e) = observer.session_changed(now) {
            tracing::warn!(error = %e, "the session observer failed");
        }
    }
}
