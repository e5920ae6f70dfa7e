//! The one source of randomness: the operating system, through `ring`.
use ring::rand::{SecureRandom, SystemRandom};

use crate::error::{Error, Result};

/// Fills `out` with bytes from the OS CSPRNG.
pub fn fill(out: &mut [u8]) -> Result<()> {
    SystemRandom::new()
        .fill(out)
        .map_err(|_| Error::Crypto("the operating system's random generator failed".into()))
}

/// Returns `N` fresh random bytes.
pub fn bytes<const N: usize>() -> Result<[u8; N]> {
    let mut out = [0u8; N];
    fill(&mut out)?;
    Ok(out)
}
