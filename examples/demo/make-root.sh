#!/usr/bin/env bash
# Builds a small Amazon Linux 2-shaped node to try Patchwarden on one machine, without
# touching the host's packages: four packages built with rpmbuild, a local rpm-md repository
# with an updateinfo (createrepo_c, modifyrepo_c), and an installroot with the old versions
# installed (rpm --root) and a dnf configuration that sees only that repository.
#
# Release dates are relative to today, so strategy 2 shows its point at once: STG (1 day)
# approves both security updates, PRD (31 days) only the 45-day-old one.
#
#   package      installed   update   advisory (type, severity, released)
#   demo-ssl     1.0-1       1.1-1    DEMO-0001 (security, Important, 45 days ago)
#   demo-curl    1.0-1       1.1-1    DEMO-0002 (security, Critical, 10 days ago)
#   demo-bash    1.0-1       1.1-1    DEMO-0003 (bugfix, 3 days ago)
#   demo-tzdata  1.0-1       1.1-1    none (non-security: never approved by strategy 2)
#
# Usage (as root; needs rpm, dnf and createrepo-c: `.ci/deps` installs them):
#   examples/demo/make-root.sh DIR [HOSTNAME]      (HOSTNAME default: demo-node)
# then run an agent on DIR/root (see README.md, "Walk-through").
set -euo pipefail

dir=${1:?usage: make-root.sh DIR [HOSTNAME]}
hostname=${2:-demo-node}
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
if [[ -e $dir/root ]]; then
    echo "make-root.sh: $dir/root exists already; remove $dir first" >&2
    exit 2
fi
for tool in rpmbuild rpm createrepo_c modifyrepo_c dnf; do
    command -v "$tool" >/dev/null || { echo "make-root.sh: $tool not found (run .ci/deps)" >&2; exit 1; }
done

top=$dir/rpmbuild
mkdir -p "$top/SPECS" "$dir/repo" "$dir/root/etc/dnf" "$dir/root/etc/yum.repos.d"

# build NAME VERSION DAYS_AGO: one noarch package holding one file.
build() {
    local name=$1 version=$2 days=$3 spec
    spec=$top/SPECS/$name-$version.spec
    cat >"$spec" <<SPEC
Name: $name
Version: $version
Release: 1
Summary: Patchwarden demo package $name
License: Apache-2.0
BuildArch: noarch

%description
A package built by examples/demo/make-root.sh.

%install
mkdir -p %{buildroot}/usr/share/pw-demo/$name
echo $version > %{buildroot}/usr/share/pw-demo/$name/version

%files
/usr/share/pw-demo/$name/version
SPEC
    SOURCE_DATE_EPOCH=$(date -u -d "$days days ago" +%s) rpmbuild -bb --quiet \
        --define "_topdir $top" \
        --define "use_source_date_epoch_as_buildtime 1" \
        --define "__os_install_post %{nil}" "$spec"
    cp "$top/RPMS/noarch/$name-$version-1.noarch.rpm" "$dir/repo/"
}

for name in demo-ssl demo-curl demo-bash demo-tzdata; do
    build "$name" 1.0 90
done
build demo-ssl 1.1 45
build demo-curl 1.1 10
build demo-bash 1.1 3
build demo-tzdata 1.1 20

day() { date -u -d "$1 days ago" '+%Y-%m-%d %H:%M:%S'; }
# advisory ID TYPE SEVERITY DAYS_AGO PACKAGE
advisory() {
    cat <<XML
  <update from="demo@example.invalid" status="final" type="$2" version="2.0">
    <id>$1</id>
    <title>$5 update</title>
    $( [[ -n $3 ]] && echo "<severity>$3</severity>" )
    <issued date="$(day "$4")"/>
    <references/>
    <pkglist><collection short="demo"><name>demo</name>
      <package name="$5" version="1.1" release="1" epoch="0" arch="noarch" src="$5-1.1-1.src.rpm">
        <filename>$5-1.1-1.noarch.rpm</filename>
      </package>
    </collection></pkglist>
  </update>
XML
}
{
    echo '<?xml version="1.0" encoding="UTF-8"?>'
    echo '<updates>'
    advisory DEMO-0001 security Important 45 demo-ssl
    advisory DEMO-0002 security Critical 10 demo-curl
    advisory DEMO-0003 bugfix "" 3 demo-bash
    echo '</updates>'
} >"$top/updateinfo.xml"
createrepo_c --quiet --no-database "$dir/repo"
modifyrepo_c --mdtype=updateinfo "$top/updateinfo.xml" "$dir/repo/repodata" >/dev/null

cat >"$dir/root/etc/dnf/dnf.conf" <<CONF
[main]
gpgcheck=0
best=True
skip_if_unavailable=False
CONF
cat >"$dir/root/etc/yum.repos.d/demo.repo" <<REPO
[demo]
name=Patchwarden demo repository
baseurl=file://$dir/repo
enabled=1
gpgcheck=0
REPO
echo "$hostname" >"$dir/root/etc/hostname"
rpm --root "$dir/root" --initdb
rpm --root "$dir/root" -U "$dir"/repo/demo-*-1.0-1.noarch.rpm
rm -rf "$top"

cat <<DONE
Demo node $hostname ready: $dir/root (Amazon Linux 2-shaped; repository $dir/repo).
Run an agent on it:
  patchwarden agent run --root $dir/root --state-dir $dir/state \\
      --os AMAZON_LINUX_2 --product AmazonLinux2 --package-manager dnf --releasever 2 \\
      --reboot-command true --server URL --activation-code CODE
DONE
