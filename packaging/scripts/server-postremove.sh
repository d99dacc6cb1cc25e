#!/bin/sh
# patchwarden-server package: after its files are removed (deb postrm, rpm %postun).
#
# One script for both formats: rpm passes a count ($1 = 0 erase, 1 or more upgrade),
# dpkg a word (remove, purge, upgrade, failed-upgrade, abort-*, disappear).
set -e

data=/var/lib/patchwarden

case "$1" in
    0 | remove)
        if [ -d /run/systemd/system ]; then
            systemctl daemon-reload || :
        fi
        if [ -d "$data" ]; then
            echo "patchwarden-server: kept $data (the database and served packages)"
        fi
        ;;
    purge)
        # dpkg has already removed the conffiles (server.toml, the defaults file).
        rm -f /etc/patchwarden/server.toml
        # The database, and the packages served to install.sh.
        rm -rf "$data"
        # TLS keys were put there by the operator: kept, unless the directory is empty.
        rmdir /etc/patchwarden/tls 2>/dev/null || :
        rmdir /etc/patchwarden 2>/dev/null || :
        # The patchwarden user and group are kept: files elsewhere (another file system,
        # a backup, a PostgreSQL socket directory) may still be owned by them, and a
        # reused uid would hand those files to whatever account gets it next.
        ;;
esac
exit 0
