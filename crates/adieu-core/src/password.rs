//! Password hashing with argon2id, off the async runtime and bounded.
//!
//! Each hash costs `memory_kib` of memory and a few tens of milliseconds of one core, so the
//! number running at once is capped (`concurrency`) and the number waiting is capped too
//! (`queue`). Past that, callers get [`HashError::Busy`] at once and the server answers 429
//! with `Retry-After` instead of piling up memory (kratos#955, authelia#1044).

use std::sync::Arc;

use adieu_types::Secret;
use argon2::password_hash::{PasswordHash, PasswordHasher as _, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use rand::rngs::OsRng;
use tokio::sync::Semaphore;

/// argon2id cost parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Argon2Params {
    /// Memory per hash in KiB.
    pub memory_kib: u32,
    /// Passes over the memory.
    pub iterations: u32,
    /// Lanes.
    pub parallelism: u32,
}

impl Default for Argon2Params {
    /// OWASP Password Storage Cheat Sheet: argon2id, m=19456 KiB (19 MiB), t=2, p=1.
    fn default() -> Self {
        Self {
            memory_kib: 19_456,
            iterations: 2,
            parallelism: 1,
        }
    }
}

impl Argon2Params {
    /// Cheap parameters for tests only: never use them for real passwords.
    pub fn insecure_for_tests() -> Self {
        Self {
            memory_kib: 64,
            iterations: 1,
            parallelism: 1,
        }
    }

    fn argon2(self) -> Result<Argon2<'static>, HashError> {
        let params = Params::new(self.memory_kib, self.iterations, self.parallelism, None)
            .map_err(|e| HashError::Config(e.to_string()))?;
        Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
    }
}

/// What can go wrong while hashing.
#[derive(Debug, thiserror::Error)]
pub enum HashError {
    /// Too many hashes are queued; try again later.
    #[error("password hashing is saturated")]
    Busy,
    /// The parameters are out of argon2's range.
    #[error("invalid argon2 parameters: {0}")]
    Config(String),
    /// argon2 or the blocking pool failed.
    #[error("password hashing failed: {0}")]
    Internal(String),
}

/// Hashes and verifies passwords on the blocking pool, a bounded number at once.
#[derive(Clone)]
pub struct PasswordHasher {
    argon2: Argon2<'static>,
    /// Hashes running now.
    running: Arc<Semaphore>,
    /// Hashes running or waiting; when none is left the caller is turned away.
    admitted: Arc<Semaphore>,
    /// A real hash of a random password, verified for unknown users so that timing does not
    /// tell which usernames exist.
    dummy_hash: Arc<str>,
}

impl std::fmt::Debug for PasswordHasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PasswordHasher")
            .field("running", &self.running.available_permits())
            .field("admitted", &self.admitted.available_permits())
            .finish_non_exhaustive()
    }
}

impl PasswordHasher {
    /// Builds a hasher; makes the dummy hash now, with the same parameters as real ones.
    pub fn new(params: Argon2Params, concurrency: usize, queue: usize) -> Result<Self, HashError> {
        let argon2 = params.argon2()?;
        let concurrency = concurrency.max(1);
        let dummy_password: [u8; 32] = crate::random_bytes();
        let salt = SaltString::generate(&mut OsRng);
        let dummy_hash = argon2
            .hash_password(&dummy_password, &salt)
            .map_err(|e| HashError::Internal(e.to_string()))?
            .to_string();
        Ok(Self {
            argon2,
            running: Arc::new(Semaphore::new(concurrency)),
            admitted: Arc::new(Semaphore::new(concurrency + queue)),
            dummy_hash: dummy_hash.into(),
        })
    }

    /// Hashes a new password into a PHC string.
    pub async fn hash(&self, password: &Secret) -> Result<String, HashError> {
        let password = password.clone();
        self.run(move |argon2| {
            let salt = SaltString::generate(&mut OsRng);
            argon2
                .hash_password(password.expose().as_bytes(), &salt)
                .map(|h| h.to_string())
                .map_err(|e| HashError::Internal(e.to_string()))
        })
        .await
    }

    /// Verifies a password against a stored PHC string, or against the dummy hash when the
    /// user is unknown (`None`), which always fails but costs the same.
    pub async fn verify(&self, password: &Secret, stored: Option<&str>) -> Result<bool, HashError> {
        let known = stored.is_some();
        let phc: Arc<str> = match stored {
            Some(s) => s.into(),
            None => self.dummy_hash.clone(),
        };
        let password = password.clone();
        let matches = self
            .run(move |argon2| {
                let parsed =
                    PasswordHash::new(&phc).map_err(|e| HashError::Internal(e.to_string()))?;
                Ok(argon2
                    .verify_password(password.expose().as_bytes(), &parsed)
                    .is_ok())
            })
            .await?;
        Ok(known && matches)
    }

    async fn run<T: Send + 'static>(
        &self,
        job: impl FnOnce(&Argon2<'static>) -> Result<T, HashError> + Send + 'static,
    ) -> Result<T, HashError> {
        let _admitted = self
            .admitted
            .clone()
            .try_acquire_owned()
            .map_err(|_| HashError::Busy)?;
        let _running = self
            .running
            .clone()
            .acquire_owned()
            .await
            .map_err(|e| HashError::Internal(e.to_string()))?;
        let argon2 = self.argon2.clone();
        tokio::task::spawn_blocking(move || job(&argon2))
            .await
            .map_err(|e| HashError::Internal(e.to_string()))?
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hasher() -> PasswordHasher {
        PasswordHasher::new(Argon2Params::insecure_for_tests(), 2, 4).unwrap()
    }

    #[test]
    fn production_defaults_are_the_owasp_argon2id_parameters() {
        assert_eq!(
            Argon2Params::default(),
            Argon2Params {
                memory_kib: 19_456,
                iterations: 2,
                parallelism: 1
            }
        );
    }

    #[tokio::test]
    async fn hashes_verify_and_are_argon2id() {
        let h = hasher();
        let pw = Secret::new("correct horse");
        let phc = h.hash(&pw).await.unwrap();
        assert!(phc.starts_with("$argon2id$v=19$m=64,t=1,p=1$"), "{phc}");
        assert!(h.verify(&pw, Some(&phc)).await.unwrap());
        assert!(!h.verify(&Secret::new("wrong"), Some(&phc)).await.unwrap());
    }

    #[tokio::test]
    async fn unknown_users_never_verify_even_against_the_dummy() {
        let h = hasher();
        assert!(!h.verify(&Secret::new("anything"), None).await.unwrap());
    }

    #[tokio::test]
    async fn a_full_queue_turns_callers_away_instead_of_waiting() {
        let h = PasswordHasher::new(Argon2Params::insecure_for_tests(), 1, 0).unwrap();
        // Hold the only admission slot, as a running hash would.
        let held = h.admitted.clone().try_acquire_owned().unwrap();
        assert!(matches!(
            h.hash(&Secret::new("password")).await,
            Err(HashError::Busy)
        ));
        drop(held);
        assert!(h.hash(&Secret::new("password")).await.is_ok());
    }
}
