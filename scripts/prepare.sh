#!/usr/bin/env bash
# npm's `prepare`: runs on `npm ci`, and every time `npx gatehouse` links this project into npx's
# cache. A full build there took ~50 s on a newcomer's first `npx gatehouse` and rewrote dist/
# under a running Gatehouse, so it builds only when the sources' content changed since the last one.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib/sources.sh
built_from_sources && exit 0
sum=$(sources_sum)
npm run build
echo "$sum" >"$build_stamp"
