//! Client SDK for Adieu: log in, make authorized calls, and log out so that the device is
//! always left clean.
//!
//! ```no_run
//! use adieu_client::{Client, FileStore, LogoutOutcome, Secret};
//!
//! # async fn run() -> adieu_client::Result<()> {
//! let client = Client::builder("https://adieu.example")
//!     .store(FileStore::in_config_dir()?)
//!     .build()
//!     .await?;
//! client.login("alice", &Secret::new("correct horse battery")).await?;
//! println!("hello, {}", client.me().await?.username);
//!
//! match client.logout().await? {
//!     LogoutOutcome::Revoked | LogoutOutcome::AlreadyEnded => println!("logged out"),
//!     LogoutOutcome::LocalOnly { reason, .. } => {
//!         println!("logged out here, but {reason}: the session may still be active on the server");
//!     }
//!     LogoutOutcome::NotLoggedIn => println!("was not logged in"),
//! }
//! # Ok(())
//! # }
//! ```
//!
//! # One client, one refresh
//!
//! A [`Client`] holds one `reqwest` connection pool, reused by every call, and the credentials
//! in a [`CredentialStore`]: [`MemoryStore`], [`FileStore`] (a 0600 file written atomically),
//! or `KeyringStore` (the OS secret service, with the `keyring` feature). Tokens are
//! [`Secret`]s: wiped from memory when dropped, printed as `[redacted]`.
//!
//! [`Client::send_authorized`] attaches the access token. When the server answers 401, the
//! client refreshes once and retries. Concurrent callers share that **one** refresh: the server
//! treats a refresh token spent twice as stolen and ends the session, so one refresh per caller
//! would log the user out.
//!
//! # What `logout()` guarantees
//!
//! [`Client::logout`] does these steps, in this order:
//!
//! 1. **Fence.** A generation number, checked under the same lock as every store write, is
//!    bumped. A refresh still in flight can no longer write what it receives: its new tokens
//!    are dropped (and wiped). A request still in flight that meets a 401 finds no credential
//!    to refresh with.
//! 2. **Local wipe.** The credentials are removed from the store and from memory *before* the
//!    network call, whatever happens next. A crash or a hung network cannot leave the device
//!    logged in.
//! 3. **Server revocation.** `POST /api/logout` with the refresh token ends the session on the
//!    server, even when the access token has already expired. The server ends the whole
//!    session, so tokens that a racing refresh obtained from the same session die with it.
//! 4. **A truthful result,** a [`LogoutOutcome`]:
//!    - [`LogoutOutcome::Revoked`]: the server confirmed that the session is over (a 200
//!      whose body is `{"status": "logged_out"}`);
//!    - [`LogoutOutcome::AlreadyEnded`]: the session had already ended (the server refused the
//!      token: a 401 whose body has `"error": "invalid_token"`), still a successful logout;
//!    - [`LogoutOutcome::LocalOnly`] `{ reason, retry_pending: true }`: network error, timeout,
//!      5xx, or any other answer. The device is clean, but **the session may still be active on
//!      the server**.
//! 5. **Pending revocation.** After `LocalOnly`, the refresh token is kept in the store's
//!    pending-revocation list and nowhere else. Nothing in this crate can use it except a
//!    revocation call to the server that issued it. [`Client::retry_pending_revocations`]
//!    retries the list, and so does [`ClientBuilder::build`] at the next client start (unless
//!    [`ClientBuilder::retry_pending_on_start`] turned that off). Each entry goes as soon as
//!    its server confirms.
//!
//! After `logout()` returns, the store holds no credential that can make an authorized call,
//! and nothing in flight can put one back.
//!
//! # Why keep the refresh token after a failed logout
//!
//! Dropping the token when the server cannot be reached looks cleaner, but it does not end
//! anything. The session stays alive on the server until its idle or absolute timeout (14 and 90
//! days by default). If the token was copied earlier (a backup, malware, a stolen disk image),
//! the copy keeps working, and this device has thrown away its only means of ending the
//! session. Keeping the token costs little. It stays in the same protected store where it was
//! anyway, it is used only to revoke, and it goes as soon as the revocation gets through. The
//! exposure is the same as a minute before the logout, and it ends with the first good
//! connection. Dropping the token would instead make the danger permanent and silent. So the
//! SDK keeps it, and says so with `LocalOnly { retry_pending: true }`.
//!
//! A few more details:
//! - The server answers `POST /api/logout` with 200 whether it just ended the session or the
//!   session had already ended, so that the answer reveals nothing about a token. Both read as
//!   `Revoked`, because either way the session is over. `AlreadyEnded` is reported when the
//!   server refuses the token, or when this client already learned that the session had ended
//!   (a refresh was refused).
//! - Only the server's own answers are trusted. A 200 or a 401 from something in front of it
//!   (a proxy, a gateway asking for its own login, a web app's fallback page) proves nothing
//!   about the session, so it is `LocalOnly` and the revocation stays pending.
//! - Tokens are only ever sent to the server that issued them. Each stored session and pending
//!   revocation remembers its server, and a redirect is never followed.
//! - If a refresh's answer is lost in transit, the server has already spent the old refresh
//!   token, and the next refresh looks like reuse and ends the session. That fails safe.

mod answer;
mod builder;
mod client;
mod error;
mod outcome;
mod state;
pub mod store;
mod url_policy;

pub use adieu_types::{
    ActivityEvent, MeResponse, PasswordChangeResponse, RegisterResponse, Secret, SessionInfo,
    UserActionResponse,
};
pub use builder::ClientBuilder;
pub use client::{Client, SessionSummary};
pub use error::{Error, Result};
pub use outcome::{LocalOnlyReason, LogoutAllOutcome, LogoutOutcome, RetryReport};
#[cfg(feature = "keyring")]
pub use store::KeyringStore;
pub use store::{CredentialStore, FileStore, MemoryStore, PendingRevocation, StoreContents};
