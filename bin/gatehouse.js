#!/usr/bin/env node
// Entry point: runs the compiled CLI (npm's `prepare` builds it).
import('../dist/src/cli/main.js')
  .then((m) => m.main(process.argv))
  .catch((err) => {
    console.error(err instanceof Error ? err.message : err);
    process.exit(1);
  });
