#!/usr/bin/env bash
# Builds the helm CLI from the pinned wrapper module in scripts/helm/ into a cache keyed by version, only when missing;
# prints the binary's path on stdout.
# Usage: install-helm.sh          build when missing, then print the binary's path
#        install-helm.sh --path   only print the path (no build)
#        install-helm.sh --force  build even though a build failed less than 2 hours ago
# Exit 3: Go is not installed; exit 4: a recent build failed (both: callers skip their Helm tests with the reason).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
mod="$here/helm"
# The version comes from the committed go.mod, so there is one place that pins it.
version="$(awk '($1 == "require" && $2 == "helm.sh/helm/v4") { print $3 } ($1 == "helm.sh/helm/v4") { print $2 }' "$mod/go.mod" | head -1)"
if [ -z "$version" ]; then
  echo "install-helm: cannot read the pinned helm.sh/helm/v4 version from $mod/go.mod" >&2
  exit 2
fi
cache="${TRELLIS_CACHE:-$HOME/.cache/trellis}/helm/$version"
bin="$cache/helm"
if [ "${1:-}" = "--path" ]; then echo "$bin"; exit 0; fi
if [ -x "$bin" ]; then echo "$bin"; exit 0; fi
failed="$cache/build-failed.log"
if [ "${1:-}" != "--force" ] && [ -n "$(find "$failed" -mmin -120 2>/dev/null)" ]; then
  echo "install-helm: the build failed at $(date -r "$failed" -u +%H:%M) UTC (log: $failed); run scripts/install-helm.sh --force to retry" >&2
  exit 4
fi
if ! command -v go >/dev/null; then
  echo "install-helm: go is not installed, so helm cannot be built" >&2
  exit 3
fi
mkdir -p "$cache"
# One build at a time: test files that start together wait here for the first one's build.
exec 9>"$cache/.lock"
flock 9
if [ -x "$bin" ]; then echo "$bin"; exit 0; fi
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
# helm's Makefile sets these for a tagged release build (`helm version` prints them).
v="helm.sh/helm/v4/internal/version"
ldflags="-s -w -X $v.version=$version -X $v.metadata= -X $v.gitCommit= -X $v.gitTreeState=clean"
echo "install-helm: building helm $version into $cache" >&2
(cd "$mod" && go build -trimpath -ldflags "$ldflags" -o "$staging/helm" .) >>"$log" 2>&1
mv -f "$staging/helm" "$bin"
rm -f "$failed"
echo "install-helm: built in $((SECONDS - started)) s" >&2
echo "$bin"
