#![no_main]
//! primary.xml, with and without dependencies.
use pw_core::repo::primary::{PrimaryOptions, parse_primary_with_options};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = parse_primary_with_options(data, PrimaryOptions { dependencies: true });
    let _ = parse_primary_with_options(
        data,
        PrimaryOptions {
            dependencies: false,
        },
    );
});
