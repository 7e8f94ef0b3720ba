#!/usr/bin/env bash
# npm's `prepare`: runs on `npm ci`, and every time `npx gatehouse` links this project into npx's
# cache. A full build there took ~50 s on a newcomer's first `npx gatehouse` and rewrote dist/
# under a running Gatehouse, so it builds only when a source is newer than the last build.
set -euo pipefail
cd "$(dirname "$0")/.."
stamp=dist/.build-stamp
sources=(src bench bin web/src web/index.html web/tsconfig.json web/vite.config.ts
  package.json package-lock.json tsconfig.json tsconfig.build.json)
if [ -f "$stamp" ] && [ -d web/dist ] &&
  [ -z "$(find "${sources[@]}" -newer "$stamp" -print -quit 2>/dev/null)" ]; then
  exit 0
fi
# Stamped before the build: a source saved while it runs is newer than the stamp, and builds next time.
mkdir -p dist
touch "$stamp.next"
npm run build
mv "$stamp.next" "$stamp"
