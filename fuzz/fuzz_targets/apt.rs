#![no_main]
//! deb822 files: Release, Packages and dpkg's status, from the same bytes.
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = pw_core::apt::release::parse_release(data);
    let _ = pw_core::apt::packages::parse_packages(data);
    let _ = pw_core::apt::status::parse_status(data);
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = pw_core::apt::packages::parse_relations(text);
    }
});
