#![no_main]
//! The agent's catalog cache files (pw-repo `catalog_cache`): the input as a whole file (the
//! header checks), and framed with a valid header so the payload decoders read it, as a load's
//! values and as a compact load's arrays. A damaged file must be a miss, never a panic; a
//! compact catalog read from one then gives its values back and finds providers without one.
use pw_repo::LoadOptions;
use pw_repo::catalog_cache::{CacheKey, decode, decode_compact, frame};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let key = CacheKey::new(b"<repomd/>", &LoadOptions::default());
    let _ = decode(data, &key);
    let _ = decode(&frame(&key, data), &key);
    let key = CacheKey::compact(b"<repomd/>", &LoadOptions::default());
    let _ = decode_compact(data, &key);
    if let Ok(compact) = decode_compact(&frame(&key, data), &key) {
        let catalog = &compact.catalog;
        let (packages, advisories) = catalog.materialize(|_| true);
        assert_eq!(packages.len(), catalog.package_count());
        assert!(advisories.len() <= catalog.advisory_count());
        let names: Vec<String> = catalog.package_names().map(str::to_owned).collect();
        let _ = catalog.providers_of(names.iter().map(String::as_str));
    }
});
