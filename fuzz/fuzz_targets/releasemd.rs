#![no_main]
//! releasemd.xml (Amazon Linux 2023's release list).
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = pw_core::repo::releasemd::parse_releasemd(data);
});
