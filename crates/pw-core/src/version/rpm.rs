//! RPM epoch:version-release values and their ordering, identical to rpm's `rpmvercmp`.

use std::cmp::Ordering;

/// An rpm epoch, version and release. A missing epoch is 0; the release may be empty
/// (for example in a dependency such as `foo >= 1.2`), in which case it is not compared.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Evr {
    pub epoch: u32,
    pub version: String,
    pub release: String,
}

/// Compares two version (or release) strings segment by segment, exactly as rpm does.
pub fn rpmvercmp(left: &str, right: &str) -> Ordering {
    // Placeholder until the real algorithm lands.
    left.cmp(right)
}
