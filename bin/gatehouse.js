#!/usr/bin/env -S node --max-semi-space-size=2
// Entry point: runs the compiled CLI (npm's `prepare` builds it).
// --max-semi-space-size=2: V8's young generation grows to 2 × 16 MB under a burst of registrations
// and stays resident; the control plane's short-lived garbage fits in 2 MB semi-spaces (30 MB less
// memory, no measurable cost in registrations/s: README, P8). Start it as `bin/gatehouse.js`, or
// `node --max-semi-space-size=2 bin/gatehouse.js`, to keep the flag.
import('../dist/src/cli/main.js')
  .then((m) => m.main(process.argv))
  .catch((err) => {
    console.error(err instanceof Error ? err.message : err);
    process.exit(1);
  });
