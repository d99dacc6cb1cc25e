//! Random identifiers and secrets, and the one-way hash under which secrets are stored.

use std::fmt::Write as _;

use sha2::{Digest as _, Sha256};

/// `n` random bytes from the operating system.
///
/// # Panics
/// When the operating system has no randomness to give (a broken host), which no caller can
/// recover from: an id or secret must not be predictable.
pub fn random_bytes(n: usize) -> Vec<u8> {
    let mut bytes = vec![0; n];
    getrandom::getrandom(&mut bytes).expect("the operating system must provide random bytes");
    bytes
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    let mut text = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        let _ = write!(text, "{byte:02x}");
    }
    text
}

/// `prefix` followed by 17 random hex digits: `mw-0c2ab1f3e9d84a7b6` (SSM's id shape).
pub fn short_id(prefix: &str) -> String {
    let mut digits = hex(&random_bytes(9));
    digits.truncate(17);
    format!("{prefix}{digits}")
}

/// A random GUID (`8-4-4-4-12` hex digits, version 4).
pub fn guid() -> String {
    let mut bytes = random_bytes(16);
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let h = hex(&bytes);
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// A secret: `prefix` and 64 hex digits (32 random bytes).
pub fn secret(prefix: &str) -> String {
    format!("{prefix}{}", hex(&random_bytes(32)))
}

/// The stored form of a secret: sha256, hex. Secrets are 32 random bytes, so a plain hash
/// (no salt, no stretching) is enough and lets a lookup use an index.
pub fn hash_secret(secret: &str) -> String {
    hex(&Sha256::digest(secret.as_bytes()))
}
