//! The repository configuration as dnf and yum read it: the main file, `include=`, the
//! `.repo` files of every `reposdir`, variables, and what decides which packages the
//! package manager can see — per-repository `priority`, `exclude` and `includepkgs`, the
//! main `exclude`, and the priorities and versionlock plugins of yum 3.
//!
//! yum 3.4.3's rules (Python `ConfigParser` plus yum's `config.py`), where they differ from
//! a plain INI reader:
//! * option names are case-insensitive, and `key: value` is as good as `key = value`;
//! * `$var` in values comes from `/etc/yum/vars/<var>` (dnf: `/etc/dnf/vars`), plus
//!   `$releasever`, `$basearch` and `$arch`; an unknown variable stays as written (a note
//!   says so);
//! * `include=FILE` (a path or `file://` URL) reads that file's sections in place;
//! * the main file is `/etc/yum/yum.conf` when it exists, else `/etc/yum.conf`;
//! * `reposdir` defaults to `/etc/yum/repos.d` then `/etc/yum.repos.d`; under an installroot
//!   each reposdir is taken from inside the root when it exists there, else from the host;
//! * a repository whose `enabled` is not a boolean is skipped with a warning (dnf: an error).
//!
//! See docs/package-managers.md ("What yum can see").

use std::collections::HashMap;
use std::io;
use std::path::{Path, PathBuf};

use crate::repo_cache::RepoCacheError;
use crate::{PackageManager, Root};

/// yum's default repository priority (yum-plugin-priorities): lower is better.
pub const DEFAULT_PRIORITY: u32 = 99;

/// The configuration the package manager reads, resolved.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RepoConfig {
    /// The main file that was read, if any.
    pub main_file: Option<PathBuf>,
    pub cachedir: String,
    /// Repositories in configuration order (main file, then reposdirs), duplicates dropped.
    pub repositories: Vec<RepoSection>,
    /// `[main] exclude=` patterns.
    pub main_exclude: Vec<String>,
    /// The priorities plugin, when yum loads it (`plugins=1` and the plugin enabled).
    pub priorities: Option<PrioritiesPlugin>,
    /// The versionlock plugin's list, when yum loads it.
    pub versionlock: Option<VersionLock>,
    /// What was skipped or could not be resolved, for the report.
    pub notes: Vec<String>,
}

/// One `[repoid]` section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepoSection {
    pub id: String,
    pub enabled: bool,
    pub file: PathBuf,
    /// `priority=` (default 99); only the priorities plugin reads it.
    pub priority: u32,
    /// `exclude=` patterns of this repository.
    pub exclude: Vec<String>,
    /// `includepkgs=` patterns: when any, only matching packages of this repository exist.
    pub includepkgs: Vec<String>,
    /// What dnf names the repository's cache directory after: `metalink`, else `mirrorlist`,
    /// else the first `baseurl`, variables expanded (`None` when it has none of them).
    pub source_url: Option<String>,
}

/// yum-plugin-priorities' settings (`/etc/yum/pluginconf.d/priorities.conf`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PrioritiesPlugin {
    /// Compare by name and architecture instead of by name.
    pub only_samearch: bool,
    /// Also hide packages that obsolete a package of a better repository. We do not read
    /// obsoletes; when this is on, the report says so.
    pub check_obsoletes: bool,
}

/// yum-plugin-versionlock's list: `[EPOCH:]NAME-VERSION-RELEASE.ARCH` patterns; a `!` entry
/// excludes the versions it matches, a plain one locks its name to the versions it matches.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VersionLock {
    pub file: PathBuf,
    pub locks: Vec<String>,
    pub excludes: Vec<String>,
}

/// Reads the configuration `package_manager` would read under `root`. `releasever` and
/// `basearch` fill those variables.
pub fn read(
    package_manager: PackageManager,
    root: &Root,
    releasever: Option<&str>,
) -> Result<RepoConfig, RepoCacheError> {
    let yum = package_manager == PackageManager::Yum;
    let (main_candidates, default_reposdirs, default_cachedir, vars_dir): (
        &[&str],
        &[&str],
        &str,
        &str,
    ) = if yum {
        (
            &["/etc/yum/yum.conf", "/etc/yum.conf"],
            &["/etc/yum/repos.d", "/etc/yum.repos.d"],
            // yum's default when yum.conf sets none; Amazon Linux 2's yum.conf sets
            // `/var/cache/yum/$basearch/$releasever`.
            "/var/cache/yum",
            "/etc/yum/vars",
        )
    } else {
        (
            &["/etc/dnf/dnf.conf"],
            &[
                "/etc/yum.repos.d",
                "/etc/yum/repos.d",
                "/etc/distro.repos.d",
            ],
            "/var/cache/dnf",
            "/etc/dnf/vars",
        )
    };
    let mut config = RepoConfig {
        cachedir: default_cachedir.to_owned(),
        ..RepoConfig::default()
    };
    let vars = Variables::read(&inside_root_or_host(root, &[vars_dir]), releasever, !yum)?;
    let main_path = inside_root_or_host(root, main_candidates);
    let mut reposdirs: Vec<String> = default_reposdirs.iter().map(|d| (*d).to_owned()).collect();
    let mut plugins = false;
    let mut pluginconfpath = "/etc/yum/pluginconf.d".to_owned();
    if let Some(text) = read_optional(&main_path)? {
        config.main_file = Some(main_path.clone());
        for section in parse_with_includes(&main_path, &text, root, &mut config.notes, 0)? {
            if section.name == "main" {
                let value = |key| section.last(key).map(|(_, v)| vars.expand(v));
                if let Some(value) = value("reposdir") {
                    reposdirs = split_list(&value);
                }
                if let Some(value) = value("cachedir") {
                    config.cachedir = value;
                }
                if let Some(value) = value("exclude") {
                    config.main_exclude = split_list(&value);
                }
                if let Some(value) = value("plugins") {
                    plugins = parse_bool(&value).unwrap_or(false);
                }
                if let Some(value) = value("pluginconfpath") {
                    pluginconfpath = split_list(&value)
                        .into_iter()
                        .next()
                        .unwrap_or(pluginconfpath);
                }
            } else {
                push_repo(&mut config, &vars, yum, &section)?;
            }
        }
    }
    for reposdir in &reposdirs {
        // yum: each reposdir from inside the root when it is there; dnf: the root's when
        // any of them is there.
        let base = if root.is_host() {
            Root::host()
        } else if yum {
            if is_dir(&root.join(reposdir)) {
                root.clone()
            } else {
                Root::host()
            }
        } else if reposdirs.iter().any(|d| is_dir(&root.join(d))) {
            root.clone()
        } else {
            Root::host()
        };
        let dir = base.join(reposdir);
        let mut files: Vec<PathBuf> = match fs_err::read_dir(&dir) {
            Ok(entries) => entries
                .filter_map(Result::ok)
                .map(|entry| entry.path())
                .filter(|path| path.extension().is_some_and(|e| e == "repo"))
                .collect(),
            Err(error) if error.kind() == io::ErrorKind::NotFound => continue,
            Err(source) => return Err(RepoCacheError::Read { path: dir, source }),
        };
        files.sort();
        for file in files {
            let Some(text) = read_optional(&file)? else {
                continue;
            };
            for section in parse_with_includes(&file, &text, root, &mut config.notes, 0)? {
                if section.name != "main" {
                    push_repo(&mut config, &vars, yum, &section)?;
                }
            }
        }
    }
    if yum && plugins {
        let plugin_dir = inside_root_or_host(root, &[pluginconfpath.as_str()]);
        config.priorities = read_priorities(&plugin_dir.join("priorities.conf"))?;
        config.versionlock = read_versionlock(&plugin_dir.join("versionlock.conf"), root)?;
    }
    config.notes.extend(vars.unknown_notes());
    Ok(config)
}

fn push_repo(
    config: &mut RepoConfig,
    vars: &Variables,
    yum: bool,
    section: &IniSection,
) -> Result<(), RepoCacheError> {
    let id = vars.expand(&section.name);
    // yum reserves `installed` (the rpm database's repository).
    if id == "installed" || config.repositories.iter().any(|r| r.id == id) {
        return Ok(());
    }
    let enabled = match section.last("enabled") {
        None => true,
        Some((line, value)) => match parse_bool(value) {
            Some(enabled) => enabled,
            None if yum => {
                config.notes.push(format!(
                    "{}:{line}: repository `{id}` skipped: `enabled` must be 0/1, yes/no, true/false or on/off, not `{value}` (yum skips it too)",
                    section.file.display()
                ));
                return Ok(());
            }
            None => {
                return Err(RepoCacheError::InvalidEnabled {
                    path: section.file.clone(),
                    line,
                    value: value.to_owned(),
                });
            }
        },
    };
    let priority = match section.last("priority") {
        None => DEFAULT_PRIORITY,
        Some((line, value)) => value.trim().parse().unwrap_or_else(|_| {
            config.notes.push(format!(
                "{}:{line}: priority `{value}` of `{id}` is not a number; {DEFAULT_PRIORITY} used",
                section.file.display()
            ));
            DEFAULT_PRIORITY
        }),
    };
    let list = |key| {
        section
            .last(key)
            .map(|(_, v)| split_list(&vars.expand(v)))
            .unwrap_or_default()
    };
    config.repositories.push(RepoSection {
        id,
        enabled,
        file: section.file.clone(),
        priority,
        exclude: list("exclude"),
        includepkgs: list("includepkgs"),
        source_url: ["metalink", "mirrorlist"]
            .into_iter()
            .find_map(|key| {
                section
                    .last(key)
                    .map(|(_, v)| vars.expand(v.trim()))
                    .filter(|v| !v.is_empty())
            })
            .or_else(|| {
                section
                    .last("baseurl")
                    .and_then(|(_, v)| split_list(&vars.expand(v)).into_iter().next())
            }),
    });
    Ok(())
}

fn read_priorities(path: &Path) -> Result<Option<PrioritiesPlugin>, RepoCacheError> {
    let Some(text) = read_optional(path)? else {
        return Ok(None);
    };
    let sections = parse_ini(path, &text);
    let main = sections.iter().find(|s| s.name == "main");
    let flag = |key, default| {
        main.and_then(|s| s.last(key))
            .and_then(|(_, v)| parse_bool(v))
            .unwrap_or(default)
    };
    if !flag("enabled", false) {
        return Ok(None);
    }
    Ok(Some(PrioritiesPlugin {
        only_samearch: flag("only_samearch", false),
        check_obsoletes: flag("check_obsoletes", false),
    }))
}

fn read_versionlock(path: &Path, root: &Root) -> Result<Option<VersionLock>, RepoCacheError> {
    let Some(text) = read_optional(path)? else {
        return Ok(None);
    };
    let sections = parse_ini(path, &text);
    let main = sections.iter().find(|s| s.name == "main");
    let enabled = main
        .and_then(|s| s.last("enabled"))
        .and_then(|(_, v)| parse_bool(v))
        .unwrap_or(false);
    if !enabled {
        return Ok(None);
    }
    let list = main
        .and_then(|s| s.last("locklist"))
        .map_or("/etc/yum/pluginconf.d/versionlock.list", |(_, v)| v);
    let file = inside_root_or_host(root, &[list]);
    let mut lock = VersionLock {
        file: file.clone(),
        ..VersionLock::default()
    };
    for line in read_optional(&file)?.unwrap_or_default().lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        match line.strip_prefix('!') {
            Some(excluded) => lock.excludes.push(excluded.trim().to_owned()),
            None => lock.locks.push(line.to_owned()),
        }
    }
    Ok(Some(lock))
}

/// Variables for `$name` / `${name}` in values.
struct Variables {
    values: HashMap<String, String>,
    unknown: std::cell::RefCell<Vec<String>>,
}

impl Variables {
    /// `command_line_wins`: dnf lets `--releasever` override the variable file; yum 3 reads
    /// the file last.
    fn read(
        dir: &Path,
        releasever: Option<&str>,
        command_line_wins: bool,
    ) -> Result<Variables, RepoCacheError> {
        let mut values = HashMap::new();
        if !command_line_wins && let Some(releasever) = releasever {
            values.insert("releasever".to_owned(), releasever.to_owned());
        }
        let arch = std::env::consts::ARCH.to_owned();
        values.insert("arch".to_owned(), arch.clone());
        values.insert("basearch".to_owned(), basearch(&arch).to_owned());
        if let Ok(entries) = fs_err::read_dir(dir) {
            for entry in entries.filter_map(Result::ok) {
                let path = entry.path();
                let Some(name) = path.file_name().map(|n| n.to_string_lossy().into_owned()) else {
                    continue;
                };
                if let Some(text) = read_optional(&path)? {
                    let value = text.lines().next().unwrap_or("").trim().to_owned();
                    values.insert(name, value);
                }
            }
        }
        // `--releasever` on dnf's command line wins over the variable file (an Amazon Linux
        // 2023 host evaluated against another release than its lock).
        if command_line_wins && let Some(releasever) = releasever {
            values.insert("releasever".to_owned(), releasever.to_owned());
        }
        Ok(Variables {
            values,
            unknown: std::cell::RefCell::new(Vec::new()),
        })
    }

    /// `text` with every known `$var`/`${var}` replaced; unknown ones stay as written.
    fn expand(&self, text: &str) -> String {
        let mut out = String::with_capacity(text.len());
        let mut rest = text;
        while let Some(at) = rest.find('$') {
            out.push_str(&rest[..at]);
            let after = &rest[at + 1..];
            let (name, consumed) = if let Some(inner) = after.strip_prefix('{') {
                match inner.find('}') {
                    Some(end) => (&inner[..end], end + 2),
                    None => ("", 0),
                }
            } else {
                let end = after
                    .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                    .unwrap_or(after.len());
                (&after[..end], end)
            };
            match self.values.get(name) {
                Some(value) if !name.is_empty() => out.push_str(value),
                _ => {
                    if !name.is_empty() {
                        let mut unknown = self.unknown.borrow_mut();
                        if !unknown.iter().any(|u| u == name) {
                            unknown.push(name.to_owned());
                        }
                    }
                    out.push('$');
                    out.push_str(&after[..consumed]);
                }
            }
            rest = &after[consumed..];
        }
        out.push_str(rest);
        out
    }

    fn unknown_notes(&self) -> Vec<String> {
        self.unknown
            .borrow()
            .iter()
            .map(|name| format!("configuration variable `${name}` is not defined here; values that use it were read as written"))
            .collect()
    }
}

/// yum's `$basearch` of an architecture.
fn basearch(arch: &str) -> &str {
    match arch {
        "i386" | "i486" | "i586" | "i686" => "i386",
        "armv7l" | "armv7hl" => "armhfp",
        other => other,
    }
}

/// A list value: yum splits on commas and whitespace.
pub fn split_list(value: &str) -> Vec<String> {
    value
        .split(|c: char| c == ',' || c.is_whitespace())
        .filter(|item| !item.is_empty())
        .map(str::to_owned)
        .collect()
}

/// dnf's and yum's boolean spellings.
pub(crate) fn parse_bool(value: &str) -> Option<bool> {
    match value.trim().to_ascii_lowercase().as_str() {
        "1" | "yes" | "true" | "on" => Some(true),
        "0" | "no" | "false" | "off" => Some(false),
        _ => None,
    }
}

/// The first of `paths` that exists inside the root, or else the host's.
pub(crate) fn inside_root_or_host(root: &Root, paths: &[&str]) -> PathBuf {
    for path in paths {
        let inside = root.join(path);
        if fs_err::metadata(&inside).is_ok() {
            return inside;
        }
    }
    for path in paths {
        let host = Root::host().join(path);
        if fs_err::metadata(&host).is_ok() {
            return host;
        }
    }
    Root::host().join(paths[0])
}

pub(crate) fn is_dir(path: &Path) -> bool {
    fs_err::metadata(path).is_ok_and(|m| m.is_dir())
}

pub(crate) fn read_optional(path: &Path) -> Result<Option<String>, RepoCacheError> {
    match fs_err::read_to_string(path) {
        Ok(text) => Ok(Some(text)),
        Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(RepoCacheError::Read {
            path: path.to_owned(),
            source,
        }),
    }
}

#[derive(Debug, Clone)]
pub(crate) struct IniSection {
    pub(crate) name: String,
    pub(crate) file: PathBuf,
    /// (1-based line, lower-case key, value)
    pub(crate) entries: Vec<(usize, String, String)>,
}

impl IniSection {
    pub(crate) fn last(&self, key: &str) -> Option<(usize, &str)> {
        self.entries
            .iter()
            .rev()
            .find(|(_, k, _)| k == key)
            .map(|(line, _, value)| (*line, value.as_str()))
    }
}

/// The INI syntax dnf and yum share: `[section]`, `key=value` or `key: value` (keys
/// case-insensitive), comments with `#` or `;`. Indented lines continue the previous value
/// (yum's `baseurl` lists); they are appended to it with a space.
pub(crate) fn parse_ini(file: &Path, text: &str) -> Vec<IniSection> {
    let mut sections: Vec<IniSection> = Vec::new();
    for (index, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with(['#', ';']) {
            continue;
        }
        if raw.starts_with([' ', '\t']) {
            if let Some((_, _, value)) = sections.last_mut().and_then(|s| s.entries.last_mut()) {
                value.push(' ');
                value.push_str(line);
            }
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            sections.push(IniSection {
                name: name.trim().to_owned(),
                file: file.to_owned(),
                entries: Vec::new(),
            });
            continue;
        }
        let split = match (line.find('='), line.find(':')) {
            (Some(e), Some(c)) => Some(e.min(c)),
            (Some(e), None) => Some(e),
            (None, Some(c)) => Some(c),
            (None, None) => None,
        };
        let (Some(section), Some(at)) = (sections.last_mut(), split) else {
            continue;
        };
        let (key, value) = (&line[..at], &line[at + 1..]);
        section.entries.push((
            index + 1,
            key.trim().to_ascii_lowercase(),
            value.trim().to_owned(),
        ));
    }
    sections
}

/// [`parse_ini`], with `include=` followed (local paths and `file://` URLs, in the root when
/// there, at most 5 levels deep). Sections of an included file come where the include is.
fn parse_with_includes(
    file: &Path,
    text: &str,
    root: &Root,
    notes: &mut Vec<String>,
    depth: usize,
) -> Result<Vec<IniSection>, RepoCacheError> {
    let mut out = Vec::new();
    for section in parse_ini(file, text) {
        let include = section
            .last("include")
            .map(|(line, v)| (line, v.to_owned()));
        out.push(section);
        let Some((line, target)) = include else {
            continue;
        };
        let path = target.strip_prefix("file://").unwrap_or(&target);
        if !path.starts_with('/') || depth >= 5 {
            notes.push(format!(
                "{}:{line}: include `{target}` not followed (only local files, 5 levels deep)",
                file.display()
            ));
            continue;
        }
        let included = inside_root_or_host(root, &[path]);
        match read_optional(&included)? {
            Some(text) => {
                out.extend(parse_with_includes(
                    &included,
                    &text,
                    root,
                    notes,
                    depth + 1,
                )?);
            }
            None => notes.push(format!(
                "{}:{line}: included file {} does not exist",
                file.display(),
                included.display()
            )),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ini_as_yum_reads_it() {
        let text = "[main]\nCacheDir: /var/cache/x\n# comment\n[a]\nname=A\nbaseurl=http://x\n  http://y\nEnabled = 0\n\n[b]\nenabled = 1\n";
        let sections = parse_ini(Path::new("t"), text);
        assert_eq!(sections.len(), 3);
        assert_eq!(sections[0].last("cachedir"), Some((2, "/var/cache/x")));
        assert_eq!(sections[1].last("enabled"), Some((8, "0")));
        assert_eq!(sections[1].last("baseurl"), Some((6, "http://x http://y")));
        assert_eq!(sections[2].name, "b");
        assert_eq!(parse_bool("True"), Some(true));
        assert_eq!(parse_bool("off"), Some(false));
        assert_eq!(parse_bool("maybe"), None);
    }

    #[test]
    fn variables_expand_and_unknown_ones_stay() {
        let mut values = HashMap::new();
        values.insert("releasever".to_owned(), "2".to_owned());
        values.insert("awsregion".to_owned(), "eu-west-1".to_owned());
        let vars = Variables {
            values,
            unknown: std::cell::RefCell::new(Vec::new()),
        };
        assert_eq!(
            vars.expand("amzn2-core-$releasever-${awsregion}/$mystery"),
            "amzn2-core-2-eu-west-1/$mystery"
        );
        assert_eq!(vars.unknown_notes().len(), 1);
        assert_eq!(
            split_list("kernel*, glibc  foo"),
            ["kernel*", "glibc", "foo"]
        );
    }
}

/// Package patterns as yum's `exclude=`, `includepkgs=` and versionlock match them
/// (`parsePackages`): a pattern matches a package when it equals, or matches as a
/// case-sensitive `fnmatch` glob (`*`, `?`, `[...]`, `[!...]`), one of `name`, `name.arch`,
/// `name-version`, `name-version-release`, `name-version-release.arch`,
/// `name-epoch:version-release.arch` or `epoch:name-version-release.arch`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PackagePatterns {
    patterns: Vec<String>,
}

impl PackagePatterns {
    pub fn new(patterns: &[String]) -> PackagePatterns {
        PackagePatterns {
            patterns: patterns.to_vec(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.patterns.is_empty()
    }

    /// The index of the first pattern that matches `nevra`.
    pub fn matches(&self, nevra: &pw_core::nevra::Nevra) -> Option<usize> {
        if self.patterns.is_empty() {
            return None;
        }
        let (n, a) = (&nevra.name, &nevra.arch);
        let (e, v, r) = (nevra.evr.epoch, &nevra.evr.version, &nevra.evr.release);
        let forms = [
            n.clone(),
            format!("{n}.{a}"),
            format!("{n}-{v}"),
            format!("{n}-{v}-{r}"),
            format!("{n}-{v}-{r}.{a}"),
            format!("{n}-{e}:{v}-{r}.{a}"),
            format!("{e}:{n}-{v}-{r}.{a}"),
        ];
        self.patterns.iter().position(|pattern| {
            forms
                .iter()
                .any(|form| fnmatch(pattern.as_bytes(), form.as_bytes()))
        })
    }
}

/// Python's `fnmatch.fnmatchcase`: `*`, `?`, `[...]` with ranges and a leading `!`; an
/// unclosed `[` is literal.
fn fnmatch(pattern: &[u8], subject: &[u8]) -> bool {
    match pattern.first() {
        None => subject.is_empty(),
        Some(b'*') => (0..=subject.len()).any(|skip| fnmatch(&pattern[1..], &subject[skip..])),
        Some(b'?') => !subject.is_empty() && fnmatch(&pattern[1..], &subject[1..]),
        Some(b'[') => match class_end(pattern) {
            Some(end) => {
                let Some(&byte) = subject.first() else {
                    return false;
                };
                let body = &pattern[1..end];
                let (negated, body) = match body.first() {
                    Some(b'!') => (true, &body[1..]),
                    _ => (false, body),
                };
                let mut inside = false;
                let mut index = 0;
                while index < body.len() {
                    if index + 2 < body.len() && body[index + 1] == b'-' {
                        inside |= (body[index]..=body[index + 2]).contains(&byte);
                        index += 3;
                    } else {
                        inside |= body[index] == byte;
                        index += 1;
                    }
                }
                inside != negated && fnmatch(&pattern[end + 1..], &subject[1..])
            }
            None => subject.first() == Some(&b'[') && fnmatch(&pattern[1..], &subject[1..]),
        },
        Some(&literal) => {
            subject.first() == Some(&literal) && fnmatch(&pattern[1..], &subject[1..])
        }
    }
}

/// The index of the `]` closing the class that starts `pattern` (a `]` right after `[` or
/// `[!` is literal).
fn class_end(pattern: &[u8]) -> Option<usize> {
    let mut index = 1;
    if pattern.get(index) == Some(&b'!') {
        index += 1;
    }
    if pattern.get(index) == Some(&b']') {
        index += 1;
    }
    pattern[index..]
        .iter()
        .position(|&b| b == b']')
        .map(|at| index + at)
}

#[cfg(test)]
mod pattern_tests {
    use super::*;

    #[test]
    fn yum_forms_and_case() {
        let nevra = pw_core::nevra::Nevra::parse("kernel-0:5.10.200-1.amzn2.x86_64").unwrap();
        let patterns = |list: &[&str]| {
            PackagePatterns::new(&list.iter().map(|p| (*p).to_owned()).collect::<Vec<_>>())
        };
        assert_eq!(patterns(&["kernel*"]).matches(&nevra), Some(0));
        assert_eq!(
            patterns(&["glibc", "kernel.x86_64"]).matches(&nevra),
            Some(1)
        );
        assert_eq!(
            patterns(&["kernel-5.10.200-1.amzn2"]).matches(&nevra),
            Some(0)
        );
        assert_eq!(patterns(&["0:kernel-5.10.*"]).matches(&nevra), Some(0));
        assert_eq!(
            patterns(&["kernel-0:5.10.200-1.amzn2.x86_64"]).matches(&nevra),
            Some(0)
        );
        // yum compares case-sensitively, and a version alone is not a form.
        assert_eq!(patterns(&["Kernel*"]).matches(&nevra), None);
        assert_eq!(patterns(&["5.10*"]).matches(&nevra), None);
        assert_eq!(patterns(&["kern[a-f]l"]).matches(&nevra), Some(0));
        assert_eq!(patterns(&["kern[!e]l"]).matches(&nevra), None);
    }
}
