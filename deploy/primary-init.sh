#!/bin/bash
# Runs once, when the primary's data directory is created (docker-entrypoint-initdb.d): a replication role for
# the standby, allowed to stream over the compose network with a password.
set -euo pipefail
password="$(cat "${REPLICATION_PASSWORD_FILE:?}")"
psql -v ON_ERROR_STOP=1 -U "${POSTGRES_USER:-postgres}" -d postgres \
    -v password="$password" <<'SQL'
CREATE ROLE replicator WITH REPLICATION LOGIN PASSWORD :'password';
SQL
echo "host replication replicator all scram-sha-256" >> "$PGDATA/pg_hba.conf"
