//! Adieu's domain: how tokens are made and recognised, how passwords are hashed, and the
//! session policy (lifetimes, idle and absolute timeouts). Nothing here knows HTTP or SQL.

pub mod clock;
pub mod duration;
pub mod password;
pub mod policy;
pub mod ratelimit;
pub mod session;
pub mod token;

pub use clock::{Clock, ManualClock, SystemClock};
pub use password::{Admission, Argon2Params, HashError, HashStats, PasswordHasher};
pub use policy::{PairExpiry, Policy, ValidationError};
pub use session::{Session, SessionKind};
pub use token::{TokenHash, TokenKind};

/// Milliseconds since the Unix epoch: the one time unit that storage and policy share.
pub type UnixMillis = i64;

/// A random 128-bit identifier in lower-case hex, for users and sessions.
///
/// Ids are not secrets: they name things in the API but never authenticate.
pub fn new_id() -> String {
    hex::encode(random_bytes::<16>())
}

/// Bytes from the operating system's CSPRNG.
pub fn random_bytes<const N: usize>() -> [u8; N] {
    use rand::RngCore;
    let mut bytes = [0u8; N];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    bytes
}
