#![no_main]
//! NEVRA, rpm and deb versions, patch patterns: parse and compare. Properties: a parsed
//! NEVRA of a common architecture prints back to something that parses to itself (an
//! unknown architecture is only recognised in a `.rpm` file name, so its printed form is
//! ambiguous by design: the first fuzz finding); version comparison is antisymmetric and
//! reflexive.
use std::cmp::Ordering;

use pw_core::nevra::Nevra;
use pw_core::pattern::{PatchEntry, PatternSet};
use pw_core::version::deb::verrevcmp;
use pw_core::version::rpm::rpmvercmp;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (left, right) = text.split_once('\n').unwrap_or((text, ""));
    if let Ok(nevra) = Nevra::parse(left) {
        let printed = nevra.to_string();
        if ["x86_64", "noarch", "aarch64", "i686", "src"].contains(&nevra.arch.as_str()) {
            assert_eq!(
                Nevra::parse(&printed).as_ref().ok(),
                Some(&nevra),
                "{left:?} -> {printed:?}"
            );
        }
        let set = PatternSet::parse([right]);
        let _ = set.matches_rpm(&nevra);
    }
    assert_eq!(rpmvercmp(left, right), rpmvercmp(right, left).reverse());
    assert_eq!(rpmvercmp(left, left), Ordering::Equal);
    assert_eq!(verrevcmp(left, right), verrevcmp(right, left).reverse());
    let _ = PatchEntry::parse(left);
    let _ = pw_core::version::deb::DebVersion::parse(left);
    let _ = pw_core::version::rpm::Evr::parse(left);
});
