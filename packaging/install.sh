#!/bin/sh
# Patchwarden node installer: installs the patchwarden package from a Patchwarden server,
# enrolls this host with that server and starts the agent.
#
# The server serves this file at /install.sh, with its own URL filled in below, and the
# packages it installs at /packages/ (SHA256SUMS and the .deb/.rpm files). As root:
#
#   curl -fsSL https://pw.example:8440/install.sh | sudo sh -s -- --activation-code CODE \
#       [--tag 'Patch Group=AL2-PRD']... [--ca-cert FILE] [--server URL] [--no-start]
#
#   --activation-code CODE  from `patchwarden activation create` (secret; never printed);
#                           not needed once the host is enrolled
#   --tag KEY=VALUE         a tag for this host (repeat); `Patch Group=...` picks its baseline
#   --ca-cert FILE          PEM file to trust for the server (downloads and the agent);
#                           installed as /etc/patchwarden/ca.pem
#   --server URL            the server's URL, if not the one this file was served from
#   --no-start              install and enroll, but do not enable or start the agent
#
# A server whose certificate the host does not trust yet: fetch the script with the CA too,
#   curl -fsSL --cacert ca.pem https://pw.example:8440/install.sh \
#       | sudo sh -s -- --ca-cert ca.pem --activation-code CODE
#
# cloud-init user data (runcmd runs as root, after the network is up):
#   #cloud-config
#   runcmd:
#     - "curl -fsSL https://pw.example:8440/install.sh | sh -s -- --activation-code CODE --tag 'Patch Group=AL2-PRD'"
#
# AWS Systems Manager Run Command (AWS-RunShellScript runs as root):
#   aws ssm send-command --document-name AWS-RunShellScript \
#       --targets Key=tag:Environment,Values=production \
#       --parameters '{"commands":["curl -fsSL https://pw.example:8440/install.sh | sh -s -- --activation-code CODE --tag \"Patch Group=AL2-PRD\""]}'
#
# For a fleet, create one code with enough uses (`activation create --max-uses N`); user
# data and Run Command parameters are readable by others with access to the account.
#
# Running it again is safe: the same package version is not reinstalled, an enrolled host
# is not enrolled again, and the configuration is left byte-identical.
#
# POSIX sh (dash, busybox ash, bash). Needs curl or wget, sha256sum, and dpkg (Debian,
# Ubuntu) or rpm with dnf or yum (Amazon Linux, RHEL family).

# Everything is inside main, called on the last line: a download cut short runs nothing.
main() {
    set -eu
    umask 022
    # Run as `curl ... | sh`, standard input is this script: no command may read from it.
    exec < /dev/null

    default_server='@PATCHWARDEN_SERVER_URL@'
    config=/etc/patchwarden/agent.toml
    credential=/var/lib/patchwarden-agent/credential.json
    unit=patchwarden-agent.service

    step="reading the arguments"
    reported=
    tmp=
    trap 'on_exit' EXIT
    trap 'exit 130' INT TERM

    code=
    server=
    ca_cert=
    no_start=no
    # Tags one per line (a tag cannot contain a newline); expanded into --tag arguments
    # with the positional parameters at enrollment, so spaces in them survive.
    tags=
    while [ $# -gt 0 ]; do
        case "$1" in
            --activation-code | --tag | --ca-cert | --server)
                [ $# -ge 2 ] || fail "$1 needs a value"
                set_option "$1" "$2"
                shift 2
                ;;
            --activation-code=* | --tag=* | --ca-cert=* | --server=*)
                set_option "${1%%=*}" "${1#*=}"
                shift
                ;;
            --no-start)
                no_start=yes
                shift
                ;;
            -h | --help)
                usage
                exit 0
                ;;
            *) fail "unknown argument: $1 (see --help)" ;;
        esac
    done

    step="checking the environment"
    [ "$(id -u)" -eq 0 ] || fail "must run as root (pipe into \`sudo sh -s -- ...\`)"
    if [ -z "$server" ]; then
        case "$default_server" in
            @*@) fail "no server URL: pass --server URL (this copy was not served by a Patchwarden server)" ;;
            *) server=$default_server ;;
        esac
    fi
    server=${server%/}
    case "$server" in
        http://* | https://*) ;;
        *) fail "the server URL must start with http:// or https://: $server" ;;
    esac
    if [ -n "$ca_cert" ]; then
        [ -r "$ca_cert" ] || fail "cannot read the CA certificate file: $ca_cert"
        case "$ca_cert" in
            /*) ;;
            *) ca_cert=$(pwd)/$ca_cert ;;
        esac
    fi
    command -v sha256sum > /dev/null 2>&1 || fail "sha256sum is not installed"

    if command -v dpkg > /dev/null 2>&1 && { command -v apt-get > /dev/null 2>&1 || [ -f /var/lib/dpkg/status ]; }; then
        family=deb
    elif command -v rpm > /dev/null 2>&1; then
        family=rpm
    else
        fail "found neither dpkg (Debian, Ubuntu) nor rpm (Amazon Linux, RHEL family); cannot install packages on this host"
    fi
    machine=$(uname -m)
    case "$machine" in
        x86_64 | amd64) deb_arch=amd64 rpm_arch=x86_64 ;;
        aarch64 | arm64) deb_arch=arm64 rpm_arch=aarch64 ;;
        *) fail "unsupported architecture: $machine (x86_64 and aarch64 are supported)" ;;
    esac
    if [ "$family" = deb ]; then arch=$deb_arch; else arch=$rpm_arch; fi

    tmp=$(mktemp -d)

    step="downloading the package list"
    say "server: $server"
    fetch "$server/packages/SHA256SUMS" "$tmp/SHA256SUMS" ||
        fail "cannot download $server/packages/SHA256SUMS: is the URL right, and does the server distribute packages (packages_dir in its server.toml)?"

    step="choosing the package"
    # The node package only (never patchwarden-server), for this architecture; versions
    # hold no `_` (deb) or `-` (rpm), so the file name splits unambiguously.
    if [ "$family" = deb ]; then
        pattern="^patchwarden_[0-9][^_/]*_${arch}\\.deb\$"
    else
        pattern="^patchwarden-[0-9][^-/]*-[^-/]*\\.${arch}\\.rpm\$"
    fi
    best=
    best_file=
    for file in $(awk '{ sub(/^\*/, "", $2); print $2 }' "$tmp/SHA256SUMS" | grep -E "$pattern" || true); do
        version=$(file_version "$file")
        if [ -z "$best" ] || version_gt "$version" "$best"; then
            best=$version
            best_file=$file
        fi
    done
    [ -n "$best_file" ] ||
        fail "the server at $server has no patchwarden package for $machine ($family); ask the administrator to add one to the server's packages directory"

    step="checking the installed version"
    installed=$(installed_version)
    package_state=
    if [ "$installed" = "$best" ]; then
        package_state="patchwarden $installed already installed"
        say "$package_state"
    elif [ -n "$installed" ] && version_gt "$installed" "$best"; then
        package_state="patchwarden $installed kept (newer than the server's $best)"
        say "$package_state"
    else
        step="downloading $best_file"
        say "downloading $server/packages/$best_file"
        fetch "$server/packages/$best_file" "$tmp/$best_file" ||
            fail "cannot download $server/packages/$best_file"

        step="verifying $best_file"
        expected=$(awk -v f="$best_file" '{ n = $2; sub(/^\*/, "", n); if (n == f) { print $1; exit } }' "$tmp/SHA256SUMS")
        if ! (cd "$tmp" && printf '%s  %s\n' "$expected" "$best_file" | sha256sum -c - > /dev/null 2>&1); then
            actual=$(sha256sum "$tmp/$best_file" | awk '{ print $1 }')
            fail "checksum mismatch for $best_file: SHA256SUMS lists $expected, the download has $actual"
        fi

        step="installing $best_file"
        install_package "$tmp/$best_file"
        if [ -n "$installed" ]; then
            package_state="patchwarden $best installed (was $installed)"
        else
            package_state="patchwarden $best installed"
        fi
        changed=yes
    fi
    [ -f "$config" ] || fail "the package did not install $config"

    step="configuring $config"
    if [ -n "$ca_cert" ]; then
        if [ "$ca_cert" != /etc/patchwarden/ca.pem ] && ! cmp -s "$ca_cert" /etc/patchwarden/ca.pem; then
            cp "$ca_cert" /etc/patchwarden/ca.pem.tmp
            chmod 0644 /etc/patchwarden/ca.pem.tmp
            mv /etc/patchwarden/ca.pem.tmp /etc/patchwarden/ca.pem
            say "installed /etc/patchwarden/ca.pem"
            changed=yes
        fi
        set_config_key ca_cert /etc/patchwarden/ca.pem
    fi
    set_config_key server "$server"

    step="enrolling this host"
    if [ -e "$credential" ]; then
        enrollment="already enrolled"
        say "already enrolled; nothing to do for enrollment"
    else
        [ -n "$code" ] || fail "this host is not enrolled yet: pass --activation-code CODE"
        set -f
        set --
        old_ifs=$IFS
        IFS='
'
        for tag in $tags; do
            set -- "$@" --tag "$tag"
        done
        IFS=$old_ifs
        set +f
        say "enrolling with $server"
        # The code goes through the environment, not argv: `ps` shows argv to every user.
        PATCHWARDEN_ACTIVATION_CODE=$code /usr/bin/patchwarden agent enroll \
            --config "$config" --server "$server" "$@" ||
            fail "\`patchwarden agent enroll\` failed (see its message above); nothing else was changed by this step"
        enrollment="enrolled with $server"
        changed=yes
    fi

    step="starting $unit"
    if [ "$no_start" = yes ]; then
        service_state="not started (--no-start); start it with \`systemctl enable --now $unit\`"
    elif [ -d /run/systemd/system ]; then
        # Both are no-ops when the unit is already enabled and running.
        systemctl enable "$unit" || fail "\`systemctl enable $unit\` failed"
        systemctl start "$unit" ||
            fail "\`systemctl start $unit\` failed; see \`journalctl -u $unit\`"
        active=$(systemctl is-active "$unit" 2> /dev/null || :)
        service_state="$unit enabled and started${active:+ (now $active)}"
    else
        service_state="not started: this host does not run systemd; run \`/usr/bin/patchwarden agent run --config $config\` as root from its init system"
    fi

    step="done"
    echo
    echo "patchwarden: $package_state"
    echo "patchwarden: $enrollment"
    echo "patchwarden: $service_state"
    if [ -z "${changed:-}" ]; then
        echo "patchwarden: nothing was changed"
    fi
}

usage() {
    cat << 'USAGE'
usage: install.sh --activation-code CODE [--tag KEY=VALUE]... [--ca-cert FILE]
                  [--server URL] [--no-start]

Installs the patchwarden package from the Patchwarden server, enrolls this host with
it and starts the agent. Run as root.

  --activation-code CODE  from `patchwarden activation create`; not needed once enrolled
  --tag KEY=VALUE         a tag for this host (repeat); `Patch Group=...` picks its baseline
  --ca-cert FILE          PEM file to trust for the server; installed as /etc/patchwarden/ca.pem
  --server URL            the server's URL, if not the one this script was served from
  --no-start              install and enroll, but do not enable or start the agent
USAGE
}

say() {
    echo "patchwarden: $*"
}

# Reports the failed step once and exits non-zero.
fail() {
    echo "patchwarden install.sh: error while $step: $*" >&2
    reported=yes
    exit 1
}

on_exit() {
    status=$?
    if [ -n "$tmp" ]; then rm -rf "$tmp"; fi
    if [ "$status" -ne 0 ] && [ -z "$reported" ]; then
        echo "patchwarden install.sh: error while $step (exit status $status)" >&2
    fi
    exit "$status"
}

set_option() {
    case "$1" in
        --activation-code) code=$2 ;;
        --server) server=$2 ;;
        --ca-cert) ca_cert=$2 ;;
        --tag)
            case "$2" in
                *'
'*) fail "a tag cannot contain a newline" ;;
                *=*) ;;
                *) fail "a tag is KEY=VALUE: $2" ;;
            esac
            tags="$tags$2
"
            ;;
    esac
}

# fetch URL FILE: downloads with curl, else wget, trusting --ca-cert when given.
fetch() {
    if command -v curl > /dev/null 2>&1; then
        if [ -n "$ca_cert" ]; then
            curl -fsSL --retry 3 --cacert "$ca_cert" -o "$2" "$1"
        else
            curl -fsSL --retry 3 -o "$2" "$1"
        fi
    elif command -v wget > /dev/null 2>&1; then
        if [ -n "$ca_cert" ]; then
            wget -q --ca-certificate="$ca_cert" -O "$2" "$1"
        else
            wget -q -O "$2" "$1"
        fi
    else
        fail "neither curl nor wget is installed"
    fi
}

# The version in a package file name: deb VERSION, rpm VERSION-RELEASE.
file_version() {
    if [ "$family" = deb ]; then
        v=${1#patchwarden_}
        echo "${v%_"$arch".deb}"
    else
        v=${1#patchwarden-}
        echo "${v%."$arch".rpm}"
    fi
}

# version_gt A B: whether A is newer than B. dpkg compares exactly; for rpm, GNU sort -V
# on version then release is close enough for the versions Patchwarden publishes.
version_gt() {
    if [ "$family" = deb ]; then
        dpkg --compare-versions "$1" gt "$2"
    else
        [ "$1" != "$2" ] &&
            [ "$(printf '%s\n%s\n' "$1" "$2" | sort -t - -k1,1V -k2,2V | tail -n 1)" = "$1" ]
    fi
}

# The installed patchwarden version (deb VERSION, rpm VERSION-RELEASE), empty if none.
installed_version() {
    if [ "$family" = deb ]; then
        # shellcheck disable=SC2016 # ${...} are dpkg-query fields, not shell expansions
        status=$(dpkg-query -W -f='${Status}|${Version}' patchwarden 2> /dev/null || :)
        case "$status" in
            "install ok installed|"*) echo "${status#*|}" ;;
        esac
    elif rpm -q patchwarden > /dev/null 2>&1; then
        rpm -q --qf '%{VERSION}-%{RELEASE}\n' patchwarden | tail -n 1
    fi
}

install_package() {
    if [ "$family" = deb ]; then
        # The file's own version, not the name's, guards against a renamed file.
        [ "$(dpkg-deb -f "$1" Version)" = "$best" ] ||
            fail "$best_file holds version $(dpkg-deb -f "$1" Version), not $best"
        # Keep locally changed configuration without asking (there is no terminal), and
        # wait for a dpkg lock held by e.g. unattended-upgrades on a fresh cloud host.
        tries=0
        until DEBIAN_FRONTEND=noninteractive dpkg -i --force-confdef --force-confold "$1" > "$tmp/dpkg.log" 2>&1; do
            cat "$tmp/dpkg.log" >&2
            tries=$((tries + 1))
            if grep -q 'locked by another process' "$tmp/dpkg.log" && [ "$tries" -lt 30 ]; then
                say "the dpkg database is locked by another process; retrying in 10 seconds"
                sleep 10
            else
                fail "\`dpkg -i $best_file\` failed"
            fi
        done
        cat "$tmp/dpkg.log"
    else
        [ "$(rpm -qp --qf '%{VERSION}-%{RELEASE}' "$1" 2> /dev/null)" = "$best" ] ||
            fail "$best_file does not hold version $best"
        if command -v dnf > /dev/null 2>&1; then
            dnf -y install "$1" || fail "\`dnf install $best_file\` failed"
        elif command -v yum > /dev/null 2>&1; then
            yum -y install "$1" || fail "\`yum install $best_file\` failed"
        else
            rpm -Uvh "$1" || fail "\`rpm -Uvh $best_file\` failed"
        fi
    fi
}

# set_config_key KEY VALUE: makes agent.toml say KEY = "VALUE". Replaces the active line,
# else the commented-out default (`#KEY = ...`), else inserts it before the first table.
# The file is rewritten in place (same owner and mode) only if its text changes.
set_config_key() {
    escaped=$(printf '%s' "$2" | sed 's/\\/\\\\/g; s/"/\\"/g')
    if grep -q "^[ 	]*$1[ 	]*=" "$config"; then
        match="^[ \\t]*$1[ \\t]*="
    elif grep -q "^#[ 	]*$1[ 	]*=" "$config"; then
        match="^#[ \\t]*$1[ \\t]*="
    else
        match=
    fi
    PW_MATCH=$match PW_LINE="$1 = \"$escaped\"" awk '
        BEGIN { match_re = ENVIRON["PW_MATCH"]; line = ENVIRON["PW_LINE"]; done = 0 }
        !done && match_re != "" && $0 ~ match_re { print line; done = 1; next }
        !done && match_re == "" && $0 ~ /^[ \t]*\[/ { print line; print ""; done = 1 }
        { print }
        END { if (!done) print line }
    ' "$config" > "$tmp/agent.toml"
    if ! cmp -s "$tmp/agent.toml" "$config"; then
        cat "$tmp/agent.toml" > "$config"
        say "set $1 in $config"
        changed=yes
    fi
}

main "$@"
