#!/bin/bash
# Bring up deploy/docker-compose.scale.yml (primary + standby PostGIS, N app replicas behind nginx, a Dask
# scheduler and workers) and check it; tear it down afterwards (KEEP=1 leaves it running).
#
#   deploy/smoke.sh            # APP_REPLICAS=3 DASK_WORKERS=2 by default
#
# Where there is no Docker daemon it says so and exits 0 without checking anything.
set -euo pipefail
cd "$(dirname "$0")/.."
APP_REPLICAS="${APP_REPLICAS:-3}"
DASK_WORKERS="${DASK_WORKERS:-2}"
LB="http://127.0.0.1:8080"

if ! command -v docker >/dev/null 2>&1 || ! docker info >/dev/null 2>&1; then
    echo "SKIP: no Docker daemon here (docker info failed); the scaled deployment was not checked."
    exit 0
fi
if docker compose version >/dev/null 2>&1; then compose=(docker compose); else compose=(docker-compose); fi
compose+=(-f deploy/docker-compose.scale.yml -p geo-service-scale)
fail() { echo "FAIL: $*" >&2; "${compose[@]}" logs --tail=80 >&2 || true; exit 1; }
cleanup() { [ "${KEEP:-0}" = 1 ] || "${compose[@]}" --profile batch down -v --remove-orphans >/dev/null 2>&1 || true; }
trap cleanup EXIT

make -s secrets
mkdir -p data
echo "== up: $APP_REPLICAS app replicas, $DASK_WORKERS Dask workers"
"${compose[@]}" up -d --build --scale app="$APP_REPLICAS" --scale dask-worker="$DASK_WORKERS"

echo "== the load balancer answers /readyz"
for _ in $(seq 1 120); do
    [ "$(curl -s -o /dev/null -w '%{http_code}' "$LB/readyz")" = 200 ] && break
    sleep 2
done
[ "$(curl -s -o /dev/null -w '%{http_code}' "$LB/readyz")" = 200 ] || fail "$LB/readyz is not 200"

echo "== every app replica is up"
running=$("${compose[@]}" ps -q app | wc -l)
[ "$running" -eq "$APP_REPLICAS" ] || fail "$running app containers, expected $APP_REPLICAS"

echo "== the standby streams from the primary and refuses writes"
psql_on() { "${compose[@]}" exec -T "$1" psql -U postgres -d geo_service -tAc "$2"; }
[ "$(psql_on standby 'SELECT pg_is_in_recovery()')" = t ] || fail "standby is not in recovery"
[ "$(psql_on primary "SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming'")" -ge 1 ] \
    || fail "no streaming replica on the primary"
psql_on standby 'CREATE TABLE smoke_write (x int)' 2>/dev/null && fail "standby accepted a write"

echo "== a write through the primary is replayed by the standby"
marker="smoke-$(date +%s)"
psql_on primary "CREATE TABLE IF NOT EXISTS smoke_marks (mark text); INSERT INTO smoke_marks VALUES ('$marker')" >/dev/null
for _ in $(seq 1 30); do
    [ "$(psql_on standby "SELECT count(*) FROM smoke_marks WHERE mark = '$marker'" 2>/dev/null)" = 1 ] && break
    sleep 1
done
[ "$(psql_on standby "SELECT count(*) FROM smoke_marks WHERE mark = '$marker'")" = 1 ] || fail "standby did not replay"
psql_on primary "DROP TABLE smoke_marks" >/dev/null

echo "== requests through the load balancer reach several replicas"
for _ in $(seq 1 60); do curl -s -o /dev/null "$LB/api/locate?lon=116.397&lat=39.909"; done
served=0
for id in $("${compose[@]}" ps -q app); do
    docker logs "$id" 2>&1 | grep -q 'GET /api/locate' && served=$((served + 1))
done
[ "$served" -ge 2 ] || [ "$APP_REPLICAS" -lt 2 ] || fail "only $served replica(s) served locate requests"

echo "== a batch job on the Dask cluster"
printf 'id,lon,lat\n1,116.397,39.909\n2,116.40,39.91\n3,nan,39.9\n' > data/smoke-points.csv
rm -rf data/smoke-located
"${compose[@]}" --profile batch run --rm batch geo-service batch locate /data/smoke-points.csv \
    /data/smoke-located --scheduler tcp://dask-scheduler:8786 || fail "batch locate failed"
ls data/smoke-located/*.parquet >/dev/null 2>&1 || fail "batch locate wrote nothing"
rm -rf data/smoke-located data/smoke-points.csv

echo "OK: primary + streaming standby, $APP_REPLICAS app replicas behind nginx, Dask scheduler + $DASK_WORKERS workers"
