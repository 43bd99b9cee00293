# syntax=docker/dockerfile:1
# Multi-stage: build the virtualenv and the npm assets, then copy them into a slim runtime as a non-root user.
# The runtime talks to PostGIS through GEO_SERVICE_DATABASE_URL (see docker-compose.yml).

FROM python:3.11-slim-bookworm AS python-build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN apt-get update && apt-get install -y --no-install-recommends build-essential && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY pyproject.toml README.md ./
COPY geo_service ./geo_service
RUN python -m venv /opt/venv && /opt/venv/bin/pip install --upgrade pip && /opt/venv/bin/pip install .
# compile every numba kernel into the image (walking engine, polygon clipping; cache next to the installed sources)
RUN /opt/venv/bin/python -m geo_service.warm

FROM node:20-bookworm-slim AS web-build
WORKDIR /web
COPY web/package.json web/package-lock.json ./
RUN npm ci --no-audit --no-fund --loglevel=error

FROM python:3.11-slim-bookworm AS runtime
RUN apt-get update \
    && apt-get install -y --no-install-recommends fonts-noto-cjk \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --create-home --uid 10001 geo
COPY --from=python-build /opt/venv /opt/venv
COPY --from=web-build /web/node_modules /app/web/node_modules
COPY layers /app/layers
COPY tiles /app/tiles
WORKDIR /app
ENV PATH=/opt/venv/bin:$PATH \
    GEO_SERVICE_API_HOST=0.0.0.0 \
    GEO_SERVICE_API_PORT=8000 \
    GEO_SERVICE_API_WEB_ASSETS=/app/web/node_modules \
    MPLCONFIGDIR=/tmp/matplotlib
USER geo
EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=5 \
    CMD python -c "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/readyz', timeout=4).status == 200 else 1)"
CMD ["geo-service", "serve"]
