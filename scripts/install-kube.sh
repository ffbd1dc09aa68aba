#!/usr/bin/env bash
# Builds the Kubernetes test cluster's binaries (etcd, kube-apiserver, kube-controller-manager, kube-proxy, CoreDNS)
# from the pinned wrapper modules in scripts/kube/ into a cache keyed by version, each only when missing (a cache made
# before a binary was added keeps what it has and gains the new one); prints the bin dir on stdout.
# Usage: install-kube.sh            build when missing, then print the bin dir
#        install-kube.sh --bin-dir  only print the bin dir (no build)
#        install-kube.sh --force    build even though a build failed less than 2 hours ago
# Exit 3: Go is not installed; exit 4: a recent build failed (both: callers skip their Kubernetes tests with the reason).
# A failed build leaves a marker with its log, so every test file of one run does not spend half an hour failing again.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
k8s_mod="$here/kube/k8s"
etcd_mod="$here/kube/etcd"
coredns_mod="$here/kube/coredns"
# The versions come from the committed go.mod files, so there is one place that pins them.
k8s_version="$(awk '$1 == "require" && $2 == "k8s.io/kubernetes" { print $3 }' "$k8s_mod/go.mod")"
etcd_version="$(awk '$1 == "require" && $2 == "go.etcd.io/etcd/server/v3" { print $3 }' "$etcd_mod/go.mod")"
coredns_version="$(awk '$1 == "require" && $2 == "github.com/coredns/coredns" { print $3 }' "$coredns_mod/go.mod")"
if [ -z "$k8s_version" ] || [ -z "$etcd_version" ] || [ -z "$coredns_version" ]; then
  echo "install-kube: cannot read the pinned versions from $k8s_mod/go.mod, $etcd_mod/go.mod and $coredns_mod/go.mod" >&2
  exit 2
fi
cache_root="${TRELLIS_CACHE:-$HOME/.cache/trellis}"
cache="$cache_root/kube/${k8s_version}_etcd-${etcd_version}"
bin="$cache/bin"
# CoreDNS has its own version, so its own cache; bin/coredns links to it (a new pin makes the link dangle: rebuilt).
coredns_bin="$cache_root/coredns/$coredns_version/bin/coredns"
if [ "${1:-}" = "--bin-dir" ]; then echo "$bin"; exit 0; fi
wanted=(etcd kube-apiserver kube-controller-manager kube-proxy coredns)
complete() {
  for b in "${wanted[@]}"; do [ -x "$bin/$b" ] || return 1; done
  [ "$(readlink "$bin/coredns")" = "$coredns_bin" ]
}
if complete; then echo "$bin"; exit 0; fi
failed="$cache/build-failed.log"
if [ "${1:-}" != "--force" ] && [ -n "$(find "$failed" -mmin -120 2>/dev/null)" ]; then
  echo "install-kube: the build failed at $(date -r "$failed" -u +%H:%M) UTC (log: $failed); run scripts/install-kube.sh --force to retry" >&2
  exit 4
fi
if ! command -v go >/dev/null; then
  echo "install-kube: go is not installed, so the Kubernetes test cluster cannot be built" >&2
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
minor="${k8s_version#v1.}"; minor="${minor%%.*}"
v="k8s.io/component-base/version"
cv="k8s.io/client-go/pkg/version"
ldflags="-s -w"
for pkg in "$v" "$cv"; do
  ldflags+=" -X $pkg.gitVersion=$k8s_version -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor -X $pkg.gitTreeState=clean"
  ldflags+=" -X $pkg.buildDate=1970-01-01T00:00:00Z"
done
mkdir -p "$bin"
if [ ! -x "$bin/etcd" ]; then
  echo "install-kube: building etcd $etcd_version into $bin (a cold build takes a while)" >&2
  (cd "$etcd_mod" && go build -trimpath -ldflags "-s -w" -o "$staging/etcd" .) >>"$log" 2>&1
  mv -f "$staging/etcd" "$bin/etcd"
fi
for cmd in kube-apiserver kube-controller-manager kube-proxy; do
  [ -x "$bin/$cmd" ] && continue
  echo "install-kube: building $cmd $k8s_version" >&2
  (cd "$k8s_mod" && go build -trimpath -ldflags "$ldflags" -o "$staging/$cmd" "k8s.io/kubernetes/cmd/$cmd") >>"$log" 2>&1
  mv -f "$staging/$cmd" "$bin/$cmd"
done
if [ ! -x "$coredns_bin" ]; then
  echo "install-kube: building coredns $coredns_version" >&2
  (cd "$coredns_mod" && go build -trimpath -ldflags "-s -w" -o "$staging/coredns" .) >>"$log" 2>&1
  mkdir -p "$(dirname "$coredns_bin")"
  mv -f "$staging/coredns" "$coredns_bin"
fi
ln -sfn "$coredns_bin" "$bin/coredns"
rm -f "$failed"
echo "install-kube: built in $((SECONDS - started)) s" >&2
echo "$bin"
