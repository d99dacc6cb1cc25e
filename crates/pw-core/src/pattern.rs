//! Entries of approved and rejected patch lists: package-name patterns and advisory, CVE and
//! Bugzilla identifiers (ssm-reference §2).
//!
//! [`PatchEntry::parse`] classifies one list entry. [`PatternSet`] holds a whole list, prepared
//! once, and answers for many packages which entry (if any) matches:
//!
//! * **Packages.** For an rpm package SSM generates twelve strings (`n`, `na`, `nvra`, `nv`,
//!   `nvr`, `envra`, `nevra`, `nevr`, `v`, `vr`, `evr`, `naevr`; see [`rpm_forms`]) and for a
//!   Debian package six (`n`, `v`, `na`, `nv`, `av`, `nav`; see [`apt_forms`]). An entry matches
//!   when it equals one of them, ignoring ASCII case, or, when it contains `*`, `?` or `[…]`,
//!   when it matches one of them as a case-insensitive glob (Python `fnmatch` syntax: `*`, `?`,
//!   `[abc]`, `[a-z]`, `[!abc]`). Every entry takes part, whatever its kind, as it does in SSM:
//!   so a numbers-only "Bugzilla ID" such as `2` also matches every package whose version is
//!   `2`.
//! * **Advisories.** An entry matches an advisory when it equals (exactly) the advisory's id,
//!   or the id of one of its `cve` or `bugzilla` references. Here too every entry takes part,
//!   so an advisory id of a shape we do not recognise still matches.
//!
//! The classification ([`PatchEntryKind`]) therefore never changes what matches; it serves
//! validation (SSM ignores ids in rejected lists) and explanations.
//!
//! Matches are reported as the index of the first matching entry in list order. Matching a
//! package never allocates: the generated strings are written into a stack buffer.

use std::collections::HashMap;
use std::fmt;
use std::hash::{BuildHasherDefault, Hasher};

use crate::nevra::Nevra;

/// One entry of an approved or rejected patch list, classified.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum PatchEntry {
    /// A vendor advisory id: `RHSA-2017:0864`, `ALAS-2018-123`, `ALAS2-2021-1594`,
    /// `ALAS2023-2025-123`, `ELSA-2025-123`, `CESA-2017:0864`, `FEDORA-2023-1a2b3c4d5e`, …
    Advisory(AdvisoryId),
    /// A CVE id: `CVE-2018-1234567`.
    Cve(CveId),
    /// A numbers-only string, which SSM reads as a Bugzilla id (it can also match a version).
    Bugzilla(BugzillaId),
    /// Anything else: a package name, a name with version parts, or a glob.
    Package(PackagePattern),
}

/// A vendor advisory id, as written.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AdvisoryId(Box<str>);

/// A CVE id, as written.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CveId(Box<str>);

/// A numbers-only Bugzilla id, as written.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct BugzillaId(Box<str>);

/// A package pattern: an exact (case-insensitive) string or a glob.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PackagePattern {
    text: Box<str>,
    is_glob: bool,
}

/// Which kind of entry a [`PatchEntry`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PatchEntryKind {
    Advisory,
    Cve,
    Bugzilla,
    Package,
}

impl fmt::Display for PatchEntryKind {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(match self {
            PatchEntryKind::Advisory => "advisory id",
            PatchEntryKind::Cve => "CVE id",
            PatchEntryKind::Bugzilla => "Bugzilla id",
            PatchEntryKind::Package => "package pattern",
        })
    }
}

impl PatchEntry {
    /// Classifies one list entry: a CVE id, a numbers-only Bugzilla id, a known vendor advisory
    /// id (case-insensitive shapes; see the variants), or else a package pattern. Any string is
    /// an entry (checking lengths and characters is the baseline validator's job); one that
    /// names nothing simply never matches.
    ///
    /// ```
    /// use pw_core::pattern::{PatchEntry, PatchEntryKind};
    ///
    /// let kind = |text| PatchEntry::parse(text).kind();
    /// assert_eq!(kind("RHSA-2017:0864"), PatchEntryKind::Advisory);
    /// assert_eq!(kind("ALAS2023-2025-123"), PatchEntryKind::Advisory);
    /// assert_eq!(kind("CVE-2018-1234567"), PatchEntryKind::Cve);
    /// assert_eq!(kind("1234567"), PatchEntryKind::Bugzilla);
    /// assert_eq!(kind("dbus-1.12*"), PatchEntryKind::Package);
    /// ```
    pub fn parse(text: &str) -> PatchEntry {
        let boxed: Box<str> = text.into();
        if is_cve_id(text) {
            PatchEntry::Cve(CveId(boxed))
        } else if is_digits(text) {
            PatchEntry::Bugzilla(BugzillaId(boxed))
        } else if is_advisory_id(text) {
            PatchEntry::Advisory(AdvisoryId(boxed))
        } else {
            PatchEntry::Package(PackagePattern {
                is_glob: is_glob(text),
                text: boxed,
            })
        }
    }

    /// The entry as written.
    pub fn as_str(&self) -> &str {
        match self {
            PatchEntry::Advisory(AdvisoryId(text))
            | PatchEntry::Cve(CveId(text))
            | PatchEntry::Bugzilla(BugzillaId(text))
            | PatchEntry::Package(PackagePattern { text, .. }) => text,
        }
    }

    /// Which kind of entry this is.
    pub fn kind(&self) -> PatchEntryKind {
        match self {
            PatchEntry::Advisory(_) => PatchEntryKind::Advisory,
            PatchEntry::Cve(_) => PatchEntryKind::Cve,
            PatchEntry::Bugzilla(_) => PatchEntryKind::Bugzilla,
            PatchEntry::Package(_) => PatchEntryKind::Package,
        }
    }

    /// True for advisory, CVE and Bugzilla ids: the entries SSM ignores in rejected lists.
    pub fn is_identifier(&self) -> bool {
        !matches!(self, PatchEntry::Package(_))
    }

    /// True when the entry is a glob (contains `*`, `?` or `[…]`); only package patterns can be.
    pub fn is_glob(&self) -> bool {
        matches!(
            self,
            PatchEntry::Package(PackagePattern { is_glob: true, .. })
        )
    }
}

impl fmt::Display for PatchEntry {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.as_str())
    }
}

impl AdvisoryId {
    /// The id as written.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl CveId {
    /// The id as written.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl BugzillaId {
    /// The id as written.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl PackagePattern {
    /// The pattern as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// True when the pattern is matched as a glob rather than as an exact string.
    pub fn is_glob(&self) -> bool {
        self.is_glob
    }
}

/// `CVE-YYYY-NNNN…` (at least four digits), any case.
fn is_cve_id(text: &str) -> bool {
    let mut parts = text.split('-');
    matches!(
        (parts.next(), parts.next(), parts.next(), parts.next()),
        (Some(cve), Some(year), Some(number), None)
            if cve.eq_ignore_ascii_case("cve") && is_year(year) && number.len() >= 4 && is_digits(number)
    )
}

/// Recognises the advisory id shapes of the distributions we know, ignoring ASCII case.
fn is_advisory_id(text: &str) -> bool {
    let upper = text.to_ascii_uppercase();
    let parts: Vec<&str> = upper.split('-').collect();
    match parts.as_slice() {
        // Red Hat and rebuilds: RHSA/RHBA/RHEA, CESA (CentOS), ALSA (AlmaLinux), RLSA (Rocky),
        // OESA/OEBA…: `XXSA-YYYY:NNNN`.
        [prefix, year_number] if is_errata_prefix(prefix) => year_number
            .split_once(':')
            .is_some_and(|(year, number)| is_year(year) && is_digits(number)),
        // Oracle (`ELSA-YYYY-NNNN`) and Red Hat written with a dash.
        [prefix, year, number] if is_errata_prefix(prefix) => is_year(year) && is_digits(number),
        // Amazon Linux: ALAS-, ALAS2-, ALAS2023-, ALAS2KERNEL-5.10-, ALAS2EXTRAS-…: `ALAS…-YYYY-NNN`.
        [first, .., year, number] if first.starts_with("ALAS") => {
            first.bytes().all(|byte| byte.is_ascii_alphanumeric())
                && is_year(year)
                && is_digits(number)
        }
        // Fedora and EPEL: FEDORA-2023-1a2b3c4d5e, FEDORA-EPEL-2023-…
        ["FEDORA", year, id] | ["FEDORA", _, year, id] => {
            is_year(year) && !id.is_empty() && id.bytes().all(|byte| byte.is_ascii_hexdigit())
        }
        // SUSE: SUSE-SU-2018:1234-1, openSUSE-SU-2018:1234-1.
        ["SUSE" | "OPENSUSE", kind, year_number, rest @ ..]
            if kind.len() == 2 && rest.len() <= 1 =>
        {
            rest.iter().all(|part| is_digits(part))
                && year_number
                    .split_once(':')
                    .is_some_and(|(year, number)| is_year(year) && is_digits(number))
        }
        // Debian and Ubuntu: DSA-5432-1, DLA-3456-1, USN-6543-1, ELA-123-1.
        ["DSA" | "DLA" | "USN" | "ELA" | "DTSA", number, rest @ ..] if rest.len() <= 1 => {
            is_digits(number) && rest.iter().all(|part| is_digits(part))
        }
        _ => false,
    }
}

/// Four letters ending in `SA`, `BA` or `EA` (security, bug fix, enhancement advisories).
fn is_errata_prefix(prefix: &str) -> bool {
    let bytes = prefix.as_bytes();
    bytes.len() == 4
        && bytes.iter().all(u8::is_ascii_uppercase)
        && matches!(&bytes[2..], b"SA" | b"BA" | b"EA")
}

fn is_year(text: &str) -> bool {
    text.len() == 4 && is_digits(text)
}

fn is_digits(text: &str) -> bool {
    !text.is_empty() && text.bytes().all(|byte| byte.is_ascii_digit())
}

/// True when SSM would treat the entry as a glob: it contains `*` or `?`, or a `[` followed
/// later by a `]` with something in between (yum's `[*?]|\[.+\]`).
fn is_glob(text: &str) -> bool {
    if text.contains(['*', '?']) {
        return true;
    }
    text.find('[').is_some_and(|open| {
        let mut after = text[open + 1..].chars();
        after.next().is_some() && after.as_str().contains(']')
    })
}

/// A list of patch entries prepared for matching many packages.
///
/// ```
/// use pw_core::nevra::Nevra;
/// use pw_core::pattern::PatternSet;
///
/// let set = PatternSet::parse(["kernel*", "DBUS.x86_64", "RHSA-2017:0864"]);
/// let dbus = Nevra::parse("dbus-1:1.12.28-1.amzn2023.0.1.x86_64")?;
/// assert_eq!(set.matches_rpm(&dbus), Some(1));
/// assert_eq!(set.entries()[1].as_str(), "DBUS.x86_64");
/// let openssl = Nevra::parse("openssl-1.0.2k-24.amzn2.x86_64")?;
/// assert_eq!(set.matches_rpm(&openssl), None);
/// assert_eq!(set.matches_advisory("RHSA-2017:0864", []), Some(2));
/// # Ok::<(), pw_core::nevra::NevraParseError>(())
/// ```
#[derive(Debug, Clone, Default)]
pub struct PatternSet {
    entries: Vec<PatchEntry>,
    /// Lower-cased text of every non-glob entry, to the index of its first occurrence.
    exact: HashMap<Box<[u8]>, usize, BuildHasherDefault<BytesHasher>>,
    /// Bit `n` is set when some exact entry is `n` bytes long, for `n` below 512.
    exact_lengths: [u64; 8],
    /// True when some exact entry is 512 bytes or longer (never in a valid baseline).
    long_exact: bool,
    /// Glob entries in list order, with their index.
    globs: Vec<(usize, Glob)>,
    /// Text of every entry (as written) to the index of its first occurrence, for ids.
    ids: HashMap<Box<str>, usize>,
}

impl PatternSet {
    /// Prepares `entries` for matching. The order matters only for which entry is reported
    /// when several match: the first one in the list.
    pub fn new(entries: impl IntoIterator<Item = PatchEntry>) -> PatternSet {
        let entries: Vec<PatchEntry> = entries.into_iter().collect();
        let mut set = PatternSet::default();
        for (index, entry) in entries.iter().enumerate() {
            let text = entry.as_str();
            set.ids.entry(text.into()).or_insert(index);
            if entry.is_glob() {
                set.globs.push((index, Glob::compile(text)));
            } else {
                let lower = text.to_ascii_lowercase().into_bytes().into_boxed_slice();
                let length = lower.len();
                set.exact.entry(lower).or_insert(index);
                match set.exact_lengths.get_mut(length / 64) {
                    Some(word) => *word |= 1 << (length % 64),
                    None => set.long_exact = true,
                }
            }
        }
        set.entries = entries;
        set
    }

    /// Classifies and prepares a list of entry texts.
    pub fn parse<I, S>(texts: I) -> PatternSet
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        PatternSet::new(
            texts
                .into_iter()
                .map(|text| PatchEntry::parse(text.as_ref())),
        )
    }

    /// The entries, in list order.
    pub fn entries(&self) -> &[PatchEntry] {
        &self.entries
    }

    /// True when the list has no entries.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The index of the first entry (in list order) that matches one of the twelve rpm strings
    /// of `nevra`.
    pub fn matches_rpm(&self, nevra: &Nevra) -> Option<usize> {
        if self.entries.is_empty() {
            return None;
        }
        let mut epoch_buffer = [0; 10];
        let epoch = format_u32(nevra.evr.epoch, &mut epoch_buffer);
        let mut lower = Scratch::new();
        let parts = [
            nevra.name.as_bytes(),
            epoch,
            nevra.evr.version.as_bytes(),
            nevra.evr.release.as_bytes(),
            nevra.arch.as_bytes(),
        ];
        let [name, epoch, version, release, arch] = lower.lowercase_parts(parts);
        let package = RpmParts {
            name,
            epoch,
            version,
            release,
            arch,
        };
        let mut matcher = FirstMatch::new(self);
        for_each_rpm_form(&package, |pieces| matcher.check(pieces));
        matcher.best()
    }

    /// The index of the first entry (in list order) that matches one of the six apt strings of a
    /// Debian package: `name`, its `version` as apt shows it (with the epoch if it has one) and
    /// `arch`.
    pub fn matches_apt(&self, name: &str, version: &str, arch: &str) -> Option<usize> {
        if self.entries.is_empty() {
            return None;
        }
        let mut lower = Scratch::new();
        let [name, version, arch] =
            lower.lowercase_parts([name.as_bytes(), version.as_bytes(), arch.as_bytes()]);
        let mut matcher = FirstMatch::new(self);
        for_each_apt_form(name, version, arch, |pieces| matcher.check(pieces));
        matcher.best()
    }

    /// The index of the first entry (in list order) that is exactly the advisory's id, or the id
    /// of one of its references whose type is `cve` or `bugzilla` (any case). `references` are
    /// `(type, id)` pairs as updateinfo writes them; other types are ignored.
    pub fn matches_advisory<'r>(
        &self,
        advisory_id: &str,
        references: impl IntoIterator<Item = (&'r str, &'r str)>,
    ) -> Option<usize> {
        if self.entries.is_empty() {
            return None;
        }
        let mut best = self.ids.get(advisory_id).copied();
        for (kind, id) in references {
            if (kind.eq_ignore_ascii_case("cve") || kind.eq_ignore_ascii_case("bugzilla"))
                && let Some(&index) = self.ids.get(id)
            {
                best = Some(best.map_or(index, |best| best.min(index)));
            }
        }
        best
    }

    /// The index of the first entry whose text is exactly `id`.
    pub fn matches_id(&self, id: &str) -> Option<usize> {
        self.ids.get(id).copied()
    }

    /// True when some exact entry has `length` bytes.
    fn exact_length_possible(&self, length: usize) -> bool {
        match self.exact_lengths.get(length / 64) {
            Some(word) => word & (1 << (length % 64)) != 0,
            None => self.long_exact,
        }
    }
}

/// Tracks the first matching entry while the strings of one package are generated.
struct FirstMatch<'a> {
    set: &'a PatternSet,
    best: usize,
    /// The string being checked, assembled from its (already lower-cased) pieces.
    form: Scratch,
}

impl FirstMatch<'_> {
    fn new(set: &PatternSet) -> FirstMatch<'_> {
        FirstMatch {
            set,
            best: usize::MAX,
            form: Scratch::new(),
        }
    }

    /// Checks one generated string, given as lower-cased pieces to concatenate. The string is
    /// only assembled when an exact entry of its length exists or a glob could still improve
    /// on the best match so far.
    fn check(&mut self, pieces: &[&[u8]]) {
        let length: usize = pieces.iter().map(|piece| piece.len()).sum();
        let exact_possible = self.set.exact_length_possible(length);
        let globs_possible = self
            .set
            .globs
            .first()
            .is_some_and(|(index, _)| *index < self.best);
        if !exact_possible && !globs_possible {
            return;
        }
        self.form.clear();
        for piece in pieces {
            self.form.extend(piece);
        }
        let form = self.form.bytes();
        if exact_possible && let Some(&index) = self.set.exact.get(form) {
            self.best = self.best.min(index);
        }
        for (index, glob) in &self.set.globs {
            if *index >= self.best {
                break;
            }
            if glob.matches(form) {
                self.best = *index;
                break;
            }
        }
    }

    fn best(&self) -> Option<usize> {
        (self.best != usize::MAX).then_some(self.best)
    }
}

/// The parts of an rpm package that the twelve strings are made of.
struct RpmParts<'a> {
    name: &'a [u8],
    epoch: &'a [u8],
    version: &'a [u8],
    release: &'a [u8],
    arch: &'a [u8],
}

/// The twelve rpm strings of a package, in SSM's order: `n`, `na`, `nvra`, `nv`, `nvr`,
/// `envra`, `nevra`, `nevr`, `v`, `vr`, `evr`, `naevr`. The epoch is always written (0 when the
/// package has none). Forms with an architecture are left out when `nevra.arch` is empty, and
/// `-release` when the release is empty.
///
/// ```
/// use pw_core::nevra::Nevra;
/// use pw_core::pattern::rpm_forms;
///
/// let forms = rpm_forms(&Nevra::parse("dbus.x86_64:1:1.12.28-1.amzn2023.0.1").unwrap());
/// assert_eq!(forms[6], "dbus-1:1.12.28-1.amzn2023.0.1.x86_64");
/// assert_eq!(forms[11], "dbus.x86_64:1:1.12.28-1.amzn2023.0.1");
/// ```
pub fn rpm_forms(nevra: &Nevra) -> Vec<String> {
    let epoch = nevra.evr.epoch.to_string();
    let package = RpmParts {
        name: nevra.name.as_bytes(),
        epoch: epoch.as_bytes(),
        version: nevra.evr.version.as_bytes(),
        release: nevra.evr.release.as_bytes(),
        arch: nevra.arch.as_bytes(),
    };
    let mut forms = Vec::new();
    for_each_rpm_form(&package, |pieces| {
        forms.push(String::from_utf8_lossy(&pieces.concat()).into_owned())
    });
    forms
}

/// The six apt strings of a Debian package, in SSM's order: `n`, `v`, `na`, `nv`, `av`, `nav`.
///
/// ```
/// use pw_core::pattern::apt_forms;
///
/// let forms = apt_forms("openssl", "3.0.2-0ubuntu1.15", "amd64");
/// assert_eq!(forms, [
///     "openssl", "3.0.2-0ubuntu1.15", "openssl.amd64", "openssl-3.0.2-0ubuntu1.15",
///     "amd64:3.0.2-0ubuntu1.15", "openssl.amd64:3.0.2-0ubuntu1.15",
/// ]);
/// ```
pub fn apt_forms(name: &str, version: &str, arch: &str) -> Vec<String> {
    let mut forms = Vec::new();
    for_each_apt_form(
        name.as_bytes(),
        version.as_bytes(),
        arch.as_bytes(),
        |pieces| {
            forms.push(String::from_utf8_lossy(&pieces.concat()).into_owned());
        },
    );
    forms
}

/// Calls `visit` with the pieces of each of the twelve rpm strings, in SSM's order.
fn for_each_rpm_form(package: &RpmParts<'_>, mut visit: impl FnMut(&[&[u8]])) {
    let RpmParts {
        name: n,
        epoch: e,
        version: v,
        release: r,
        arch: a,
    } = *package;
    let has_arch = !a.is_empty();
    // `-release`, or nothing when there is no release.
    let dash: &[u8] = if r.is_empty() { b"" } else { b"-" };
    visit(&[n]);
    if has_arch {
        visit(&[n, b".", a]);
        visit(&[n, b"-", v, dash, r, b".", a]);
    }
    visit(&[n, b"-", v]);
    visit(&[n, b"-", v, dash, r]);
    if has_arch {
        visit(&[e, b":", n, b"-", v, dash, r, b".", a]);
        visit(&[n, b"-", e, b":", v, dash, r, b".", a]);
    }
    visit(&[n, b"-", e, b":", v, dash, r]);
    visit(&[v]);
    visit(&[v, dash, r]);
    visit(&[e, b":", v, dash, r]);
    if has_arch {
        visit(&[n, b".", a, b":", e, b":", v, dash, r]);
    }
}

/// Calls `visit` with the pieces of each of the six apt strings, in SSM's order.
fn for_each_apt_form(n: &[u8], v: &[u8], a: &[u8], mut visit: impl FnMut(&[&[u8]])) {
    visit(&[n]);
    visit(&[v]);
    visit(&[n, b".", a]);
    visit(&[n, b"-", v]);
    visit(&[a, b":", v]);
    visit(&[n, b".", a, b":", v]);
}

/// Writes `value` in decimal into `buffer` and returns the digits.
fn format_u32(mut value: u32, buffer: &mut [u8; 10]) -> &[u8] {
    let mut start = buffer.len();
    loop {
        start -= 1;
        // `value % 10` is below 10, so the cast cannot truncate.
        buffer[start] = b'0' + (value % 10) as u8;
        value /= 10;
        if value == 0 {
            break;
        }
    }
    &buffer[start..]
}

const INLINE_SCRATCH_BYTES: usize = 512;

/// A byte buffer on the stack that moves to the heap only when it outgrows
/// [`INLINE_SCRATCH_BYTES`] (very long package names), so matching does not allocate.
struct Scratch {
    inline: [u8; INLINE_SCRATCH_BYTES],
    length: usize,
    heap: Option<Vec<u8>>,
}

impl Scratch {
    fn new() -> Scratch {
        Scratch {
            inline: [0; INLINE_SCRATCH_BYTES],
            length: 0,
            heap: None,
        }
    }

    fn clear(&mut self) {
        self.length = 0;
        if let Some(heap) = &mut self.heap {
            heap.clear();
        }
    }

    fn extend(&mut self, bytes: &[u8]) {
        if self.heap.is_none() && self.length + bytes.len() > INLINE_SCRATCH_BYTES {
            self.heap = Some(self.inline[..self.length].to_vec());
        }
        match &mut self.heap {
            Some(heap) => heap.extend_from_slice(bytes),
            None => self.inline[self.length..self.length + bytes.len()].copy_from_slice(bytes),
        }
        self.length += bytes.len();
    }

    fn bytes(&self) -> &[u8] {
        match &self.heap {
            Some(heap) => heap,
            None => &self.inline[..self.length],
        }
    }

    /// Stores the lower-cased `parts` back to back and returns them.
    fn lowercase_parts<const N: usize>(&mut self, parts: [&[u8]; N]) -> [&[u8]; N] {
        self.clear();
        let mut ends = [0; N];
        for (end, part) in ends.iter_mut().zip(parts) {
            self.extend(part);
            *end = self.length;
        }
        let bytes = match &mut self.heap {
            Some(heap) => heap.as_mut_slice(),
            None => &mut self.inline[..self.length],
        };
        bytes.make_ascii_lowercase();
        let bytes: &[u8] = bytes;
        let mut start = 0;
        ends.map(|end| {
            let part = &bytes[start..end];
            start = end;
            part
        })
    }
}

/// A compiled case-insensitive glob (Python `fnmatch` syntax).
#[derive(Debug, Clone)]
struct Glob {
    tokens: Box<[GlobToken]>,
    /// Lower-cased literal bytes the subject must start with (those before the first
    /// non-literal token).
    prefix: Box<[u8]>,
    /// Lower-cased literal bytes the subject must end with (those after the last `*`), when
    /// the pattern has a `*`.
    suffix: Box<[u8]>,
    /// The subject length when the pattern has no `*` (every other token is one byte).
    fixed_length: Option<usize>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum GlobToken {
    /// One byte, lower-cased.
    Byte(u8),
    /// `?`: any one byte.
    Any,
    /// `*`: any run of bytes, possibly empty.
    Star,
    /// `[...]` or `[!...]`: inclusive byte ranges, as written (case is handled when matching).
    Class {
        negated: bool,
        ranges: Box<[(u8, u8)]>,
    },
}

impl Glob {
    fn compile(pattern: &str) -> Glob {
        let bytes = pattern.as_bytes();
        let mut tokens = Vec::new();
        let mut index = 0;
        while let Some(&byte) = bytes.get(index) {
            index += 1;
            match byte {
                b'*' => {
                    if tokens.last() != Some(&GlobToken::Star) {
                        tokens.push(GlobToken::Star);
                    }
                }
                b'?' => tokens.push(GlobToken::Any),
                b'[' => match parse_class(bytes, index) {
                    Some((token, next)) => {
                        tokens.push(token);
                        index = next;
                    }
                    None => tokens.push(GlobToken::Byte(b'[')),
                },
                other => tokens.push(GlobToken::Byte(other.to_ascii_lowercase())),
            }
        }
        let literal = |token: &GlobToken| match token {
            GlobToken::Byte(byte) => Some(*byte),
            _ => None,
        };
        let prefix: Vec<u8> = tokens.iter().map_while(literal).collect();
        let has_star = tokens.contains(&GlobToken::Star);
        let mut suffix: Vec<u8> = if has_star {
            tokens.iter().rev().map_while(literal).collect()
        } else {
            Vec::new()
        };
        suffix.reverse();
        Glob {
            fixed_length: (!has_star).then_some(tokens.len()),
            tokens: tokens.into_boxed_slice(),
            prefix: prefix.into_boxed_slice(),
            suffix: suffix.into_boxed_slice(),
        }
    }

    /// Matches `subject`, which the caller has lower-cased.
    fn matches(&self, subject: &[u8]) -> bool {
        // Cheap rejections first: most globs are `literal*` or `*literal`.
        if self
            .fixed_length
            .is_some_and(|length| length != subject.len())
            || !subject.starts_with(&self.prefix)
            || !subject.ends_with(&self.suffix)
        {
            return false;
        }
        let tokens = &self.tokens;
        let (mut token, mut position) = (0, 0);
        // Where to resume after the last `*`: the token after it, and the subject position it
        // has swallowed up to.
        let mut resume: Option<(usize, usize)> = None;
        while position < subject.len() {
            match tokens.get(token) {
                Some(GlobToken::Star) => {
                    token += 1;
                    resume = Some((token, position));
                    continue;
                }
                Some(single) if single.matches_byte(subject[position]) => {
                    token += 1;
                    position += 1;
                    continue;
                }
                _ => {}
            }
            match resume {
                Some((star_token, star_position)) => {
                    token = star_token;
                    position = star_position + 1;
                    resume = Some((star_token, star_position + 1));
                }
                None => return false,
            }
        }
        tokens[token..].iter().all(|rest| *rest == GlobToken::Star)
    }
}

impl GlobToken {
    fn matches_byte(&self, byte: u8) -> bool {
        match self {
            GlobToken::Byte(expected) => *expected == byte,
            GlobToken::Any => true,
            GlobToken::Star => false,
            GlobToken::Class { negated, ranges } => {
                let upper = byte.to_ascii_uppercase();
                let inside = ranges.iter().any(|&(low, high)| {
                    (low..=high).contains(&byte) || (low..=high).contains(&upper)
                });
                inside != *negated
            }
        }
    }
}

/// Parses a `[...]` class whose body starts at `start` (just after `[`), as Python's `fnmatch`
/// does: `!` first negates, a `]` first is literal, `a-z` is a range. Returns `None` when the
/// class is not closed (the `[` is then a literal).
fn parse_class(bytes: &[u8], start: usize) -> Option<(GlobToken, usize)> {
    let mut index = start;
    let negated = bytes.get(index) == Some(&b'!');
    if negated {
        index += 1;
    }
    let body_start = index;
    if bytes.get(index) == Some(&b']') {
        index += 1;
    }
    while bytes.get(index)? != &b']' {
        index += 1;
    }
    let body = &bytes[body_start..index];
    let mut ranges = Vec::new();
    let mut position = 0;
    while let Some(&low) = body.get(position) {
        if body.get(position + 1) == Some(&b'-')
            && let Some(&high) = body.get(position + 2)
        {
            ranges.push((low, high));
            position += 3;
        } else {
            ranges.push((low, low));
            position += 1;
        }
    }
    Some((
        GlobToken::Class {
            negated,
            ranges: ranges.into_boxed_slice(),
        },
        index + 1,
    ))
}

/// FNV-1a over bytes, for the exact-entry map: its keys are short and few, and lookups happen
/// twelve times per package, where SipHash's start-up cost dominates. (Flooding is not a
/// concern: the keys come from the baseline, not from the packages being looked up.)
#[derive(Debug, Clone, Copy)]
struct BytesHasher(u64);

impl Default for BytesHasher {
    fn default() -> BytesHasher {
        BytesHasher(0xcbf2_9ce4_8422_2325)
    }
}

impl Hasher for BytesHasher {
    fn write(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.0 = (self.0 ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3);
        }
    }

    fn finish(&self) -> u64 {
        self.0
    }
}
