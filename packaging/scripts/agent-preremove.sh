#!/bin/sh
# patchwarden package: before its files are removed (deb prerm, rpm %preun).
#
# One script for both formats: rpm passes a count ($1 = 0 erase, 1 or more upgrade),
# dpkg passes a word (remove, upgrade, deconfigure, failed-upgrade). Only a removal
# stops and disables the agent; an upgrade restarts it from postinst.
set -e

unit=patchwarden-agent.service

sc() {
    systemctl "$@" || echo "patchwarden: warning: \`systemctl $*\` failed" >&2
}

case "$1" in
    0 | remove)
        if [ -d /run/systemd/system ]; then
            sc disable "$unit"
            # --no-block: the agent may be running this removal itself (a command from
            # the server); it stops once the transaction is over (KillMode=process).
            sc stop --no-block "$unit"
        fi
        ;;
esac
exit 0
