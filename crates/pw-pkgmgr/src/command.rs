//! The one place in Patchwarden that starts processes.
//!
//! Every spawn goes through [`run`]: the locale is `C` (`LC_ALL=C`, `LANG=C`, no `LANGUAGE`),
//! stdin is `/dev/null`, stdout and stderr are captured, the child runs in its own process
//! group, and a timeout is enforced. On expiry the whole group gets `SIGTERM`, then `SIGKILL`
//! after a grace period, so that rpm can stop between two packages rather than in the middle
//! of one, and scriptlets started by the package manager die with it. The argv is logged at
//! debug level and named in every error.

use std::ffi::OsString;
use std::fmt;
use std::io::{self, Read};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::PathBuf;
use std::process::{Child, ExitStatus, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use rustix::process::{Pid, Signal};

/// How long a command may run when the caller sets nothing else.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10 * 60);
/// How long a timed-out command has between `SIGTERM` and `SIGKILL`.
pub const DEFAULT_KILL_GRACE: Duration = Duration::from_secs(10);
/// The most bytes kept from one output stream; the rest is drained and dropped.
pub const DEFAULT_MAX_OUTPUT: usize = 64 * 1024 * 1024;
/// How many bytes of stderr an error message carries.
pub const ERROR_TAIL_BYTES: usize = 2048;

/// A process to run: program, arguments, extra environment and limits.
#[derive(Debug, Clone)]
pub struct CommandSpec {
    program: OsString,
    args: Vec<OsString>,
    env: Vec<(OsString, OsString)>,
    current_dir: Option<PathBuf>,
    timeout: Duration,
    kill_grace: Duration,
    max_output: usize,
    detached_output: bool,
}

impl CommandSpec {
    /// A command with the default timeout, kill grace and output limit.
    pub fn new(program: impl Into<OsString>) -> CommandSpec {
        CommandSpec {
            program: program.into(),
            args: Vec::new(),
            env: Vec::new(),
            current_dir: None,
            timeout: DEFAULT_TIMEOUT,
            kill_grace: DEFAULT_KILL_GRACE,
            max_output: DEFAULT_MAX_OUTPUT,
            detached_output: false,
        }
    }

    /// Sends stdout and stderr to unlinked temporary files instead of pipes, read back when
    /// the process ends. For package transactions: if the agent dies (killed by a service
    /// manager whose `KillMode=process` spares its children, OOM, a crash), the transaction
    /// keeps writing to its files and runs to its end instead of dying of `SIGPIPE` halfway
    /// through an rpm or dpkg run.
    #[must_use]
    pub fn detached_output(mut self) -> CommandSpec {
        self.detached_output = true;
        self
    }

    #[must_use]
    pub fn arg(mut self, arg: impl Into<OsString>) -> CommandSpec {
        self.args.push(arg.into());
        self
    }

    #[must_use]
    pub fn args<I, S>(mut self, args: I) -> CommandSpec
    where
        I: IntoIterator<Item = S>,
        S: Into<OsString>,
    {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    /// Adds an environment variable. The locale variables are always `C` and cannot be
    /// overridden here.
    #[must_use]
    pub fn env(mut self, key: impl Into<OsString>, value: impl Into<OsString>) -> CommandSpec {
        self.env.push((key.into(), value.into()));
        self
    }

    #[must_use]
    pub fn current_dir(mut self, dir: impl Into<PathBuf>) -> CommandSpec {
        self.current_dir = Some(dir.into());
        self
    }

    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> CommandSpec {
        self.timeout = timeout;
        self
    }

    #[must_use]
    pub fn kill_grace(mut self, grace: Duration) -> CommandSpec {
        self.kill_grace = grace;
        self
    }

    #[must_use]
    pub fn max_output(mut self, bytes: usize) -> CommandSpec {
        self.max_output = bytes;
        self
    }

    /// The program name as given.
    pub fn program(&self) -> String {
        self.program.to_string_lossy().into_owned()
    }

    /// Program and arguments, for logs, errors and reports.
    pub fn argv(&self) -> Vec<String> {
        std::iter::once(&self.program)
            .chain(&self.args)
            .map(|arg| arg.to_string_lossy().into_owned())
            .collect()
    }

    pub fn timeout_value(&self) -> Duration {
        self.timeout
    }
}

/// How a process ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Termination {
    /// It exited by itself with this code.
    Exited(i32),
    /// It was killed by this signal, not by us.
    Signalled(i32),
    /// It outlived its timeout and we killed its process group.
    TimedOut(Duration),
}

impl Termination {
    pub fn success(self) -> bool {
        self == Termination::Exited(0)
    }

    pub fn exit_code(self) -> Option<i32> {
        match self {
            Termination::Exited(code) => Some(code),
            Termination::Signalled(_) | Termination::TimedOut(_) => None,
        }
    }

    fn from_status(status: ExitStatus) -> Termination {
        match (status.code(), status.signal()) {
            (Some(code), _) => Termination::Exited(code),
            (None, Some(signal)) => Termination::Signalled(signal),
            // Neither a code nor a signal cannot happen on Unix; report it as a failure.
            (None, None) => Termination::Exited(-1),
        }
    }
}

impl fmt::Display for Termination {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Termination::Exited(code) => write!(f, "exit code {code}"),
            Termination::Signalled(signal) => write!(f, "killed by signal {signal}"),
            Termination::TimedOut(after) => {
                write!(f, "timed out after {}s and was killed", after.as_secs_f64())
            }
        }
    }
}

/// What a finished process left behind.
#[derive(Debug, Clone)]
pub struct Output {
    pub argv: Vec<String>,
    pub termination: Termination,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    /// True when a stream passed the output limit and its end was dropped.
    pub truncated: bool,
    pub duration: Duration,
}

impl Output {
    pub fn success(&self) -> bool {
        self.termination.success()
    }

    /// The last `max_bytes` of stdout, starting at a line boundary when there is one.
    pub fn stdout_tail(&self, max_bytes: usize) -> String {
        tail(&self.stdout, max_bytes)
    }

    /// The last `max_bytes` of stderr, starting at a line boundary when there is one.
    pub fn stderr_tail(&self, max_bytes: usize) -> String {
        tail(&self.stderr, max_bytes)
    }

    /// Turns anything but exit code 0 (or a truncated output) into an error.
    pub fn check(self) -> Result<Output, CommandError> {
        if self.truncated {
            return Err(CommandError::OutputTooLarge {
                argv: shell_words(&self.argv),
            });
        }
        if self.success() {
            return Ok(self);
        }
        Err(CommandError::Failed {
            argv: shell_words(&self.argv),
            termination: self.termination,
            stderr_tail: self.stderr_tail(ERROR_TAIL_BYTES),
        })
    }
}

/// A process that could not be run, or (from [`Output::check`]) did not succeed.
#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    #[error("could not start `{argv}`: {source}")]
    Spawn { argv: String, source: io::Error },
    #[error("could not wait for `{argv}`: {source}")]
    Wait { argv: String, source: io::Error },
    #[error("`{argv}` failed with {termination}; stderr ends with: {stderr_tail}")]
    Failed {
        argv: String,
        termination: Termination,
        stderr_tail: String,
    },
    #[error("`{argv}` printed more output than we keep")]
    OutputTooLarge { argv: String },
}

/// Runs a command to completion (or to its timeout) and captures its output.
///
/// Returns `Ok` whatever the exit code; use [`Output::check`] when only success is
/// acceptable. `Err` means the process could not be started or waited for.
pub fn run(spec: &CommandSpec) -> Result<Output, CommandError> {
    let argv = spec.argv();
    let argv_text = shell_words(&argv);
    tracing::debug!(argv = %argv_text, timeout_secs = spec.timeout.as_secs(), "starting command");
    let started = Instant::now();

    #[expect(
        clippy::disallowed_methods,
        reason = "this is the one place that starts processes"
    )]
    let mut command = std::process::Command::new(&spec.program);
    command
        .args(&spec.args)
        .envs(spec.env.iter().map(|(key, value)| (key, value)))
        .env("LC_ALL", "C")
        .env("LANG", "C")
        .env_remove("LANGUAGE")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    if let Some(dir) = &spec.current_dir {
        command.current_dir(dir);
    }
    let spawn_error = |source| CommandError::Spawn {
        argv: argv_text.clone(),
        source,
    };
    if spec.detached_output {
        let files = (|| -> io::Result<_> {
            let (stdout, stderr) = (tempfile::tempfile()?, tempfile::tempfile()?);
            command
                .stdout(stdout.try_clone()?)
                .stderr(stderr.try_clone()?);
            Ok((stdout, stderr))
        })()
        .map_err(spawn_error)?;
        let mut child = command.spawn().map_err(spawn_error)?;
        return finish_detached(&mut child, spec, argv, files, started);
    }
    let mut child = command.spawn().map_err(spawn_error)?;

    let (done_sender, done_receiver) = mpsc::channel();
    let stdout = Capture::start(child.stdout.take(), spec.max_output, done_sender.clone());
    let stderr = Capture::start(child.stderr.take(), spec.max_output, done_sender);

    let wait_error = |source| CommandError::Wait {
        argv: argv_text.clone(),
        source,
    };
    let termination = wait_with_timeout(&mut child, spec).map_err(wait_error)?;

    // Readers finish when every holder of the pipes has exited. A background process started
    // by the command may keep them open: give it the grace period, then kill the group.
    let group = Pid::from_child(&child);
    let mut open_streams = 2;
    let readers_deadline = Instant::now() + spec.kill_grace;
    while open_streams > 0 {
        let left = readers_deadline.saturating_duration_since(Instant::now());
        if done_receiver.recv_timeout(left).is_ok() {
            open_streams -= 1;
            continue;
        }
        tracing::debug!(argv = %argv_text, "command left processes holding its output open; killing them");
        signal_group(group, Signal::KILL);
        // Whatever still holds the pipes escaped the group; keep what was read so far.
        while open_streams > 0 && done_receiver.recv_timeout(Duration::from_secs(1)).is_ok() {
            open_streams -= 1;
        }
        break;
    }

    let (stdout, stdout_truncated) = stdout.take();
    let (stderr, stderr_truncated) = stderr.take();
    let output = Output {
        argv,
        termination,
        stdout,
        stderr,
        truncated: stdout_truncated || stderr_truncated,
        duration: started.elapsed(),
    };
    tracing::debug!(
        argv = %argv_text,
        termination = %output.termination,
        duration_ms = u64::try_from(output.duration.as_millis()).unwrap_or(u64::MAX),
        "command finished"
    );
    Ok(output)
}

/// Waits for a process whose output goes to files (see [`CommandSpec::detached_output`]),
/// then reads the files back, keeping at most `max_output` bytes of each.
#[expect(
    clippy::disallowed_types,
    reason = "unnamed temporary files: there is no path for fs_err to put in errors"
)]
fn finish_detached(
    child: &mut Child,
    spec: &CommandSpec,
    argv: Vec<String>,
    (stdout, stderr): (std::fs::File, std::fs::File),
    started: Instant,
) -> Result<Output, CommandError> {
    let argv_text = shell_words(&argv);
    let termination = wait_with_timeout(child, spec).map_err(|source| CommandError::Wait {
        argv: argv_text.clone(),
        source,
    })?;
    let read_back = |mut file: std::fs::File| -> (Vec<u8>, bool) {
        use std::io::Seek as _;
        let mut data = Vec::new();
        let length = file.seek(io::SeekFrom::End(0)).unwrap_or(0);
        if file.seek(io::SeekFrom::Start(0)).is_ok() {
            let limit = u64::try_from(spec.max_output).unwrap_or(u64::MAX);
            let _ = (&mut file).take(limit).read_to_end(&mut data);
        }
        let truncated = length > data.len() as u64;
        (data, truncated)
    };
    let (stdout, stdout_truncated) = read_back(stdout);
    let (stderr, stderr_truncated) = read_back(stderr);
    let output = Output {
        argv,
        termination,
        stdout,
        stderr,
        truncated: stdout_truncated || stderr_truncated,
        duration: started.elapsed(),
    };
    tracing::debug!(
        argv = %argv_text,
        termination = %output.termination,
        duration_ms = u64::try_from(output.duration.as_millis()).unwrap_or(u64::MAX),
        "command finished"
    );
    Ok(output)
}

/// Polls the child until it exits or the timeout passes; on timeout, terminates its group.
fn wait_with_timeout(child: &mut Child, spec: &CommandSpec) -> io::Result<Termination> {
    let started = Instant::now();
    let deadline = started + spec.timeout;
    if let Some(status) = poll_until(child, deadline)? {
        return Ok(Termination::from_status(status));
    }
    let group = Pid::from_child(child);
    tracing::warn!(argv = %shell_words(&spec.argv()), timeout_secs = spec.timeout.as_secs(), "command timed out; terminating it");
    signal_group(group, Signal::TERM);
    if poll_until(child, Instant::now() + spec.kill_grace)?.is_none() {
        signal_group(group, Signal::KILL);
        child.wait()?;
    } else {
        // The leader is gone; children it left in the group must not outlive the timeout.
        signal_group(group, Signal::KILL);
    }
    Ok(Termination::TimedOut(spec.timeout))
}

/// `try_wait` with a sleep of a tenth of the time waited so far (1 ms to 50 ms): an exit is
/// seen at most about 10 % late. (Doubling sleeps saw a 60 ms `rpm -qa` end at 113 ms, a
/// third of an agent scan's time; bench/agent-scan.)
fn poll_until(child: &mut Child, deadline: Instant) -> io::Result<Option<ExitStatus>> {
    let started = Instant::now();
    loop {
        if let Some(status) = child.try_wait()? {
            return Ok(Some(status));
        }
        let now = Instant::now();
        if now >= deadline {
            return Ok(None);
        }
        let pause = (now.duration_since(started) / 10)
            .clamp(Duration::from_millis(1), Duration::from_millis(50));
        thread::sleep(pause.min(deadline - now));
    }
}

fn signal_group(group: Pid, signal: Signal) {
    // ESRCH (the group is already gone) is the expected outcome when racing an exit.
    if let Err(error) = rustix::process::kill_process_group(group, signal) {
        tracing::debug!(group = group.as_raw_nonzero().get(), error = %error, "could not signal process group");
    }
}

/// One captured output stream, read on its own thread so neither pipe can fill up.
struct Capture {
    buffer: Arc<Mutex<(Vec<u8>, bool)>>,
}

impl Capture {
    fn start(
        stream: Option<impl Read + Send + 'static>,
        max: usize,
        done: mpsc::Sender<()>,
    ) -> Capture {
        let buffer = Arc::new(Mutex::new((Vec::new(), false)));
        let Some(mut stream) = stream else {
            // Stdio::piped() always yields a stream; an absent one simply reads as empty.
            let _ = done.send(());
            return Capture { buffer };
        };
        let shared = Arc::clone(&buffer);
        thread::spawn(move || {
            let mut chunk = [0_u8; 16 * 1024];
            loop {
                match stream.read(&mut chunk) {
                    Ok(0) => break,
                    Ok(n) => {
                        let Ok(mut guard) = shared.lock() else { break };
                        let (data, truncated) = &mut *guard;
                        let room = max.saturating_sub(data.len());
                        data.extend_from_slice(&chunk[..n.min(room)]);
                        *truncated |= n > room;
                    }
                    Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                    Err(_) => break,
                }
            }
            let _ = done.send(());
        });
        Capture { buffer }
    }

    fn take(self) -> (Vec<u8>, bool) {
        match self.buffer.lock() {
            Ok(mut guard) => std::mem::take(&mut *guard),
            Err(poisoned) => std::mem::take(&mut *poisoned.into_inner()),
        }
    }
}

/// The last `max_bytes` of `bytes` as text, cut at a line start when one is in range.
pub fn tail(bytes: &[u8], max_bytes: usize) -> String {
    let start = bytes.len().saturating_sub(max_bytes);
    let mut slice = &bytes[start..];
    if start > 0
        && let Some(newline) = slice.iter().position(|&b| b == b'\n')
        && newline + 1 < slice.len()
    {
        slice = &slice[newline + 1..];
    }
    String::from_utf8_lossy(slice).trim_end().to_owned()
}

/// Joins an argv for display, quoting words a shell would split.
pub fn shell_words(argv: &[String]) -> String {
    argv.iter()
        .map(|word| {
            let plain = !word.is_empty()
                && word
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_./:=,+@%^".contains(c));
            if plain {
                word.clone()
            } else {
                format!("'{}'", word.replace('\'', r"'\''"))
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tail_starts_at_a_line() {
        assert_eq!(tail(b"one\ntwo\nthree\n", 9), "three");
        assert_eq!(tail(b"one\ntwo\n", 100), "one\ntwo");
        assert_eq!(tail(b"abcdef", 3), "def");
    }

    #[test]
    fn shell_words_quote_what_needs_it() {
        let argv = ["sh", "-c", "exit 1", "it's", ""].map(str::to_owned);
        assert_eq!(shell_words(&argv), r"sh -c 'exit 1' 'it'\''s' ''");
    }
}
