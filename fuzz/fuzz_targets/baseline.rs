#![no_main]
//! Baseline files, native TOML and AWS JSON: parse and validate, never a panic.
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = pw_api::baseline::parse_toml(text);
    let _ = pw_api::baseline::parse_aws_json(text);
});
