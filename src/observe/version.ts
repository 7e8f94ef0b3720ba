import { readFileSync } from 'node:fs';

/** Gatehouse's version from its package.json (found from src/ under tsx and from dist/src/ when built). */
export const VERSION = ((): string => {
  for (const rel of ['../../package.json', '../../../package.json']) {
    try {
      const pkg = JSON.parse(readFileSync(new URL(rel, import.meta.url), 'utf8')) as {
        name?: string;
        version?: string;
      };
      if (pkg.name === 'gatehouse' && pkg.version) return pkg.version;
    } catch {
      // Not at this level.
    }
  }
  return '0.0.0';
})();
