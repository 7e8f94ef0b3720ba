import type { EdgeConfig } from '../../compile/edge-config.js';

/** ACME HTTP-01 answers, pushed with the config (see EdgeConfig.acme). */
export function acmeMap(cfg: EdgeConfig): string[] {
  return [
    'map $uri $gh_acme {',
    '    default "";',
    ...cfg.acme.map(([token, ka]) => `    "/.well-known/acme-challenge/${token}" "${ka}";`),
    '}',
  ];
}

/** Every HTTP server answers ACME challenges for any host it serves (also while redirecting). */
export function acmeLocation(): string[] {
  return [
    'location ^~ /.well-known/acme-challenge/ {',
    '    default_type text/plain;',
    '    if ($gh_acme = "") {',
    '        return 404;',
    '    }',
    '    return 200 $gh_acme;',
    '}',
  ];
}
