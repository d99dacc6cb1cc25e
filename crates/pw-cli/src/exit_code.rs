//! Documented exit codes of `patchwarden`. Scripts rely on them; never renumber.

/// The command did what was asked.
pub(crate) const OK: u8 = 0;
/// The command failed (bad input file, unreachable repository, ...); the message says why.
pub(crate) const FAILURE: u8 = 1;
/// The command line itself was wrong, or the input expression/value is invalid.
pub(crate) const USAGE: u8 = 2;
/// `agent install`: the pre-install hook failed; nothing was installed.
pub(crate) const PRE_INSTALL_HOOK_FAILED: u8 = 10;
/// `agent install`: finished, but some patches are Failed (or the post-install hook failed).
pub(crate) const INSTALL_FAILURES: u8 = 20;
/// `agent install`: everything installed and a reboot was requested (the reboot command ran).
pub(crate) const REBOOT_REQUESTED: u8 = 30;
/// `agent install`: a reboot was requested and some patches are Failed.
pub(crate) const REBOOT_REQUESTED_WITH_FAILURES: u8 = 31;
/// Server commands: the server answered 404, the named object does not exist.
pub(crate) const NOT_FOUND: u8 = 3;
/// Server commands: the server refused the token (401) or its role (403).
pub(crate) const AUTH: u8 = 4;
/// Server commands: the server could not be reached (connection refused, DNS, TLS, timeout).
pub(crate) const UNREACHABLE: u8 = 5;
/// `agent run`: not enrolled, or the agent config file (or its CA bundle) is unusable. The
/// unit's `RestartPreventExitStatus=78` keeps systemd from restarting it in a loop (EX_CONFIG).
pub(crate) const CONFIG: u8 = 78;
/// `agent compare`: the agent and the host's package manager disagree (the differences are
/// printed).
pub(crate) const DIFFERENT: u8 = 40;
