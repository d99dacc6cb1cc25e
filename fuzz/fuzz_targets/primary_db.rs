#![no_main]
//! primary.sqlite (the hand-written SQLite reader): any bytes, including damaged databases.
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = pw_core::repo::primary_db::parse_primary_db(data);
});
