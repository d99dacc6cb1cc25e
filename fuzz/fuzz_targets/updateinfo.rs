#![no_main]
//! updateinfo.xml: any bytes parse to advisories and diagnostics, or an error; never a panic.
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = pw_core::repo::updateinfo::parse_updateinfo(data);
});
