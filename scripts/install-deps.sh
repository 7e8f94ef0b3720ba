#!/usr/bin/env bash
# Installs what Gatehouse needs and is missing: Debian packages (nginx with its stream and Lua
# modules; with --test also what the test suite drives) and the npm dependencies (which builds the
# TypeScript through npm's `prepare`). Safe to run again: it does nothing when all is there.
set -euo pipefail
cd "$(dirname "$0")/.."

# bind9-dnsutils: nsupdate, for DNS-01 through RFC 2136 providers.
# libnginx-mod-http-lua (with lua-resty-core): routes, upstream pools, certificates and revoked
# sessions live in nginx's shared memory.
# wireguard-tools, wireguard-go (userspace WireGuard: no kernel module needed) and nftables: sites'
# tunnels (docs/sites.md). --no-install-recommends below keeps wireguard-tools from pulling in a kernel.
# libnginx-mod-http-geoip2: rules by country and network (setting geoip_db), loaded only when set.
# libnginx-mod-http-modsecurity and modsecurity-crs: a service's WAF (docs/waf.md), loaded only then.
want=(nginx libnginx-mod-stream libnginx-mod-http-lua lua-resty-core lua-resty-lrucache bind9-dnsutils
  wireguard-tools wireguard-go nftables libnginx-mod-http-geoip2 libnginx-mod-http-modsecurity modsecurity-crs)
# better-sqlite3 is a native addon: npm fetches a prebuilt binary, or builds it when it cannot.
if [[ ! -d node_modules/better-sqlite3/build ]]; then
  for tool in g++ make python3; do command -v "$tool" >/dev/null || want+=("$tool"); done
fi
# P6 (failover) and P11 (container → route) run keepalived and dockerd in network namespaces.
# P21 writes a GeoIP database with MaxMind::DB::Writer.
if [[ "${1:-}" == "--bench" ]]; then
  want+=(wrk keepalived iproute2 docker.io busybox-static chromium libmaxmind-db-writer-perl crowdsec)
fi
# The tests run a real ACME CA (Pebble), a real BIND, an MQTT broker, keepalived and dockerd (in
# network namespaces they create), drive the web UI in Debian's Chromium, and make certificates
# with openssl; zbarimg (zbar-tools) reads the VPN clients' QR codes back; Unbound and dnsmasq are
# the LAN resolvers split-horizon DNS drives (docs/dns.md); aiosmtpd is the SMTP server alert email
# is sent to (docs/alerts.md); MaxMind::DB::Writer makes the GeoIP databases the tests use; CrowdSec
# (offline) is the Local API Gatehouse is a bouncer of, its agent reading nginx's log (docs/crowdsec.md).
if [[ "${1:-}" == "--test" ]]; then
  want+=(pebble bind9 openssl mosquitto mosquitto-clients keepalived iproute2 docker.io busybox-static chromium
    zbar-tools unbound dnsmasq-base python3-aiosmtpd libmaxmind-db-writer-perl crowdsec)
  # PostgreSQL: the store suites run against it too (initdb/pg_ctl, on the PATH or Debian's).
  if ! command -v initdb >/dev/null && ! compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null; then
    want+=(postgresql)
  fi
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
  # CrowdSec's package registers with the online Central API while installing, unless credentials
  # exist: without a network that step fails and leaves dpkg broken. Gatehouse uses it offline.
  if [[ " ${missing[*]} " == *" crowdsec "* && ! -e /etc/crowdsec/online_api_credentials.yaml ]]; then
    mkdir -p /etc/crowdsec && echo '# offline: Gatehouse runs CrowdSec without the Central API' >/etc/crowdsec/online_api_credentials.yaml
  fi
  if [[ -z "$(find /var/lib/apt/lists -maxdepth 1 -name '*_Packages' -mmin -1440 2>/dev/null | head -n1)" ]]; then
    apt-get update -qq
  fi
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  if command -v systemctl >/dev/null && [[ -d /run/systemd/system ]]; then
    systemctl disable --now nginx >/dev/null 2>&1 || true
    systemctl disable --now keepalived >/dev/null 2>&1 || true
    systemctl disable --now docker docker.socket >/dev/null 2>&1 || true
    # Only one installed just now (an operator's own CrowdSec keeps running).
    if [[ " ${missing[*]} " == *" crowdsec "* ]]; then systemctl disable --now crowdsec >/dev/null 2>&1 || true; fi
  fi
fi

# npm dependencies and the build. What was installed and built is recorded by content (a hash of
# the lockfile; of the sources), not by file times: a fresh checkout or `git switch` makes every file
# look new, and nothing needs doing when the content is the same. The tools' own output goes to a
# log, shown only when they fail: the quick start prints progress lines, not a build transcript.
lock_stamp=node_modules/.gatehouse-lock.sha256
lock_sum() { sha256sum package-lock.json | cut -d' ' -f1; }
. scripts/lib/sources.sh
# Runs a step quietly: its output is kept in a log and printed only if it fails.
quietly() {
  local log
  log=$(mktemp "${TMPDIR:-/tmp}/gatehouse-install.XXXXXX")
  if ! "$@" >"$log" 2>&1; then
    echo "gatehouse: '$*' failed:" >&2
    tail -n 40 "$log" >&2
    rm -f "$log"
    return 1
  fi
  rm -f "$log"
}

need_npm=0
if [[ ! -d node_modules ]]; then
  need_npm=1
elif [[ -f $lock_stamp ]]; then
  [[ "$(cat "$lock_stamp")" == "$(lock_sum)" ]] || need_npm=1
elif [[ package-lock.json -nt node_modules/.package-lock.json ]]; then
  # Installed before the stamp existed: install again only if what is installed does not match.
  npm ls --depth=0 >/dev/null 2>&1 || need_npm=1
fi
if ((need_npm)); then
  echo "gatehouse: installing npm packages (a few minutes the first time) ..."
  # npm's `prepare` builds the TypeScript and the web UI too.
  quietly npm ci --no-audit --no-fund --loglevel=error
  sources_sum >"$build_stamp"
fi
lock_sum >"$lock_stamp"

need_build=0
built_from_sources || need_build=1
if ((need_build)); then
  echo "gatehouse: building (sources changed) ..."
  quietly npm run --silent build
fi
sources_sum >"$build_stamp"
