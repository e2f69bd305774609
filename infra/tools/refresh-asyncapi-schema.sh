#!/usr/bin/env bash
# Refresh infra/asyncapi/asyncapi-3.0.0.schema.json, the official AsyncAPI 3.0.0 JSON Schema that
# tests/contract/test_asyncapi.py validates docs/asyncapi.yaml against (ADR 0011), from the npm package
# @asyncapi/specs (Apache-2.0) pinned by infra/asyncapi/package-lock.json.
#
# Run it by hand after bumping the lock; commit the result. The schema is committed so that `make test` needs
# no Node.js: no PyPI package ships it. `npm ci` installs exactly what the lock names, checked against its
# integrity hashes, with no install scripts. Needs Node.js (npm) on PATH.
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
SOURCE_DIR="${REPO_ROOT}/infra/asyncapi"

if ! command -v npm >/dev/null 2>&1; then
    echo "refresh-asyncapi-schema.sh: npm (Node.js) is required to fetch @asyncapi/specs" >&2
    exit 1
fi

staging="$(mktemp -d)"
trap 'rm -rf "${staging}"' EXIT
cp "${SOURCE_DIR}/package.json" "${SOURCE_DIR}/package-lock.json" "${staging}/"
(cd "${staging}" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error)
cp "${staging}/node_modules/@asyncapi/specs/schemas/3.0.0.json" "${SOURCE_DIR}/asyncapi-3.0.0.schema.json"
echo "refreshed ${SOURCE_DIR}/asyncapi-3.0.0.schema.json from @asyncapi/specs $(
    sed -n 's/.*"version": "\([^"]*\)".*/\1/p' "${staging}/node_modules/@asyncapi/specs/package.json" | head -1)"
