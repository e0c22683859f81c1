//! Password hashing with argon2id, off the async runtime and bounded.
//!
//! Each hash costs `memory_kib` of memory and a few tens of milliseconds of one core, so the
//! number running at once is capped (`concurrency`) and the number waiting is capped too
//! (`queue`). Past that, callers get [`HashError::Busy`] at once and the server answers 429
//! with `Retry-After` instead of piling up memory (kratos#955, authelia#1044).

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, mpsc};

use adieu_types::Secret;
use argon2::password_hash::{Output, ParamsString, PasswordHash, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use rand::rngs::OsRng;
use subtle::ConstantTimeEq;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, oneshot};

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
    /// argon2 or a hashing thread failed.
    #[error("password hashing failed: {0}")]
    Internal(String),
}

/// Hashes and verifies passwords on a fixed set of threads of its own, at most `concurrency`
/// at once, admitting at most `concurrency + queue` callers; cheap to clone.
#[derive(Clone)]
pub struct PasswordHasher {
    argon2: Argon2<'static>,
    /// The hashing threads' queue; they end when the last clone is dropped.
    jobs: mpsc::Sender<Job>,
    /// Callers holding a place: hashing or queued.
    admitted: Arc<Semaphore>,
    /// A hash of a random password, verified against for unknown users so that they cost
    /// what known ones do.
    dummy_hash: Arc<str>,
    /// `concurrency + queue`.
    limit: usize,
    counters: Arc<Counters>,
}

/// What the hashing threads report, for the metrics and the tests.
#[derive(Debug, Default)]
struct Counters {
    running: AtomicUsize,
    peak: AtomicUsize,
    started: AtomicU64,
    /// Working-memory buffers allocated: one per hashing thread, once.
    allocated: AtomicUsize,
}

/// The hasher's load now and since it started.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HashStats {
    /// Hashes running now.
    pub running: usize,
    /// The most that ever ran at once.
    pub peak_running: usize,
    /// Hashes started since the hasher was made (the dummy hash excluded).
    pub started: u64,
    /// Callers holding a place now, hashing or queued.
    pub admitted: usize,
}

impl std::fmt::Debug for PasswordHasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PasswordHasher")
            .field("admitted", &self.admitted.available_permits())
            .finish_non_exhaustive()
    }
}

/// A hash or a verification, run by a hashing thread with that thread's working memory.
type Job = Box<dyn FnOnce(&mut Memory) + Send>;

/// A hashing thread's working memory for argon2 (19 MiB at the default parameters), allocated
/// at its first job and kept.
///
/// Allocating it afresh for every hash makes the kernel fault in and zero thousands of pages
/// each time, which costs about a fifth of the hash itself. argon2 overwrites every block it
/// reads, so a reused buffer needs no clearing.
struct Memory {
    kept: Vec<Block>,
    /// The block count of the hasher's own parameters, the only one kept.
    blocks: usize,
    counters: Arc<Counters>,
}

impl Memory {
    fn with<T>(&mut self, blocks: usize, work: impl FnOnce(&mut [Block]) -> T) -> T {
        if blocks != self.blocks {
            // A stored hash made with other parameters: rare, not worth keeping.
            return work(&mut vec![Block::default(); blocks]);
        }
        if self.kept.len() != blocks {
            self.kept = vec![Block::default(); blocks];
            self.counters.allocated.fetch_add(1, Ordering::SeqCst);
        }
        work(&mut self.kept)
    }
}

/// A hashing thread: takes the next job as soon as it has finished the last, in memory of its
/// own. A thread that goes straight on to a queued job, its memory still warm in its core's
/// caches, loses nothing to waking another thread or to moving a buffer between cores, as
/// the blocking pool did at every hash (measurement 3 of BENCHMARKS.md).
fn hashing_thread(jobs: &Mutex<mpsc::Receiver<Job>>, mut memory: Memory) {
    loop {
        // One thread waits on the queue at a time, the others for the lock, which is released
        // at the end of this statement, before the job runs.
        let job = jobs.lock().unwrap_or_else(|e| e.into_inner()).recv();
        let Ok(job) = job else {
            return; // The hasher and all its clones are gone.
        };
        job(&mut memory);
    }
}

fn internal(e: impl std::fmt::Display) -> HashError {
    HashError::Internal(e.to_string())
}

/// A new argon2id PHC string for `password` with a random salt.
fn hash_phc(
    argon2: &Argon2<'_>,
    memory: &mut Memory,
    password: &[u8],
) -> Result<String, HashError> {
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

/// Whether `password` matches the PHC string `phc`, at the parameters `phc` names.
fn verify_phc(memory: &mut Memory, password: &[u8], phc: &str) -> Result<bool, HashError> {
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
    /// A hasher with `concurrency` hashing threads and room for `queue` callers waiting.
    pub fn new(params: Argon2Params, concurrency: usize, queue: usize) -> Result<Self, HashError> {
        let argon2 = params.argon2()?;
        let concurrency = concurrency.max(1);
        let (counters, blocks) = (Arc::<Counters>::default(), argon2.params().block_count());
        let memory = |counters: &Arc<Counters>| Memory {
            kept: Vec::new(),
            blocks,
            counters: counters.clone(),
        };
        let dummy_password: [u8; 32] = crate::random_bytes();
        let dummy_hash = hash_phc(&argon2, &mut memory(&Arc::default()), &dummy_password)?;
        let (jobs, waiting) = mpsc::channel();
        let waiting = Arc::new(Mutex::new(waiting));
        for _ in 0..concurrency {
            let (waiting, memory) = (waiting.clone(), memory(&counters));
            let thread = std::thread::Builder::new().name("adieu-argon2".into());
            thread
                .spawn(move || hashing_thread(&waiting, memory))
                .map_err(internal)?;
        }
        Ok(Self {
            argon2,
            jobs,
            admitted: Arc::new(Semaphore::new(concurrency + queue)),
            dummy_hash: dummy_hash.into(),
            counters,
            limit: concurrency + queue,
        })
    }

    /// How busy the hasher is.
    pub fn stats(&self) -> HashStats {
        HashStats {
            running: self.counters.running.load(Ordering::SeqCst),
            peak_running: self.counters.peak.load(Ordering::SeqCst),
            started: self.counters.started.load(Ordering::SeqCst),
            admitted: self.limit - self.admitted.available_permits(),
        }
    }

    /// A PHC string for `password`; [`HashError::Busy`] at once if no place is free.
    pub async fn hash(&self, password: &Secret) -> Result<String, HashError> {
        self.admit()?.hash(password).await
    }

    /// Whether `password` matches `stored`; with `None` (an unknown user) it verifies against
    /// the dummy hash and answers `false`, in the same time. [`HashError::Busy`] at once if no
    /// place is free.
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

/// A place in the hasher: counted from [`PasswordHasher::admit`] until a hashing thread has
/// finished the hash it was taken for (or skipped it, its caller gone), however its caller
/// ends.
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
    /// A PHC string for `password`.
    pub async fn hash(self, password: &Secret) -> Result<String, HashError> {
        let (password, argon2) = (password.clone(), self.hasher.argon2.clone());
        self.run(move |memory| hash_phc(&argon2, memory, password.expose().as_bytes()))
            .await
    }

    /// Whether `password` matches `stored`, or, with `None`, the dummy hash (and then
    /// `false`).
    pub async fn verify(self, password: &Secret, stored: Option<&str>) -> Result<bool, HashError> {
        let known = stored.is_some();
        let phc: Arc<str> = match stored {
            Some(s) => s.into(),
            None => self.hasher.dummy_hash.clone(),
        };
        let password = password.clone();
        let matches = self
            .run(move |memory| verify_phc(memory, password.expose().as_bytes(), &phc))
            .await?;
        Ok(known && matches)
    }

    /// Queues `job` for the hashing threads and waits for its answer.
    ///
    /// The place moves into the job: a caller dropped while its job waits or runs (a client
    /// that hung up) frees its place only when a hashing thread has taken the job, and skipped
    /// it or finished it, so no more than `concurrency` hashes ever run and no more than
    /// `concurrency + queue` are ever admitted. A job whose caller is gone before it starts is
    /// skipped and costs nothing.
    async fn run<T: Send + 'static>(
        self,
        job: impl FnOnce(&mut Memory) -> Result<T, HashError> + Send + 'static,
    ) -> Result<T, HashError> {
        let Self { hasher, place } = self;
        let (answer, answered) = oneshot::channel();
        let counters = hasher.counters.clone();
        let job: Job = Box::new(move |memory| {
            let _place = place;
            if answer.is_closed() {
                return;
            }
            let now = counters.running.fetch_add(1, Ordering::SeqCst) + 1;
            counters.peak.fetch_max(now, Ordering::SeqCst);
            counters.started.fetch_add(1, Ordering::SeqCst);
            // A job that panics loses its caller's answer, not the thread.
            let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| job(memory)));
            counters.running.fetch_sub(1, Ordering::SeqCst);
            let result = result.unwrap_or_else(|_| Err(internal("argon2 panicked")));
            let _ = answer.send(result);
        });
        let sent = hasher.jobs.send(job);
        sent.map_err(|_| internal("the hashing threads are gone"))?;
        answered
            .await
            .map_err(|_| internal("a hashing job failed"))?
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hasher() -> PasswordHasher {
        PasswordHasher::new(Argon2Params::insecure_for_tests(), 2, 4).unwrap()
    }

    /// One hash at a time and one waiting, each costly enough to be still running when the
    /// next caller arrives.
    fn costly_hasher() -> PasswordHasher {
        let costly = Argon2Params {
            memory_kib: 16 * 1024,
            iterations: 8,
            parallelism: 1,
        };
        PasswordHasher::new(costly, 1, 1).unwrap()
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
        let allocated = h.counters.allocated.load(Ordering::SeqCst);
        assert!((1..=2).contains(&allocated), "{allocated}");
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
        let h = costly_hasher();
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

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_queued_hash_whose_caller_went_away_is_skipped() {
        let h = costly_hasher();
        let hash = |h: &PasswordHasher| {
            let h = h.clone();
            tokio::spawn(async move { h.hash(&Secret::new("password")).await })
        };
        let wait = async |done: &dyn Fn(HashStats) -> bool| {
            while !done(h.stats()) {
                tokio::time::sleep(std::time::Duration::from_millis(1)).await;
            }
        };
        let first = hash(&h);
        wait(&|s| s.running == 1).await;
        let second = hash(&h);
        wait(&|s| s.admitted == 2).await;
        second.abort();
        assert!(second.await.unwrap_err().is_cancelled());
        assert!(first.await.unwrap().is_ok());
        wait(&|s| s.admitted == 0).await;
        assert_eq!(h.stats().started, 1, "{:?}", h.stats());
    }
}
