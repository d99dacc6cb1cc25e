#!/bin/sh
# patchwarden package: after its files are removed (deb postrm, rpm %postun).
#
# One script for both formats: rpm passes a count ($1 = 0 erase, 1 or more upgrade),
# dpkg passes a word (remove, purge, upgrade, failed-upgrade, abort-*, disappear).
set -e

state=/var/lib/patchwarden-agent

case "$1" in
    0 | remove)
        if [ -d /run/systemd/system ]; then
            systemctl daemon-reload || :
        fi
        if [ -e "$state/credential.json" ]; then
            echo "patchwarden: kept $state (this host's enrollment credential); reinstalling the package resumes with it"
        fi
        ;;
    purge)
        # dpkg has already removed the conffiles (agent.toml and the defaults file) and
        # their .dpkg-* copies; remove what was written beside them: install.sh's CA file
        # and a leftover agent.toml (e.g. one recreated by hand).
        rm -f /etc/patchwarden/agent.toml /etc/patchwarden/ca.pem
        # Forget the enrollment: credential, operation journal, logs, caches.
        rm -rf "$state"
        # Still used by patchwarden-server if that is installed (then it is not empty).
        rmdir /etc/patchwarden 2>/dev/null || :
        ;;
esac
exit 0
