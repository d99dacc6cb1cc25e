#![no_main]
//! repomd.xml.
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = pw_core::repo::repomd::parse_repomd(data);
});
