//! Integration tests of pw-core: one test binary, one module per area.
