import { accessSync, constants, statSync } from 'node:fs';
import { z } from 'zod';
import { unreadableFile } from './errors.js';
import { durationMs, durationSchema } from './values.js';

/**
 * A file Gatehouse hands to nginx: an absolute path to a file that can be read now (nginx would
 * refuse its config otherwise, and the message would name nginx's file, not the setting).
 */
function absoluteFile() {
  return z.string().superRefine((path, ctx) => {
    if (!path.startsWith('/')) {
      ctx.addIssue({ code: 'custom', message: 'an absolute path' });
      return;
    }
    try {
      if (statSync(path).isDirectory()) throw Object.assign(new Error('directory'), { code: 'EISDIR' });
      accessSync(path, constants.R_OK);
    } catch (err) {
      ctx.addIssue({ code: 'custom', message: unreadableFile(path, err).why });
    }
  });
}

/** GeoIP settings (src/drivers/nginx/geoip.ts; README, "Who passes"). */
export const geoipSettings = {
  /**
   * A MaxMind-format country (or city) database (GeoLite2-Country.mmdb): rules' `country` and
   * `country_not`, and the country in access logs.
   */
  geoip_db: absoluteFile().optional(),
  /** A MaxMind-format ASN database (GeoLite2-ASN.mmdb): rules' `asn`. */
  geoip_asn_db: absoluteFile().optional(),
  /** How often nginx looks at the GeoIP databases for a change (a new file is read without a reload). */
  geoip_check_interval: durationSchema
    .refine((d) => durationMs(d) >= 1000 && durationMs(d) <= 86_400_000, 'from 1s to 24h')
    .default('60s'),
};
