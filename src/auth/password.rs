//! Password hashing with argon2id (RFC 9106's second recommended profile,
//! 19 MiB, 2 passes: about 20 ms here). Hashing is CPU work and memory:
//! the server runs it through `HashingSlots`, a few at a time off the async
//! threads, so a flood of sign-ins queues briefly and is then told the
//! server is busy instead of taking gigabytes.

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Semaphore;

/// Shortest password accepted; long passphrases are welcome.
pub const MIN_LENGTH: usize = 10;
pub const MAX_LENGTH: usize = 1024;

fn hasher() -> Argon2<'static> {
    // Params::DEFAULT is m=19456 KiB, t=2, p=1: OWASP's argon2id baseline.
    Argon2::new(Algorithm::Argon2id, Version::V0x13, Params::DEFAULT)
}

pub fn hash(password: &str) -> String {
    let salt = SaltString::generate(&mut OsRng);
    hasher()
        .hash_password(password.as_bytes(), &salt)
        // Only fails for salts or parameters out of range, which ours are not.
        .expect("argon2 parameters are valid")
        .to_string()
}

/// Constant-time check of `password` against a stored PHC string.
pub fn verify(password: &str, stored: &str) -> bool {
    PasswordHash::new(stored).is_ok_and(|parsed| {
        hasher()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok()
    })
}

/// A hash to verify against when the account does not exist, so that a
/// wrong username takes as long as a wrong password.
pub fn decoy() -> &'static str {
    static DECOY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DECOY.get_or_init(|| hash("decoy password, never matches"))
}

/// Makes every allocation of 4 MiB or more its own mapping, returned to
/// the system when freed. glibc otherwise raises its mmap threshold after
/// the first large free and then keeps each argon2 block (19 MiB) in the
/// arena of whichever thread hashed it: a burst of sign-ins left hundreds
/// of MiB resident for good. Call once at start, before threads hash.
pub fn return_large_blocks_to_the_system() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets an allocator parameter; M_MMAP_THRESHOLD
    // takes a size in bytes. It returns 0 on failure, which leaves the
    // default behaviour: not worth failing the start for.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 4 * 1024 * 1024);
    }
}

/// A bounded number of hashes at once; the rest wait up to `wait`.
#[derive(Clone, Debug)]
pub struct HashingSlots {
    slots: Arc<Semaphore>,
    wait: Duration,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum HashError {
    /// Every slot stayed taken for the whole wait.
    #[error("every password-hashing slot is busy")]
    Busy,
    #[error("password hashing failed")]
    Failed,
}

impl HashingSlots {
    pub fn new(slots: usize, wait: Duration) -> Self {
        Self {
            slots: Arc::new(Semaphore::new(slots.max(1))),
            wait,
        }
    }

    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, HashError> {
        let permit = tokio::time::timeout(self.wait, self.slots.clone().acquire_owned())
            .await
            .map_err(|_| HashError::Busy)?
            // The semaphore is never closed.
            .map_err(|_| HashError::Failed)?;
        tokio::task::spawn_blocking(move || {
            let _held = permit;
            work()
        })
        .await
        .map_err(|_| HashError::Failed)
    }

    pub async fn hash(&self, password: String) -> Result<String, HashError> {
        self.run(move || hash(&password)).await
    }

    /// Checks `password` against `stored`, or against the decoy when there
    /// is no stored hash, so a wrong username costs as much as a wrong
    /// password.
    pub async fn verify(
        &self,
        password: String,
        stored: Option<String>,
    ) -> Result<bool, HashError> {
        self.run(move || {
            let matches = verify(&password, stored.as_deref().unwrap_or_else(|| decoy()));
            matches && stored.is_some()
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_are_argon2id_salted_and_verify() {
        let a = hash("上课了同学们 2026");
        let b = hash("上课了同学们 2026");
        assert!(a.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{a}");
        assert_ne!(a, b, "salted");
        assert!(verify("上课了同学们 2026", &a));
        assert!(!verify("上课了同学们 2025", &a));
        assert!(!verify("anything", "not a hash"));
    }

    #[tokio::test]
    async fn hashes_beyond_the_slots_wait_then_are_refused() {
        let slots = HashingSlots::new(1, Duration::from_millis(1));
        let held = slots.slots.clone().acquire_owned().await.unwrap();
        assert_eq!(slots.hash("x".repeat(12)).await, Err(HashError::Busy));
        drop(held);
        let stored = slots.hash("x".repeat(12)).await.unwrap();
        assert_eq!(slots.verify("x".repeat(12), Some(stored)).await, Ok(true));
        assert_eq!(slots.verify("x".repeat(12), None).await, Ok(false));
    }
}
