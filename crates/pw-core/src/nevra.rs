//! Package identities: name, epoch, version, release and architecture.

use crate::version::rpm::Evr;

/// One rpm package identity.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Nevra {
    pub name: String,
    pub evr: Evr,
    pub arch: String,
}
