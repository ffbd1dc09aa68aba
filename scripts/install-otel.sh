#!/usr/bin/env bash
# Builds Jaeger v2 and an OpenTelemetry Collector (OTLP receiver, batch processor, OTLP/OTLP-HTTP/debug exporters) from
# the pinned modules in scripts/otel/ into a cache keyed by version, only when missing; prints the bin dir on stdout.
# Usage: install-otel.sh            build when missing, then print the bin dir
#        install-otel.sh --bin-dir  only print the bin dir (no build)
#        install-otel.sh --force    build even though a build failed less than 2 hours ago
# Exit 3: Go is not installed; exit 4: a recent build failed (both: callers skip their tests with the reason).
# A failed build leaves a marker with its log, so every test file of one run does not spend minutes failing again.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
jaeger_mod="$here/otel/jaeger"
collector_mod="$here/otel/collector"
# The versions come from the committed go.mod files, so there is one place that pins them.
jaeger_version="$(awk '$1 == "github.com/jaegertracing/jaeger" { print $2 }' "$jaeger_mod/go.mod")"
collector_version="$(awk '$1 == "go.opentelemetry.io/collector/otelcol" { print $2 }' "$collector_mod/go.mod")"
if [ -z "$jaeger_version" ] || [ -z "$collector_version" ]; then
  echo "install-otel: cannot read the pinned versions from $jaeger_mod/go.mod and $collector_mod/go.mod" >&2
  exit 2
fi
# The Collector is assembled by our own main.go: a change to it (or its modules) is a new build, so its hash is in the key.
collector_rev="$(cat "$collector_mod/main.go" "$collector_mod/go.sum" | sha256sum | cut -c1-8)"
cache="${TRELLIS_CACHE:-$HOME/.cache/trellis}/otel/jaeger-${jaeger_version}_otelcol-${collector_version}-${collector_rev}"
bin="$cache/bin"
if [ "${1:-}" = "--bin-dir" ]; then echo "$bin"; exit 0; fi
wanted=(jaeger otelcol)
complete() { for b in "${wanted[@]}"; do [ -x "$bin/$b" ] || return 1; done; }
if complete; then echo "$bin"; exit 0; fi
failed="$cache/build-failed.log"
if [ "${1:-}" != "--force" ] && [ -n "$(find "$failed" -mmin -120 2>/dev/null)" ]; then
  echo "install-otel: the build failed at $(date -r "$failed" -u +%H:%M) UTC (log: $failed); run scripts/install-otel.sh --force to retry" >&2
  exit 4
fi
if ! command -v go >/dev/null; then
  echo "install-otel: go is not installed, so Jaeger and the OpenTelemetry Collector cannot be built" >&2
  exit 3
fi
mkdir -p "$cache"
# One build at a time: test files that start together wait here for the first one's build.
exec 9>"$cache/.lock"
flock 9
if complete; then echo "$bin"; exit 0; fi
export CGO_ENABLED=0 GOTOOLCHAIN=local GOFLAGS=-mod=readonly
staging="$(mktemp -d "$cache/.build.XXXXXX")"
log="$staging/build.log"
on_exit() {
  local rc=$?
  if [ $rc -ne 0 ] && [ -f "$log" ]; then cp "$log" "$failed"; tail -20 "$log" >&2; fi
  rm -rf "$staging"
}
trap on_exit EXIT
started=$SECONDS
mkdir -p "$bin"
# Each binary moves into place as soon as it is built: a later failure does not cost the earlier (long) build.
if [ ! -x "$bin/jaeger" ]; then
  echo "install-otel: building Jaeger $jaeger_version into $bin (a cold build takes several minutes)" >&2
  (cd "$jaeger_mod" && go build -trimpath -ldflags "-s -w" -o "$staging/jaeger" github.com/jaegertracing/jaeger/cmd/jaeger) >>"$log" 2>&1
  mv -f "$staging/jaeger" "$bin/jaeger"
fi
if [ ! -x "$bin/otelcol" ]; then
  echo "install-otel: building the OpenTelemetry Collector $collector_version" >&2
  (cd "$collector_mod" && go build -trimpath -ldflags "-s -w" -o "$staging/otelcol" .) >>"$log" 2>&1
  mv -f "$staging/otelcol" "$bin/otelcol"
fi
rm -f "$failed"
echo "install-otel: built in $((SECONDS - started)) s" >&2
echo "$bin"
