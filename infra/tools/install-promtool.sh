#!/usr/bin/env bash
# Build promtool (Prometheus's rule checker) from source through the Go module proxy into
# <repo>/.cache/bin/promtool, as install-helm.sh builds helm (registries only, no release downloads).
#
# `go install module@version` refuses the prometheus module (its go.mod has replace directives), so the
# pinned module is downloaded into Go's module cache (checksums from the proxy's checksum database) and
# promtool is built inside it, as the main module, with its own go.sum.
#
# Idempotent: does nothing if .cache/bin/promtool already reports the pinned version.
# Set PROMTOOL_FORCE_REBUILD=1 to rebuild anyway.
#
# Measured on the shared 2-core dev machine, busy (load average 13-18), prometheus v0.55.1, go1.26.8:
#   empty module cache for prometheus's dependencies: ~21 min (mostly downloading and compiling ~700 packages)
#   Go's module and build caches warm:                ~17 s
#   .cache/bin/promtool already there:                <1 s
set -euo pipefail

PROMETHEUS_MODULE_VERSION="${PROMETHEUS_MODULE_VERSION:-v0.55.1}"

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
BIN_DIR="${REPO_ROOT}/.cache/bin"
PROMTOOL_BIN="${BIN_DIR}/promtool"
WANT="${PROMETHEUS_MODULE_VERSION#v0.}"   # module v0.55.1 is Prometheus 2.55.1
WANT="2.${WANT}"

if [[ -x "${PROMTOOL_BIN}" && "${PROMTOOL_FORCE_REBUILD:-0}" != "1" ]]; then
    if [[ -f "${PROMTOOL_BIN}.version" && "$(cat "${PROMTOOL_BIN}.version")" == "${WANT}" ]]; then
        echo "promtool ${WANT} already at ${PROMTOOL_BIN}"
        exit 0
    fi
    echo "promtool at ${PROMTOOL_BIN} is not ${WANT}; rebuilding"
fi

if ! command -v go >/dev/null 2>&1; then
    echo "install-promtool.sh: the Go toolchain is required (go not found on PATH)" >&2
    exit 1
fi

mkdir -p "${BIN_DIR}"
echo "building promtool ${WANT} with $(go version) into ${BIN_DIR} ..."
start=$(date +%s)
dir="$(go mod download -json "github.com/prometheus/prometheus@${PROMETHEUS_MODULE_VERSION}" \
    | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p')"
if [[ -z "${dir}" ]]; then
    echo "install-promtool.sh: could not download github.com/prometheus/prometheus@${PROMETHEUS_MODULE_VERSION}" >&2
    exit 1
fi
# CGO off: a static binary. -trimpath: reproducible paths. The version is stamped as Prometheus's Makefile does.
ldflags="-s -w -X github.com/prometheus/common/version.Version=${WANT}"
(cd "${dir}" && CGO_ENABLED=0 go build -trimpath -ldflags "${ldflags}" -o "${PROMTOOL_BIN}.tmp" ./cmd/promtool)
mv "${PROMTOOL_BIN}.tmp" "${PROMTOOL_BIN}"
echo "${WANT}" > "${PROMTOOL_BIN}.version"
end=$(date +%s)
echo "built promtool ${WANT} in $((end - start))s"
