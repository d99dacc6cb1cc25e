#!/bin/sh
# patchwarden package: after its files are in place (deb postinst, rpm %post).
#
# One script for both formats: rpm passes a count ($1 = 1 install, 2 or more upgrade),
# dpkg passes `configure OLD-VERSION` (empty on a first install) or `abort-*`.
# Every systemctl call is guarded by /run/systemd/system, so installing into a chroot or a
# container without systemd changes nothing outside the file system.
set -e

unit=patchwarden-agent.service
credential=/var/lib/patchwarden-agent/credential.json
marker=/var/lib/patchwarden-agent/.package-reinstall

# systemctl failures are reported but do not fail the package transaction.
sc() {
    systemctl "$@" || echo "patchwarden: warning: \`systemctl $*\` failed" >&2
}

case "$1" in
    1) action=install ;;
    [0-9]*) action=upgrade ;;
    configure)
        if [ -z "$2" ] || [ -e "$marker" ]; then action=install; else action=upgrade; fi
        rm -f "$marker"
        ;;
    *) action=none ;; # abort-*: the prerm of an upgrade changed nothing to undo
esac

case "$action" in
    install)
        if [ -d /run/systemd/system ]; then
            sc daemon-reload
            sc enable "$unit"
            # Start only an enrolled agent: an agent without a credential exits at once.
            if [ -e "$credential" ]; then
                sc start "$unit"
            fi
        fi
        if [ ! -e "$credential" ]; then
            echo "patchwarden: enroll this host with \`patchwarden agent enroll --config /etc/patchwarden/agent.toml --server URL --activation-code CODE\`, then \`systemctl start $unit\`"
        fi
        ;;
    upgrade)
        if [ -d /run/systemd/system ]; then
            sc daemon-reload
            # --no-block: the running agent may itself be running this package transaction
            # (an upgrade command from the server). A blocking restart would wait for the
            # agent to stop, and the agent waits for this transaction to finish.
            sc try-restart --no-block "$unit"
        fi
        ;;
esac
exit 0
