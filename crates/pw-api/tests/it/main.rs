//! Integration tests of pw-api: file formats round-trip and reject bad input clearly.

mod baseline;
