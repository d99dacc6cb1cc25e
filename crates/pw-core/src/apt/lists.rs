//! The file names of apt's lists directory (`/var/lib/apt/lists`), which tie each `Packages`
//! index to the `Release` file of its suite.
//!
//! apt names a downloaded file after its URI: the scheme and credentials are dropped, `_`
//! is escaped as `%5f` and `/` becomes `_`. So
//! `http://deb.debian.org/debian/dists/bookworm/InRelease` is stored as
//! `deb.debian.org_debian_dists_bookworm_InRelease`, and the suite's indices share its
//! prefix: `deb.debian.org_debian_dists_bookworm_main_binary-amd64_Packages.lz4`. A flat
//! repository (`deb file:/srv/repo ./`) gives `_srv_repo_._Release` and `_srv_repo_._Packages`.

/// What kind of file of the lists directory a name is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ListFileKind {
    /// `*_InRelease` (signed: true) or `*_Release`.
    Release { signed: bool },
    /// `*_Packages`, possibly with a compression suffix.
    Packages,
}

/// The compression suffixes apt may keep lists with.
const SUFFIXES: [&str; 7] = ["", ".gz", ".xz", ".bz2", ".lzma", ".zst", ".lz4"];

/// Classifies a file name of the lists directory; `None` for anything else (`lock`,
/// `Translation-en`, `Sources`, `*_Release.gpg`, ...).
pub fn classify(name: &str) -> Option<ListFileKind> {
    if name.ends_with("_InRelease") {
        return Some(ListFileKind::Release { signed: true });
    }
    if name.ends_with("_Release") {
        return Some(ListFileKind::Release { signed: false });
    }
    let packages = SUFFIXES.iter().any(|suffix| {
        name.strip_suffix(suffix)
            .is_some_and(|stem| stem.ends_with("_Packages"))
    });
    packages.then_some(ListFileKind::Packages)
}

/// The prefix that the indices of a Release file's suite share (the name without
/// `InRelease` or `Release`).
pub fn release_prefix(name: &str) -> Option<&str> {
    name.strip_suffix("InRelease")
        .or_else(|| name.strip_suffix("Release"))
        .filter(|prefix| prefix.ends_with('_'))
}

/// The site a list file was fetched from: its first `_`-separated part (`deb.debian.org`,
/// `archive.ubuntu.com:8080`), unescaped; `None` for local (`file:`) sources, whose names
/// start with `_`.
pub fn site(name: &str) -> Option<String> {
    let first = name.split('_').next().filter(|first| !first.is_empty())?;
    Some(unescape(first))
}

/// The component of a Packages file under a release prefix: `main` for
/// `..._bookworm_main_binary-amd64_Packages`, `updates/main` for
/// `..._updates_main_binary-amd64_Packages`; `None` for a flat repository.
pub fn component(packages_name: &str, prefix: &str) -> Option<String> {
    let rest = packages_name.strip_prefix(prefix)?;
    let (component, _) = rest.split_once("_binary-")?;
    (!component.is_empty()).then(|| unescape(&component.replace('_', "/")))
}

/// Undoes apt's escaping of file names (`%5f` → `_`, and any other `%XX`).
fn unescape(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        if bytes[index] == b'%'
            && let Some(hex) = text.get(index + 1..index + 3)
            && let Ok(byte) = u8::from_str_radix(hex, 16)
        {
            out.push(byte);
            index += 3;
            continue;
        }
        out.push(bytes[index]);
        index += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A Release file and the Packages files of its suite.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexSet {
    /// The file name of the `InRelease` (preferred) or `Release` file.
    pub release: String,
    /// The Packages files sharing its prefix, sorted.
    pub packages: Vec<String>,
}

/// Pairs the Packages files of a lists directory with their Release files by name prefix
/// (the longest matching prefix wins; `InRelease` is preferred over `Release` for the same
/// suite). Returns the sets, sorted by Release name, and the Packages files without a
/// Release file.
pub fn pair(names: &[String]) -> (Vec<IndexSet>, Vec<String>) {
    let mut releases: Vec<(&str, &str, bool)> = Vec::new();
    for name in names {
        if let Some(ListFileKind::Release { signed }) = classify(name)
            && let Some(prefix) = release_prefix(name)
        {
            match releases.iter_mut().find(|(known, _, _)| *known == prefix) {
                Some(existing) if signed && !existing.2 => *existing = (prefix, name, signed),
                Some(_) => {}
                None => releases.push((prefix, name, signed)),
            }
        }
    }
    releases.sort_by(|a, b| a.1.cmp(b.1));
    let mut sets: Vec<IndexSet> = releases
        .iter()
        .map(|(_, name, _)| IndexSet {
            release: (*name).to_owned(),
            packages: Vec::new(),
        })
        .collect();
    let mut orphans = Vec::new();
    for name in names {
        if classify(name) != Some(ListFileKind::Packages) {
            continue;
        }
        let best = releases
            .iter()
            .enumerate()
            .filter(|(_, (prefix, _, _))| name.starts_with(prefix))
            .max_by_key(|(_, (prefix, _, _))| prefix.len());
        match best {
            Some((index, _)) => sets[index].packages.push(name.clone()),
            None => orphans.push(name.clone()),
        }
    }
    // Several compressions of one index (a leftover after a configuration change): keep
    // them all; the caller reads the first one it can.
    for set in &mut sets {
        set.packages.sort();
    }
    orphans.sort();
    (sets, orphans)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_lists_are_paired() {
        let names: Vec<String> = [
            "deb.debian.org_debian-security_dists_bookworm-security_InRelease",
            "deb.debian.org_debian-security_dists_bookworm-security_main_binary-amd64_Packages.lz4",
            "deb.debian.org_debian_dists_bookworm-updates_InRelease",
            "deb.debian.org_debian_dists_bookworm-updates_main_binary-amd64_Packages.lz4",
            "deb.debian.org_debian_dists_bookworm_InRelease",
            "deb.debian.org_debian_dists_bookworm_Release",
            "deb.debian.org_debian_dists_bookworm_main_binary-amd64_Packages.lz4",
            "deb.debian.org_debian_dists_bookworm_main_dep11_Components-amd64.yml.gz",
            "_srv_repo_._Release",
            "_srv_repo_._Packages",
            "example.org_x_dists_y_main_binary-amd64_Packages",
            "lock",
        ]
        .map(str::to_owned)
        .to_vec();
        let (sets, orphans) = pair(&names);
        let shown: Vec<(&str, Vec<&str>)> = sets
            .iter()
            .map(|set| {
                (
                    set.release.as_str(),
                    set.packages.iter().map(String::as_str).collect(),
                )
            })
            .collect();
        assert_eq!(
            shown,
            [
                ("_srv_repo_._Release", vec!["_srv_repo_._Packages"]),
                (
                    "deb.debian.org_debian-security_dists_bookworm-security_InRelease",
                    vec![
                        "deb.debian.org_debian-security_dists_bookworm-security_main_binary-amd64_Packages.lz4"
                    ]
                ),
                (
                    "deb.debian.org_debian_dists_bookworm-updates_InRelease",
                    vec![
                        "deb.debian.org_debian_dists_bookworm-updates_main_binary-amd64_Packages.lz4"
                    ]
                ),
                (
                    "deb.debian.org_debian_dists_bookworm_InRelease",
                    vec!["deb.debian.org_debian_dists_bookworm_main_binary-amd64_Packages.lz4"]
                ),
            ]
        );
        assert_eq!(
            orphans,
            ["example.org_x_dists_y_main_binary-amd64_Packages"]
        );
        assert_eq!(site(&names[0]).as_deref(), Some("deb.debian.org"));
        assert_eq!(site("_srv_repo_._Release"), None);
        assert_eq!(site("my%5fhost_x_InRelease").as_deref(), Some("my_host"));
        let prefix = release_prefix(&names[0]).unwrap();
        assert_eq!(component(&names[1], prefix).as_deref(), Some("main"));
        assert_eq!(
            component("a_dists_s_updates_main_binary-amd64_Packages", "a_dists_s_").as_deref(),
            Some("updates/main")
        );
        assert_eq!(component("_srv_repo_._Packages", "_srv_repo_._"), None);
    }
}
