#!/usr/bin/env bash
# Installs what Gatehouse needs and is missing: Debian packages (nginx with its stream and Lua
# modules; with --test also what the test suite drives) and the npm dependencies (which builds the
# TypeScript through npm's `prepare`). Safe to run again: it does nothing when all is there.
set -euo pipefail
cd "$(dirname "$0")/.."

# bind9-dnsutils: nsupdate, for DNS-01 through RFC 2136 providers.
# libnginx-mod-http-lua (with lua-resty-core): routes, upstream pools, certificates and revoked
# sessions live in nginx's shared memory.
want=(nginx libnginx-mod-stream libnginx-mod-http-lua lua-resty-core lua-resty-lrucache bind9-dnsutils)
# better-sqlite3 is a native addon: npm fetches a prebuilt binary, or builds it when it cannot.
if [[ ! -d node_modules/better-sqlite3/build ]]; then
  for tool in g++ make python3; do command -v "$tool" >/dev/null || want+=("$tool"); done
fi
# P6 (failover) and P11 (container → route) run keepalived and dockerd in network namespaces.
if [[ "${1:-}" == "--bench" ]]; then want+=(wrk keepalived iproute2 docker.io busybox-static chromium); fi
# The tests run a real ACME CA (Pebble), a real BIND, an MQTT broker, keepalived and dockerd (in
# network namespaces they create), drive the web UI in Debian's Chromium, and make certificates
# with openssl.
if [[ "${1:-}" == "--test" ]]; then
  want+=(pebble bind9 openssl mosquitto mosquitto-clients keepalived iproute2 docker.io busybox-static chromium)
fi

missing=()
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done

if ((${#missing[@]})); then
  if [[ $(id -u) -ne 0 ]]; then
    echo "gatehouse: missing Debian packages: ${missing[*]}; run this as root or: apt-get install -y ${missing[*]}" >&2
    exit 1
  fi
  echo "gatehouse: installing ${missing[*]} ..."
  # Keep Debian's own nginx service from starting (and taking port 80): Gatehouse runs its own.
  policy=/usr/sbin/policy-rc.d
  made_policy=0
  if [[ ! -e $policy ]]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod +x "$policy" && made_policy=1
  fi
  trap '[[ $made_policy == 1 ]] && rm -f "$policy"' EXIT
  export DEBIAN_FRONTEND=noninteractive
  if [[ -z "$(find /var/lib/apt/lists -maxdepth 1 -name '*_Packages' -mmin -1440 2>/dev/null | head -n1)" ]]; then
    apt-get update -qq
  fi
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  if command -v systemctl >/dev/null && [[ -d /run/systemd/system ]]; then
    systemctl disable --now nginx >/dev/null 2>&1 || true
    systemctl disable --now keepalived >/dev/null 2>&1 || true
    systemctl disable --now docker docker.socket >/dev/null 2>&1 || true
  fi
fi

# npm dependencies: install when absent or older than the lockfile.
if [[ ! -d node_modules || package-lock.json -nt node_modules/.package-lock.json ]]; then
  echo "gatehouse: installing npm packages ..."
  npm ci --no-audit --no-fund --loglevel=error
elif [[ ! -f dist/src/cli/main.js || ! -f web/dist/index.html ]] ||
  [[ -n "$(find src bench web/src -newer dist/src/cli/main.js \( -name '*.ts' -o -name '*.tsx' -o -name '*.css' \) 2>/dev/null | head -n1)" ]]; then
  npm run --silent build
fi
