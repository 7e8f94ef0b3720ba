import { z } from 'zod';
import { durationMs, durationSchema } from './values.js';

/**
 * Where the public address is read (dynamic DNS, docs/dns.md): nowhere, a network interface of this
 * machine, or "what is my address" HTTP services asked in order.
 */
export type AddressSource =
  { kind: 'off' } | { kind: 'interface'; name: string } | { kind: 'urls'; urls: string[] };

const SOURCE_FORMS = 'off, interface:<name> or urls:<url>[,<url>...]';
const INTERFACE = /^[A-Za-z0-9_.@:-]{1,15}$/;
const MAX_URLS = 8;

/** The setting as text into its parts, or the reason it is not one. */
export function parseAddressSource(text: string): AddressSource | { error: string } {
  const v = text.trim();
  if (v === 'off' || v === '') return { kind: 'off' };
  const colon = v.indexOf(':');
  const kind = colon < 0 ? v : v.slice(0, colon);
  const rest = colon < 0 ? '' : v.slice(colon + 1).trim();
  if (kind === 'interface') {
    return INTERFACE.test(rest)
      ? { kind: 'interface', name: rest }
      : { error: 'interface:<name> with a network interface name (1-15 letters, digits, ".", "_", "-")' };
  }
  if (kind === 'urls') {
    const urls = rest
      .split(',')
      .map((u) => u.trim())
      .filter((u) => u !== '');
    if (urls.length === 0 || urls.length > MAX_URLS)
      return { error: `urls: with 1 to ${MAX_URLS} comma-separated http(s) URLs` };
    for (const u of urls) {
      let url: URL;
      try {
        url = new URL(u);
      } catch {
        return { error: `urls: ${JSON.stringify(u)} is not a URL` };
      }
      if (url.protocol !== 'http:' && url.protocol !== 'https:')
        return { error: `urls: ${JSON.stringify(u)} is not an http or https URL` };
      if (url.username || url.password) return { error: `urls: ${url.host}: no user or password in the URL` };
    }
    return { kind: 'urls', urls };
  }
  return { error: SOURCE_FORMS };
}

/** `public_address_source`: kept as the text given (trimmed), checked here; parsed where it is used. */
export const addressSourceSchema = z
  .string({ error: SOURCE_FORMS })
  .transform((v) => v.trim())
  .superRefine((v, ctx) => {
    const p = parseAddressSource(v);
    if ('error' in p) ctx.addIssue({ code: 'custom', message: p.error });
  })
  .default('off');

/** `public_address_interval`: how often the address is read (a change is seen within two of these). */
export const addressIntervalSchema = durationSchema
  .refine((d) => durationMs(d) >= 1000 && durationMs(d) <= 3_600_000, 'from 1s to 1h')
  .default('30s');
