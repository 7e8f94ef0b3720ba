import { z } from 'zod';

/**
 * A service's web application firewall (docs/waf.md): ModSecurity with the OWASP Core Rule Set,
 * run by nginx (Debian's libnginx-mod-http-modsecurity and modsecurity-crs).
 */
export const wafSchema = z.strictObject({
  /** block: a request the rules score as an attack gets 403; detect: it passes, and is logged. */
  mode: z.enum(['block', 'detect']).default('block'),
  /** The CRS paranoia level: 1 (few false positives) to 4 (many rules, many false positives). */
  paranoia: z.number().int().min(1, 'from 1 to 4').max(4, 'from 1 to 4').default(1),
  /** CRS rule ids never applied to this service (a false positive's rule, from the security log). */
  exclude_rules: z
    .array(z.number().int().min(1, 'a rule id').max(99_999_999, 'a rule id'))
    .max(200)
    .default([]),
});

export type Waf = z.output<typeof wafSchema>;
