#!/usr/bin/env bash
# Installs what the tests and transparent mode need from Debian's packages, as root, only when missing:
# iptables (interception rules), iproute2 (network namespaces), util-linux's setpriv (dropping to the proxy uid),
# Chromium (the console's browser tests, driven by playwright-core), Prometheus (the compatibility test of the
# telemetry queries).
set -euo pipefail
missing=()
command -v iptables >/dev/null || missing+=(iptables)
command -v ip >/dev/null || missing+=(iproute2)
command -v setpriv >/dev/null || missing+=(util-linux)
command -v chromium >/dev/null || missing+=(chromium)
command -v prometheus >/dev/null || missing+=(prometheus)
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
  echo "install-system-deps: not root, so not installing ${missing[*]}; tests that need them are skipped" >&2
  exit 0
fi
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
