//! What the user reads goes through [`Printer`], never through logging.

use std::io::{self, Write};

/// Writes user-facing output: results to stdout, errors and diagnostics to stderr.
#[derive(Debug, Default)]
pub(crate) struct Printer;

impl Printer {
    /// Prints one line of results on stdout.
    pub(crate) fn line(&self, text: &str) {
        let mut out = io::stdout().lock();
        let _ = writeln!(out, "{text}");
    }

    /// Prints text as-is on stdout (the caller supplies newlines).
    pub(crate) fn raw(&self, text: &str) {
        let mut out = io::stdout().lock();
        let _ = out.write_all(text.as_bytes());
        let _ = out.flush();
    }

    /// Prints a diagnostic (warning) line on stderr.
    pub(crate) fn warn(&self, text: &str) {
        let mut err = io::stderr().lock();
        let _ = writeln!(err, "warning: {text}");
    }

    /// Prints an informational line on stderr, beside results that go alone on stdout.
    pub(crate) fn note(&self, text: &str) {
        let mut err = io::stderr().lock();
        let _ = writeln!(err, "{text}");
    }

    /// Prints an error line on stderr.
    pub(crate) fn error(&self, text: &str) {
        let mut err = io::stderr().lock();
        let _ = writeln!(err, "error: {text}");
    }
}
