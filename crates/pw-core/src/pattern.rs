//! Entries of approved and rejected patch lists: package-name patterns and advisory, CVE and
//! Bugzilla identifiers.
