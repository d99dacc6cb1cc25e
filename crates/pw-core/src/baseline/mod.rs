//! Patch baselines: approval rules, exceptions, defaults per operating system.
