//! Password hashing with argon2id, off the async runtime and bounded.
//!
//! Each hash costs `memory_kib` of memory and a few tens of milliseconds of one core, so the
//! number running at once is capped (`concurrency`) and the number waiting is capped too
//! (`queue`). Past that, callers get [`HashError::Busy`] at once and the server answers 429
//! with `Retry-After` instead of piling up memory (kratos#955, authelia#1044).

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use adieu_types::Secret;
use argon2::password_hash::{Output, ParamsString, PasswordHash, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use rand::rngs::OsRng;
use subtle::ConstantTimeEq;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

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
    /// Working memory reused between hashes (see [`Memory`]).
    memory: Arc<Memory>,
    /// Hashes running now.
    running: Arc<Semaphore>,
    /// Hashes running or waiting; when none is left the caller is turned away.
    admitted: Arc<Semaphore>,
    /// A real hash of a random password, verified for unknown users so that timing does not
    /// tell which usernames exist.
    dummy_hash: Arc<str>,
    /// `concurrency + queue`: the most hashes admitted at once.
    limit: usize,
    /// What the blocking jobs report about themselves.
    counters: Arc<Counters>,
}

/// Counted inside the blocking jobs themselves, so that they tell what really ran.
#[derive(Debug, Default)]
struct Counters {
    running: AtomicUsize,
    peak: AtomicUsize,
    started: AtomicU64,
}

/// A snapshot of the hasher's own counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HashStats {
    /// argon2 computations running now.
    pub running: usize,
    /// The most that ever ran at once.
    pub peak_running: usize,
    /// argon2 computations started since the hasher was built (the dummy hash excluded).
    pub started: u64,
    /// Hashes admitted now: running, or waiting for a place to run.
    pub admitted: usize,
}

impl std::fmt::Debug for PasswordHasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PasswordHasher")
            .field("running", &self.running.available_permits())
            .field("admitted", &self.admitted.available_permits())
            .finish_non_exhaustive()
    }
}

/// argon2's working memory (19 MiB at the default parameters), kept between hashes.
///
/// Allocating it afresh for every hash makes the kernel fault in and zero thousands of pages
/// each time, which costs about a fifth of the hash itself. At most one buffer per hash that
/// may run at once is kept, so the memory held is what a burst of logins needs anyway.
/// argon2 overwrites every block it reads, so a reused buffer needs no clearing.
struct Memory {
    blocks: usize,
    keep: usize,
    free: Mutex<Vec<Vec<Block>>>,
}

impl Memory {
    fn with<T>(&self, blocks: usize, work: impl FnOnce(&mut [Block]) -> T) -> T {
        if blocks != self.blocks {
            // A stored hash made with other parameters: rare, not worth pooling.
            return work(&mut vec![Block::default(); blocks]);
        }
        let taken = self.free.lock().unwrap_or_else(|e| e.into_inner()).pop();
        let mut buffer = taken.unwrap_or_else(|| vec![Block::default(); blocks]);
        let result = work(&mut buffer);
        let mut free = self.free.lock().unwrap_or_else(|e| e.into_inner());
        if free.len() < self.keep {
            free.push(buffer);
        }
        result
    }
}

fn internal(e: impl std::fmt::Display) -> HashError {
    HashError::Internal(e.to_string())
}

/// Hashes a password into a PHC string, exactly as `argon2`'s `hash_password` does, but in
/// pooled memory.
fn hash_phc(argon2: &Argon2<'_>, memory: &Memory, password: &[u8]) -> Result<String, HashError> {
    let salt = SaltString::generate(&mut OsRng);
    let mut salt_buf = [0u8; 64];
    let salt_bytes = salt.as_salt().decode_b64(&mut salt_buf).map_err(internal)?;
    let params = argon2.params();
    let output_len = params.output_len().unwrap_or(Params::DEFAULT_OUTPUT_LEN);
    let output = Output::init_with(output_len, |out| {
        memory
            .with(params.block_count(), |blocks| {
                argon2.hash_password_into_with_memory(password, salt_bytes, out, blocks)
            })
            .map_err(Into::into)
    })
    .map_err(internal)?;
    let phc = PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(params).map_err(internal)?,
        salt: Some(salt.as_salt()),
        hash: Some(output),
    };
    Ok(phc.to_string())
}

/// Checks a password against a PHC string (with whatever parameters it was made with), in
/// pooled memory, comparing in constant time.
fn verify_phc(memory: &Memory, password: &[u8], phc: &str) -> Result<bool, HashError> {
    let parsed = PasswordHash::new(phc).map_err(internal)?;
    let params = Params::try_from(&parsed).map_err(internal)?;
    let algorithm = Algorithm::try_from(parsed.algorithm).map_err(internal)?;
    let version = match parsed.version {
        Some(v) => Version::try_from(v).map_err(internal)?,
        None => Version::default(),
    };
    let (Some(salt), Some(expected)) = (parsed.salt, parsed.hash) else {
        return Err(internal("stored hash has no salt or no output"));
    };
    let mut salt_buf = [0u8; 64];
    let salt_bytes = salt.decode_b64(&mut salt_buf).map_err(internal)?;
    let blocks = params.block_count();
    let argon2 = Argon2::new(algorithm, version, params);
    let mut out = vec![0u8; expected.len()];
    memory
        .with(blocks, |memory| {
            argon2.hash_password_into_with_memory(password, salt_bytes, &mut out, memory)
        })
        .map_err(internal)?;
    Ok(expected.as_bytes().ct_eq(&out).into())
}

impl PasswordHasher {
    /// Builds a hasher; makes the dummy hash now, with the same parameters as real ones.
    pub fn new(params: Argon2Params, concurrency: usize, queue: usize) -> Result<Self, HashError> {
        let argon2 = params.argon2()?;
        let concurrency = concurrency.max(1);
        let memory = Arc::new(Memory {
            blocks: argon2.params().block_count(),
            keep: concurrency,
            free: Mutex::new(Vec::new()),
        });
        let dummy_password: [u8; 32] = crate::random_bytes();
        let dummy_hash = hash_phc(&argon2, &memory, &dummy_password)?;
        Ok(Self {
            argon2,
            memory,
            running: Arc::new(Semaphore::new(concurrency)),
            admitted: Arc::new(Semaphore::new(concurrency + queue)),
            dummy_hash: dummy_hash.into(),
            counters: Arc::default(),
            limit: concurrency + queue,
        })
    }

    /// What runs and what waits now, and what ran.
    pub fn stats(&self) -> HashStats {
        HashStats {
            running: self.counters.running.load(Ordering::SeqCst),
            peak_running: self.counters.peak.load(Ordering::SeqCst),
            started: self.counters.started.load(Ordering::SeqCst),
            admitted: self.limit - self.admitted.available_permits(),
        }
    }

    /// Hashes a new password into a PHC string.
    pub async fn hash(&self, password: &Secret) -> Result<String, HashError> {
        self.admit()?.hash(password).await
    }

    /// Verifies a password against a stored PHC string, or against the dummy hash when the
    /// user is unknown (`None`), which always fails but costs the same.
    pub async fn verify(&self, password: &Secret, stored: Option<&str>) -> Result<bool, HashError> {
        self.admit()?.verify(password, stored).await
    }

    /// Takes a place for one hash, or [`HashError::Busy`] at once when every place is taken.
    ///
    /// Callers that must spend something only on a hash that really runs (a login's
    /// per-user budget) take the place first and spend afterwards.
    pub fn admit(&self) -> Result<Admission, HashError> {
        let place = self
            .admitted
            .clone()
            .try_acquire_owned()
            .map_err(|_| HashError::Busy)?;
        Ok(Admission {
            hasher: self.clone(),
            place,
        })
    }
}

/// A place in the hasher: counted from [`PasswordHasher::admit`] until the hash it was taken
/// for has finished, however its caller ends.
#[must_use = "a place does nothing until it hashes or verifies"]
pub struct Admission {
    hasher: PasswordHasher,
    place: OwnedSemaphorePermit,
}

impl std::fmt::Debug for Admission {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Admission").finish_non_exhaustive()
    }
}

impl Admission {
    /// Hashes a new password into a PHC string.
    pub async fn hash(self, password: &Secret) -> Result<String, HashError> {
        let password = password.clone();
        self.run(move |argon2, memory| hash_phc(argon2, memory, password.expose().as_bytes()))
            .await
    }

    /// Verifies a password against a stored PHC string, or against the dummy hash when the
    /// user is unknown (`None`), which always fails but costs the same.
    pub async fn verify(self, password: &Secret, stored: Option<&str>) -> Result<bool, HashError> {
        let known = stored.is_some();
        let phc: Arc<str> = match stored {
            Some(s) => s.into(),
            None => self.hasher.dummy_hash.clone(),
        };
        let password = password.clone();
        let matches = self
            .run(move |_, memory| verify_phc(memory, password.expose().as_bytes(), &phc))
            .await?;
        Ok(known && matches)
    }

    /// Waits for a turn, then hashes on the blocking pool.
    ///
    /// Both permits move into the blocking job: a caller dropped while the hash runs (a client
    /// that hung up) frees its place only when argon2 has finished with the memory, so no
    /// more than `concurrency` hashes ever run and no more than `concurrency + queue` are
    /// ever admitted. A caller dropped while it waits gives its place back, having cost
    /// nothing.
    async fn run<T: Send + 'static>(
        self,
        job: impl FnOnce(&Argon2<'static>, &Memory) -> Result<T, HashError> + Send + 'static,
    ) -> Result<T, HashError> {
        let Self { hasher, place } = self;
        let turn = hasher
            .running
            .clone()
            .acquire_owned()
            .await
            .map_err(|e| HashError::Internal(e.to_string()))?;
        let (argon2, memory, counters) = (hasher.argon2, hasher.memory, hasher.counters);
        tokio::task::spawn_blocking(move || {
            let _held = (place, turn);
            let now = counters.running.fetch_add(1, Ordering::SeqCst) + 1;
            counters.peak.fetch_max(now, Ordering::SeqCst);
            counters.started.fetch_add(1, Ordering::SeqCst);
            let result = job(&argon2, &memory);
            counters.running.fetch_sub(1, Ordering::SeqCst);
            result
        })
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
    async fn hashes_are_standard_phc_strings_both_ways() {
        use argon2::password_hash::{PasswordHasher as _, PasswordVerifier as _};
        let h = hasher();
        let reference = Argon2Params::insecure_for_tests().argon2().unwrap();
        // Ours, checked by the reference implementation.
        let ours = h.hash(&Secret::new("correct horse")).await.unwrap();
        let parsed = PasswordHash::new(&ours).unwrap();
        assert!(reference.verify_password(b"correct horse", &parsed).is_ok());
        assert!(reference.verify_password(b"wrong horse", &parsed).is_err());
        // The reference's, at other parameters, checked by ours (unpooled memory).
        let theirs = Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            Params::new(128, 2, 1, None).unwrap(),
        )
        .hash_password(b"battery staple", &SaltString::generate(&mut OsRng))
        .unwrap()
        .to_string();
        assert!(
            h.verify(&Secret::new("battery staple"), Some(&theirs))
                .await
                .unwrap()
        );
        assert!(
            !h.verify(&Secret::new("battery stapler"), Some(&theirs))
                .await
                .unwrap()
        );
    }

    #[tokio::test]
    async fn working_memory_is_reused_and_bounded() {
        let h = hasher(); // concurrency 2
        for _ in 0..5 {
            h.hash(&Secret::new("password")).await.unwrap();
        }
        let kept = h.memory.free.lock().unwrap().len();
        assert!((1..=2).contains(&kept), "{kept}");
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

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_hash_whose_caller_went_away_still_holds_its_place_until_it_finishes() {
        // Costly enough that each hash is still running when the next caller arrives.
        let costly = Argon2Params {
            memory_kib: 8 * 1024,
            iterations: 8,
            parallelism: 1,
        };
        let h = PasswordHasher::new(costly, 1, 1).unwrap();
        for _ in 0..6 {
            let caller = tokio::spawn({
                let h = h.clone();
                async move { h.hash(&Secret::new("password")).await }
            });
            // Let it reach the hasher, then drop it the way a hung-up client's request is
            // dropped: mid-hash, or while it waits for its turn.
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            caller.abort();
        }
        let idle = async {
            while h.stats().running > 0 || h.stats().admitted > 0 {
                tokio::time::sleep(std::time::Duration::from_millis(5)).await;
            }
        };
        tokio::time::timeout(std::time::Duration::from_secs(60), idle)
            .await
            .expect("the hashes finish");
        let stats = h.stats();
        assert!(stats.started >= 1, "{stats:?}");
        assert_eq!(stats.peak_running, 1, "{stats:?}");
    }
}
