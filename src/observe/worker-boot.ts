import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { Worker, type Transferable } from 'node:worker_threads';

/**
 * The code a thread starts with: the worker module itself, compiled (dist/), or, under the test
 * runner (src/, TypeScript), through tsx's loader, which a worker of Node 20 does not inherit.
 */
const BOOT = `
const { workerData } = require('node:worker_threads');
(async () => {
  if (workerData.boot.tsx) (await import(workerData.boot.tsx)).register();
  await import(workerData.boot.entry);
})();
`;

interface TsxPackage {
  exports: { './esm/api': { import: { default: string } } };
}

/** The module `name` (no extension) beside `base` (the caller's import.meta.url), and tsx if it is TypeScript. */
function entryOf(base: string, name: string): { entry: string; tsx?: string } {
  if (!base.endsWith('.ts')) return { entry: new URL(`./${name}.js`, base).href };
  // tsx's ES module API (its CommonJS build looks for its loader in the wrong folder).
  const pkg = createRequire(base).resolve('tsx/package.json');
  const api = (JSON.parse(readFileSync(pkg, 'utf8')) as TsxPackage).exports['./esm/api'].import.default;
  return { entry: new URL(`./${name}.ts`, base).href, tsx: new URL(api, pathToFileURL(pkg)).href };
}

/**
 * Starts the worker module `name` beside `base` with `data` as its workerData (the module reads it
 * with workerData()). Node's flags of the main thread are not passed on.
 */
export function startWorker(base: string, name: string, data: object, transfer: Transferable[] = []): Worker {
  return new Worker(BOOT, {
    eval: true,
    execArgv: [],
    workerData: { ...data, boot: entryOf(base, name) },
    transferList: transfer,
  });
}
