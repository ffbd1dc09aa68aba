#!/usr/bin/env bash
# Installs the benchmark's peers from Debian's packages (HAProxy, nginx, h2load), as root, only when missing.
set -euo pipefail
missing=()
command -v haproxy >/dev/null || missing+=(haproxy)
command -v nginx >/dev/null || missing+=(nginx)
command -v h2load >/dev/null || missing+=(nghttp2-client)
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
  echo "install-peers: need root to install ${missing[*]} (apt-get)" >&2
  exit 1
fi
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# Debian starts nginx as a service on install; the benchmark runs its own instances.
if command -v systemctl >/dev/null; then systemctl stop nginx 2>/dev/null || true; fi
pkill -x nginx 2>/dev/null || true
