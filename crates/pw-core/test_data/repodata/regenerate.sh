#!/usr/bin/env bash
# Regenerates the repository fixtures in this directory: tiny empty rpms built with
# rpmbuild, indexed with createrepo_c, updateinfo added with modifyrepo_c. The .rpm files
# are deleted afterwards; only metadata is kept. Needs rpmbuild, createrepo_c, modifyrepo_c.
# Run from anywhere: bash crates/pw-core/test_data/repodata/regenerate.sh
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

cat > "$work/pkg.spec" <<'SPEC'
Name: %{pname}
Version: %{pver}
Release: %{prel}
Epoch: %{pepoch}
Summary: Fixture package %{pname}
License: MIT
BuildArch: %{parch}
%{?preq:Requires: %{preq}}
%{?pprov:Provides: %{pprov}}
%description
Fixture package %{pname} & friends <for tests>.
%files
SPEC

# build OUTDIR NAME EPOCH VERSION RELEASE ARCH [REQUIRES] [PROVIDES]
build() {
  local out="$1" name="$2" epoch="$3" version="$4" release="$5" arch="$6" requires="${7:-}" provides="${8:-}"
  local args=(--define "_topdir $work/top" --define "pname $name" --define "pver $version"
    --define "prel $release" --define "pepoch $epoch" --define "parch $arch"
    --define "_build_id_links none")
  [[ -n "$requires" ]] && args+=(--define "preq $requires")
  [[ -n "$provides" ]] && args+=(--define "pprov $provides")
  rpmbuild "${args[@]}" --target "$arch" -bb "$work/pkg.spec" >/dev/null 2>&1
  mkdir -p "$out/Packages"
  find "$work/top/RPMS" -name '*.rpm' -exec mv {} "$out/Packages/" \;
}

finish() {
  local out="$1" updateinfo="$2" compress="$3"
  shift 3
  createrepo_c --quiet --simple-md-filenames --revision 1700000000 --set-timestamp-to-revision "$@" "$out" >/dev/null
  modifyrepo_c --simple-md-filenames --mdtype updateinfo --compress-type "$compress" "$updateinfo" "$out/repodata" >/dev/null
  rm -rf "$out/Packages"
}

# Amazon Linux 2 style: primary only as sqlite (primary_db), bzip2-compressed.
out="$work/al2"
build "$out" kernel 0 4.14.355 1.amzn2 x86_64 "/bin/sh, dracut >= 033"
build "$out" kernel 0 4.14.355 2.amzn2 x86_64 "/bin/sh, dracut >= 033"
build "$out" openssl-libs 1 1.0.2k 24.amzn2.0.1 x86_64 "" "libssl.so.10()(64bit), libcrypto.so.10()(64bit)"
build "$out" bash 0 4.2.46 34.amzn2 x86_64 "libtinfo.so.5()(64bit)"
build "$out" tzdata 0 2023c 1.amzn2.0.1 noarch
finish "$out" "$here/sources/al2/updateinfo.xml" gz --database --compress-type bz2
# Keep the XML twin of primary_db (outside repodata/) for the xml-vs-sqlite equivalence test.
cp "$out"/repodata/primary.xml.gz "$work/al2-primary.xml.gz"
for kind in primary filelists other; do modifyrepo_c --remove "$kind" "$out/repodata" >/dev/null; done

# Amazon Linux 2023 style: primary.xml.gz, no sqlite.
out="$work/al2023"
build "$out" curl 0 8.0.1 1.amzn2023 x86_64 "libcurl(x86-64) = 8.0.1-1.amzn2023"
build "$out" libcurl 0 8.0.1 1.amzn2023 x86_64
build "$out" glibc 0 2.34 52.amzn2023.0.2 x86_64
build "$out" python3 0 3.9.16 1.amzn2023.0.3 x86_64 "python3-libs(x86-64) = 3.9.16-1.amzn2023.0.3"
finish "$out" "$here/sources/al2023/updateinfo.xml" gz --no-database --general-compress-type gz

# RHEL 8 style: modular packages, several collections per advisory, xz compression.
out="$work/rhel8"
build "$out" nodejs 1 14.17.0 1.module+el8.4.0+11087+fd0da4b3 x86_64 "openssl-libs >= 1:1.1.1"
build "$out" nodejs 1 16.4.1 1.module+el8.4.0+11563+e3b8a8f5 x86_64 "openssl-libs >= 1:1.1.1"
build "$out" sudo 0 1.8.29 7.el8_4.1 x86_64 "pam"
build "$out" kernel 0 4.18.0 305.7.1.el8_4 x86_64
finish "$out" "$here/sources/rhel8/updateinfo.xml" xz --no-database --general-compress-type xz

for fixture in al2 al2023 rhel8; do
  rm -rf "${here:?}/$fixture"
  mkdir -p "$here/$fixture"
  cp -r "$work/$fixture/repodata" "$here/$fixture/"
done
cp "$work/al2-primary.xml.gz" "$here/al2/primary.xml.gz"
echo "fixtures written to $here"
