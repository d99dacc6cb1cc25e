//! The service layer: one function per operation, called by every face of the server (the
//! native API in `api/`, the SSM-compatible API in `ssm/`) with the caller and the state.
//! Validation that depends on stored state and every write (with its audit record) live
//! here; faces parse, authorize and render (ARCHITECTURE.md, "three faces, one service
//! layer").

pub(crate) mod baselines;
