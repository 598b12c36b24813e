//! Randomness as an input, like the clock: every id, token, ticket and code the flows make comes from the
//! [`Random`] in the application state. The service uses the operating system's generator; a test can use a
//! seeded one, so the values it gets are the same on every run.
use std::sync::{Arc, Mutex};

use rand::rngs::StdRng;
use rand::{Rng, RngCore, SeedableRng};
use uuid::Uuid;

#[derive(Clone, Debug)]
pub enum Random {
    /// The operating system's cryptographically secure generator.
    System,
    /// A deterministic generator (tests only: its values are predictable).
    Seeded(Arc<Mutex<StdRng>>),
}

impl Random {
    /// A deterministic generator from `seed`.
    pub fn seeded(seed: u64) -> Self {
        Random::Seeded(Arc::new(Mutex::new(StdRng::seed_from_u64(seed))))
    }

    pub fn fill(&self, bytes: &mut [u8]) {
        match self {
            Random::System => rand::rng().fill_bytes(bytes),
            Random::Seeded(rng) => match rng.lock() {
                Ok(mut rng) => rng.fill_bytes(bytes),
                // A panic elsewhere poisoned the lock; the generator itself is still usable.
                Err(poisoned) => poisoned.into_inner().fill_bytes(bytes),
            },
        }
    }

    /// A random (version 4) UUID.
    pub fn uuid(&self) -> Uuid {
        let mut bytes = [0u8; 16];
        self.fill(&mut bytes);
        uuid::Builder::from_random_bytes(bytes).into_uuid()
    }

    /// A uniformly random number below `bound`.
    pub fn below(&self, bound: u32) -> u32 {
        match self {
            Random::System => rand::rng().random_range(0..bound),
            Random::Seeded(rng) => match rng.lock() {
                Ok(mut rng) => rng.random_range(0..bound),
                Err(poisoned) => poisoned.into_inner().random_range(0..bound),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_seed_gives_the_same_values_and_the_system_gives_fresh_ones() {
        let (a, b) = (Random::seeded(7), Random::seeded(7));
        assert_eq!(a.uuid(), b.uuid());
        assert_eq!(a.below(1_000_000), b.below(1_000_000));
        assert_eq!(a.uuid().get_version_num(), 4);
        assert_ne!(Random::System.uuid(), Random::System.uuid());
        assert!((0..100).all(|_| Random::System.below(10) < 10));
    }
}
