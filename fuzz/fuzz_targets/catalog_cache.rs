#![no_main]
//! The agent's catalog cache files (pw-repo `catalog_cache`): the input as a whole file (the
//! header checks), and framed with a valid header so the payload decoder reads it. A damaged
//! file must be a miss, never a panic; so must the same bytes decoded into a compact
//! catalog, which then gives its values back.
use pw_repo::LoadOptions;
use pw_repo::catalog_cache::{CacheKey, decode, decode_compact, frame};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let key = CacheKey::new(b"<repomd/>", &LoadOptions::default());
    let _ = decode(data, &key);
    let framed = frame(&key, data);
    let values = decode(&framed, &key);
    if let Ok(compact) = decode_compact(&framed, &key) {
        let (packages, advisories) = compact.catalog.materialize(|_| true);
        let values = values.expect("the compact decoder accepts what the values decoder accepts");
        assert_eq!(packages.len(), values.packages.len());
        assert_eq!(advisories.len(), values.advisories.len());
    }
});
