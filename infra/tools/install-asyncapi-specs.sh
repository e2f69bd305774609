#!/usr/bin/env bash
# Install the official AsyncAPI JSON Schemas (npm @asyncapi/specs, pinned by infra/asyncapi/package-lock.json)
# into <repo>/.cache/asyncapi-specs, where tests/contract/test_asyncapi.py reads schemas/3.0.0.json to validate
# docs/asyncapi.yaml (ADR 0011: no PyPI package ships these schemas).
#
# `npm ci` installs exactly what the lock names, checked against its integrity hashes, with no install scripts.
# Needs Node.js (npm) on PATH. Idempotent: does nothing when the cache already holds the locked install.
# About 2 s with a warm npm cache.
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
SOURCE_DIR="${REPO_ROOT}/infra/asyncapi"
TARGET_DIR="${LLMOPS_CACHE_DIR:-${REPO_ROOT}/.cache}/asyncapi-specs"
SCHEMA="${TARGET_DIR}/node_modules/@asyncapi/specs/schemas/3.0.0.json"

if [[ -f "${SCHEMA}" ]] && cmp -s "${SOURCE_DIR}/package-lock.json" "${TARGET_DIR}/package-lock.json"; then
    echo "@asyncapi/specs already installed in ${TARGET_DIR}"
    exit 0
fi

if ! command -v npm >/dev/null 2>&1; then
    echo "install-asyncapi-specs.sh: npm (Node.js) is required to install @asyncapi/specs" >&2
    exit 1
fi

# A fresh directory each time: a half-finished install never passes for a complete one.
mkdir -p "$(dirname "${TARGET_DIR}")"
staging="$(mktemp -d "$(dirname "${TARGET_DIR}")/.asyncapi-specs-staging.XXXXXX")"
trap 'rm -rf "${staging}"' EXIT
cp "${SOURCE_DIR}/package.json" "${SOURCE_DIR}/package-lock.json" "${staging}/"
(cd "${staging}" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error)
rm -rf "${TARGET_DIR}"
mv "${staging}" "${TARGET_DIR}"
trap - EXIT
echo "installed @asyncapi/specs into ${TARGET_DIR}"
