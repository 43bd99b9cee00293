#!/bin/bash
# The standby: on first start, clone the primary with pg_basebackup -R (streaming replication, standby.signal
# and primary_conninfo written for us), then run the official image's entrypoint, which finds a data directory
# and starts PostgreSQL as a hot standby.
set -euo pipefail
export PGDATA="${PGDATA:-/var/lib/postgresql/data}"
if [ ! -s "$PGDATA/PG_VERSION" ]; then
    mkdir -p "$PGDATA" && chown postgres:postgres "$PGDATA" && chmod 700 "$PGDATA"
    passfile=/tmp/pgpass
    printf '%s:5432:replication:replicator:%s\n' "${PRIMARY_HOST:?}" "$(cat "${REPLICATION_PASSWORD_FILE:?}")" > "$passfile"
    chown postgres:postgres "$passfile" && chmod 600 "$passfile"
    until gosu postgres env PGPASSFILE="$passfile" pg_basebackup -h "$PRIMARY_HOST" -U replicator \
            -D "$PGDATA" -R -X stream -c fast; do
        echo "waiting for the primary to accept replication..." >&2
        rm -rf "${PGDATA:?}"/*
        sleep 2
    done
    rm -f "$passfile"
    # primary_conninfo needs the password at every reconnect: keep it in the data directory (mode 0600)
    printf '%s:5432:replication:replicator:%s\n' "$PRIMARY_HOST" "$(cat "$REPLICATION_PASSWORD_FILE")" > "$PGDATA/.pgpass"
    chown postgres:postgres "$PGDATA/.pgpass" && chmod 600 "$PGDATA/.pgpass"
    echo "primary_conninfo = 'host=$PRIMARY_HOST port=5432 user=replicator passfile=$PGDATA/.pgpass application_name=standby'" \
        >> "$PGDATA/postgresql.auto.conf"
fi
exec docker-entrypoint.sh "$@"
