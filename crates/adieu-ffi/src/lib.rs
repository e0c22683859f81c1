//! The Adieu client SDK for Kotlin, Swift and Python, through UniFFI.
//!
//! [`AdieuClient`] wraps `adieu_client::Client`: the same single-flight refresh, the same
//! logout fence (the device is wiped before any network call, and a refresh that finishes
//! after a logout stores nothing), the same truthful [`LogoutOutcome`]. The app provides the
//! storage as a [`SecureStore`]; pending revocations live in it beside the session. See the
//! crate's README for what a mobile app must do around it.

mod client;
mod error;
mod observer;
mod runtime;
mod store;
mod types;

pub use client::AdieuClient;
pub use error::AdieuError;
pub use observer::SessionObserver;
pub use store::SecureStore;
pub use types::{
    AdieuConfig, LocalOnlyReason, LogoutAllOutcome, LogoutOutcome, Me, Registered, SessionInfo,
    SessionSummary,
};

uniffi::setup_scaffolding!();
