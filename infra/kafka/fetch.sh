#!/usr/bin/env bash
# Fetch the Apache Kafka broker's runtime classpath from Maven Central into the local cache.
#
#   infra/kafka/fetch.sh            # prints the libs directory on stdout
#
# Result: ${LLMOPS_CACHE_DIR:-<repo>/.cache}/kafka/${KAFKA_VERSION}/libs/*.jar
#
# Idempotent: if libs/.complete exists nothing is done.
# Atomic: jars are copied into a temp dir next to libs/, the marker is written last, and the
# temp dir is renamed into place, so a killed fetch never leaves a half-populated libs/.
# Concurrent fetches are safe: the loser of the rename race discards its copy.
#
# Env:
#   LLMOPS_CACHE_DIR   cache root (default: <repo>/.cache)
#   KAFKA_VERSION      org.apache.kafka:kafka_2.13 version (default: 3.9.1, see docs/adr/0002)
#   MAVEN              maven executable (default: mvn)
#   MAVEN_ARGS_EXTRA   extra args for mvn, e.g. "-o" or "-Dmaven.repo.local=/some/where"
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
version="${KAFKA_VERSION:-3.9.1}"
cache="${LLMOPS_CACHE_DIR:-$repo/.cache}"
base="$cache/kafka/$version"
libs="$base/libs"
marker="$libs/.complete"

if [[ -f "$marker" ]]; then
  echo "$libs"
  exit 0
fi

mvn_bin="${MAVEN:-mvn}"
if ! command -v "$mvn_bin" >/dev/null 2>&1; then
  echo "fetch.sh: '$mvn_bin' not found; install Apache Maven (and a JDK >= 17)" >&2
  exit 2
fi

mkdir -p "$base"
tmp="$(mktemp -d "$base/libs.tmp.XXXXXX")"
cleanup() { rm -rf "$tmp"; }
trap cleanup EXIT

started=$(date +%s)
echo "fetch.sh: resolving org.apache.kafka:kafka_2.13:$version from Maven Central into $libs" >&2
# shellcheck disable=SC2086
"$mvn_bin" -q -B -Dstyle.color=never -f "$here/pom.xml" ${MAVEN_ARGS_EXTRA:-} \
  -Dkafka.version="$version" \
  dependency:copy-dependencies \
  -DincludeScope=runtime \
  -DoutputDirectory="$tmp" 2>&1 | sed -e 's/\x1b\[[0-9;]*m//g' -e '/^$/d' >&2

if ! compgen -G "$tmp/kafka_2.13-$version.jar" >/dev/null; then
  echo "fetch.sh: kafka_2.13-$version.jar missing after mvn; refusing to publish $libs" >&2
  exit 1
fi
printf 'kafka_version=%s\nfetched_at=%s\n' "$version" "$(date -u +%Y-%m-%dT%H:%M:%SZ)" >"$tmp/.complete"

# A libs/ without a marker is the leftover of a tool that did not do this dance: replace it.
if [[ -d "$libs" && ! -f "$marker" ]]; then
  rm -rf "$libs"
fi
if mv -T "$tmp" "$libs" 2>/dev/null; then
  trap - EXIT
else
  # Someone else published first (mv -T refuses a non-empty target); theirs is complete.
  [[ -f "$marker" ]] || { echo "fetch.sh: could not publish $libs" >&2; exit 1; }
fi
echo "fetch.sh: $(find "$libs" -name '*.jar' | wc -l) jars, $(du -sh "$libs" | cut -f1), $(( $(date +%s) - started ))s" >&2
echo "$libs"
