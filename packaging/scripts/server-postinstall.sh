#!/bin/sh
# patchwarden-server package: after its files are in place (deb postinst, rpm %post).
#
# One script for both formats: rpm passes a count ($1 = 1 install, 2 or more upgrade),
# dpkg passes `configure OLD-VERSION` (empty on a first install) or `abort-*`.
# Every systemctl call is guarded by /run/systemd/system (chroots, containers).
set -e

unit=patchwarden-server.service
marker=/var/lib/patchwarden/.package-reinstall

sc() {
    systemctl "$@" || echo "patchwarden-server: warning: \`systemctl $*\` failed" >&2
}

case "$1" in
    1) action=install ;;
    [0-9]*) action=upgrade ;;
    configure)
        if [ -z "$2" ] || [ -e "$marker" ]; then action=install; else action=upgrade; fi
        rm -f "$marker"
        ;;
    *) action=none ;;
esac

case "$action" in
    install)
        if [ -d /run/systemd/system ]; then
            sc daemon-reload
            sc enable "$unit"
        fi
        # Not started: the operator reviews server.toml (listen address, TLS) first.
        echo "patchwarden-server: edit /etc/patchwarden/server.toml, then \`systemctl start $unit\`"
        ;;
    upgrade)
        if [ -d /run/systemd/system ]; then
            sc daemon-reload
            # --no-block, as for the agent: never wait on a unit from inside a transaction.
            sc try-restart --no-block "$unit"
        fi
        ;;
esac
exit 0
