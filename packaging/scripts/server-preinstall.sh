#!/bin/sh
# patchwarden-server package: before its files are unpacked (deb preinst, rpm %pre).
#
# Creates the `patchwarden` system user and group the server runs as; the package's
# directories are owned by them, so they must exist before unpacking. Idempotent.
# One script for both formats: rpm passes a count, dpkg a word (install, upgrade,
# abort-upgrade).
set -e

case "$1" in
    abort-upgrade) exit 0 ;;
    install)
        # dpkg passes the old version to `preinst install` only when the package was
        # removed earlier with its configuration kept (`dpkg -r`), which disabled the
        # unit: postinst must treat this as a fresh install, not as an upgrade.
        if [ -n "$2" ]; then
            [ -d /var/lib/patchwarden ] || mkdir -m 0750 /var/lib/patchwarden
            : > /var/lib/patchwarden/.package-reinstall
        fi
        ;;
esac

user=patchwarden
home=/var/lib/patchwarden

shell=/bin/false
for candidate in /usr/sbin/nologin /sbin/nologin; do
    if [ -x "$candidate" ]; then
        shell=$candidate
        break
    fi
done

# Debian's adduser knows --system; on rpm systems `adduser` is another name for useradd,
# so it is used only when dpkg runs this script ($1 is a word).
use_adduser=no
case "$1" in
    [0-9]*) ;;
    *) if command -v adduser > /dev/null 2>&1; then use_adduser=yes; fi ;;
esac

if ! getent group "$user" > /dev/null 2>&1; then
    if [ "$use_adduser" = yes ]; then
        addgroup --system --quiet "$user"
    else
        groupadd -r "$user"
    fi
fi

if ! getent passwd "$user" > /dev/null 2>&1; then
    if [ "$use_adduser" = yes ]; then
        # The home directory is created by the package right after this script.
        adduser --system --quiet --ingroup "$user" --home "$home" --no-create-home \
            --shell "$shell" "$user"
    else
        useradd -r -g "$user" -d "$home" -M -s "$shell" -c "Patchwarden server" "$user"
    fi
fi
exit 0
