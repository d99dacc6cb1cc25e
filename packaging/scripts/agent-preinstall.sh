#!/bin/sh
# patchwarden package: before its files are unpacked (deb preinst, rpm %pre).
#
# One script for both formats: rpm passes a count ($1 = 1 install, 2 or more upgrade),
# dpkg passes a word (install, upgrade, abort-upgrade).
set -e

case "$1" in
    install)
        # dpkg passes the old version to `preinst install` only when the package was
        # removed earlier with its configuration kept (`dpkg -r`). Removing disabled the
        # unit, so postinst must treat this as a fresh install, not as an upgrade.
        if [ -n "$2" ]; then
            [ -d /var/lib/patchwarden-agent ] || mkdir -m 0700 /var/lib/patchwarden-agent
            : > /var/lib/patchwarden-agent/.package-reinstall
        fi
        ;;
esac
exit 0
