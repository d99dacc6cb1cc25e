#!/bin/sh
# patchwarden-server package: before its files are removed (deb prerm, rpm %preun).
#
# One script for both formats: rpm passes a count ($1 = 0 erase, 1 or more upgrade),
# dpkg a word (remove, upgrade, deconfigure, failed-upgrade). Only a removal stops and
# disables the server.
set -e

unit=patchwarden-server.service

sc() {
    systemctl "$@" || echo "patchwarden-server: warning: \`systemctl $*\` failed" >&2
}

case "$1" in
    0 | remove)
        if [ -d /run/systemd/system ]; then
            sc disable "$unit"
            sc stop "$unit"
        fi
        ;;
esac
exit 0
