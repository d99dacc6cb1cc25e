//! Processes left running on deleted files after an update: a process whose memory maps name
//! a library or program that is no longer on disk (`/proc/PID/maps`, `... (deleted)`) still
//! runs the old code until it restarts. Each is reported with its systemd unit (from
//! `/proc/PID/cgroup`) and the package that now owns the path; units the node's configuration
//! names are restarted.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use pw_api::agent::StaleService;

/// Whether a mapped path is code: a shared library or a program directory.
fn is_code(path: &str) -> bool {
    path.contains(".so")
        || ["/bin/", "/sbin/", "/libexec/"]
            .iter()
            .any(|dir| path.contains(dir))
}

/// The deleted code files one process maps.
fn deleted_maps(maps: &str) -> BTreeSet<String> {
    maps.lines()
        .filter_map(|line| line.strip_suffix(" (deleted)"))
        .filter_map(|line| line.split_whitespace().nth(5).map(str::to_owned))
        .filter(|path| path.starts_with('/') && !path.starts_with("/memfd:") && is_code(path))
        .filter(|path| !path.starts_with("/dev/") && !path.starts_with("/SYSV"))
        .collect()
}

/// The systemd unit of a process, from its cgroup path (`.../system.slice/nginx.service`).
fn unit_of(cgroup: &str) -> Option<String> {
    cgroup
        .lines()
        .filter_map(|line| line.rsplit(':').next())
        .flat_map(|path| path.split('/'))
        .rfind(|part| part.ends_with(".service"))
        .map(str::to_owned)
}

/// Every process under `proc_dir` (except this one) that maps deleted code, grouped by unit
/// (or by process when it has none); `owner` names the package that owns a path now.
pub fn scan(proc_dir: &Path, owner: &dyn Fn(&str) -> Option<String>) -> Vec<StaleService> {
    let me = std::process::id();
    let Ok(entries) = fs_err::read_dir(proc_dir) else {
        return Vec::new();
    };
    let mut found: BTreeMap<String, StaleService> = BTreeMap::new();
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name.to_str().and_then(|n| n.parse::<u32>().ok()) else {
            continue;
        };
        if pid == me {
            continue;
        }
        let dir = entry.path();
        let Ok(maps) = fs_err::read_to_string(dir.join("maps")) else {
            continue;
        };
        let files = deleted_maps(&maps);
        if files.is_empty() {
            continue;
        }
        let command = fs_err::read_to_string(dir.join("comm"))
            .map(|c| c.trim().to_owned())
            .unwrap_or_default();
        let unit = fs_err::read_to_string(dir.join("cgroup"))
            .ok()
            .and_then(|c| unit_of(&c));
        let key = unit.clone().unwrap_or_else(|| format!("pid {pid}"));
        let service = found.entry(key).or_insert_with(|| StaleService {
            unit: unit.clone(),
            pids: Vec::new(),
            command: command.clone(),
            files: Vec::new(),
            packages: Vec::new(),
            restarted: None,
        });
        service.pids.push(pid);
        for file in files {
            if !service.files.contains(&file) {
                service.files.push(file);
            }
        }
    }
    let mut services: Vec<StaleService> = found.into_values().collect();
    // Many services map the same library, and each lookup may start `rpm -qf` or read
    // dpkg's file lists: each file is looked up once.
    let mut owners: std::collections::BTreeMap<String, Option<String>> =
        std::collections::BTreeMap::new();
    for service in &mut services {
        service.pids.sort_unstable();
        service.files.sort();
        let mut packages: Vec<String> = service
            .files
            .iter()
            .filter_map(|f| owners.entry(f.clone()).or_insert_with(|| owner(f)).clone())
            .collect();
        packages.sort();
        packages.dedup();
        service.packages = packages;
    }
    services
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deleted_code_and_units_are_read_from_proc_text() {
        let maps = "\
7f0000000000-7f0000001000 r-xp 00000000 08:01 1234 /usr/lib64/libssl.so.3.0.7 (deleted)
7f0000001000-7f0000002000 r--p 00000000 08:01 1235 /usr/lib64/libc.so.6
7f0000002000-7f0000003000 rw-s 00000000 00:01 99 /dev/zero (deleted)
7f0000003000-7f0000004000 r-xp 00000000 08:01 1236 /usr/sbin/nginx (deleted)
7f0000004000-7f0000005000 rw-p 00000000 00:00 0 /tmp/cache.db (deleted)
";
        let files: Vec<String> = deleted_maps(maps).into_iter().collect();
        assert_eq!(files, ["/usr/lib64/libssl.so.3.0.7", "/usr/sbin/nginx"]);
        assert_eq!(
            unit_of("0::/system.slice/nginx.service\n").as_deref(),
            Some("nginx.service")
        );
        assert_eq!(
            unit_of("0::/user.slice/user-1000.slice/session-2.scope\n"),
            None
        );
    }
}
