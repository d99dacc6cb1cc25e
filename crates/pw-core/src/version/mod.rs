//! Version ordering for the two package families: rpm (`rpmvercmp`) and Debian (dpkg).

pub mod deb;
pub mod rpm;
