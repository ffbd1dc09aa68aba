#!/usr/bin/env bash
# Installs the benchmark's peers from Debian's packages (HAProxy, nginx with its stream module for TCP, h2load, and
# taskset for pinning a proxy to one core), as root, only when missing.
set -euo pipefail
missing=()
command -v haproxy >/dev/null || missing+=(haproxy)
command -v nginx >/dev/null || missing+=(nginx)
[ -f /usr/lib/nginx/modules/ngx_stream_module.so ] || missing+=(libnginx-mod-stream)
command -v h2load >/dev/null || missing+=(nghttp2-client)
command -v taskset >/dev/null || missing+=(util-linux)
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
  echo "install-peers: need root to install ${missing[*]} (apt-get)" >&2
  exit 1
fi
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# Debian starts nginx as a service on install; the benchmark runs its own instances. Only that service is stopped
# (by its pid file): other nginx processes on the machine are not ours to kill.
if command -v systemctl >/dev/null; then systemctl stop nginx 2>/dev/null || true; fi
if [ -f /run/nginx.pid ]; then kill "$(cat /run/nginx.pid)" 2>/dev/null || true; fi
