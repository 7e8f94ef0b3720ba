#!/usr/bin/env bash
# One command: install whatever is missing, then start Gatehouse on its embedded default
# (SQLite in the data dir, an nginx it manages). Arguments go to `gatehouse up`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
# bin/gatehouse.js, not `node bin/gatehouse.js`: its shebang carries the V8 flags Gatehouse runs with.
exec bin/gatehouse.js up "$@"
