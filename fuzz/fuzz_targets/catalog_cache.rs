#![no_main]
//! The agent's catalog cache files (pw-repo `catalog_cache`): the input as a whole file (the
//! header checks), and framed with a valid header so the payload decoder reads it. A damaged
//! file must be a miss, never a panic.
use pw_repo::LoadOptions;
use pw_repo::catalog_cache::{CacheKey, decode, frame};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let key = CacheKey::new(b"<repomd/>", &LoadOptions::default());
    let _ = decode(data, &key);
    let _ = decode(&frame(&key, data), &key);
});
