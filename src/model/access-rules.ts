import { z } from 'zod';
import { cidrSchema, pathSchema } from './values.js';

/**
 * Access rules (a service's or a route's `access.rules`): checked before everything else, the
 * first that matches allows or denies. Conditions on the source address, the path, the method and
 * request headers; the gate's Lua check runs them (src/drivers/nginx/gate-lua.ts).
 */

const methodSchema = z.enum(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);

/**
 * A pattern both JavaScript (here, to check it) and PCRE (nginx's Lua, to run it) read alike:
 * characters, classes, quantifiers, anchors, alternation and plain groups; no `(?...)` extensions
 * (lookarounds, named groups, flags) and no backreferences, where the two differ or PCRE refuses
 * what JavaScript takes (a lookbehind of variable length would fail nginx's config check).
 */
const headerRegexSchema = z
  .string()
  .min(1)
  .max(512)
  .superRefine((v, ctx) => {
    try {
      new RegExp(v);
    } catch (err) {
      ctx.addIssue({ code: 'custom', message: `not a regular expression: ${(err as Error).message}` });
      return;
    }
    if (/\(\?/.test(v.replace(/\\./g, '')))
      ctx.addIssue({ code: 'custom', message: 'no (?...) groups (lookarounds, named groups, flags)' });
    if (/\\[1-9]/.test(v.replace(/\\\\/g, '')))
      ctx.addIssue({ code: 'custom', message: 'no backreferences (\\1 ...)' });
  });

/**
 * A request header a rule looks at: sent at all (`present: true`) or not (`present: false`),
 * equal to a value, or matching a pattern (its first value when sent several times). Names as
 * nginx reads them: letters, digits and hyphens (it drops headers with underscores).
 */
export const headerConditionSchema = z
  .strictObject({
    name: z.string().regex(/^[A-Za-z0-9-]{1,64}$/, 'letters, digits and hyphens (up to 64)'),
    present: z.boolean().optional(),
    equals: z.string().max(1024).optional(),
    regex: headerRegexSchema.optional(),
  })
  .refine((h) => [h.present, h.equals, h.regex].filter((x) => x !== undefined).length === 1, {
    message: 'say one of present, equals or regex',
  });

/** A country as GeoIP databases name it: ISO 3166-1 alpha-2, upper case (`DE`, `US`). */
const countrySchema = z.string().regex(/^[A-Z]{2}$/, 'a two-letter country code in capitals, e.g. DE');

/** A rule matches when every condition it names matches; the first matching rule decides. */
export const ruleSchema = z
  .strictObject({
    action: z.enum(['allow', 'deny']),
    cidr: z.union([cidrSchema, z.array(cidrSchema).min(1).max(64)]).optional(),
    path: pathSchema.optional(),
    method: z.array(methodSchema).min(1).max(7).optional(),
    /** One header condition, or several that must all hold. */
    header: z.union([headerConditionSchema, z.array(headerConditionSchema).min(1).max(8)]).optional(),
    /** The client's country (ISO 3166 code, from the GeoIP database: setting geoip_db) is one of these. */
    country: z.array(countrySchema).min(1).max(250).optional(),
    /** ... is none of these (an address the database does not know counts as none). */
    country_not: z.array(countrySchema).min(1).max(250).optional(),
    /** The client's network (autonomous system number, setting geoip_asn_db) is one of these. */
    asn: z.array(z.number().int().min(1).max(4_294_967_295)).min(1).max(256).optional(),
  })
  .refine(
    (r) =>
      r.cidr !== undefined ||
      r.path !== undefined ||
      r.method !== undefined ||
      r.header !== undefined ||
      r.country !== undefined ||
      r.country_not !== undefined ||
      r.asn !== undefined,
    {
      message:
        'a rule needs at least one of cidr, path, method, header, country, country_not, asn (or it would match everything)',
    },
  );
