//! Evaluation: inventory + catalog + baseline + instant → per-package patch states.
