import { isIP } from 'node:net';
import { z } from 'zod';
import { cidrSchema, durationSchema } from './values.js';

/** Split-horizon DNS settings (src/dns/lan-resolver.ts; docs/dns.md, "Split horizon"). */

/** A comma-separated list (flags, environment) or a YAML list. */
const list = <T extends z.ZodType>(item: T) =>
  z.preprocess(
    (v) =>
      typeof v === 'string'
        ? v
            .split(',')
            .map((s) => s.trim())
            .filter(Boolean)
        : v,
    z.array(item).max(16),
  );

const ip = z.string().refine((v) => isIP(v) !== 0, {
  error: (iss) => `expected an IP address (got ${JSON.stringify(iss.input)})`,
});
/** Unbound's way of writing an address and port: `IP` or `IP@PORT`. */
const ipAt = z.string().refine(
  (v) => {
    const m = /^([^@]+)(?:@([0-9]{1,5}))?$/.exec(v);
    return (
      !!m && isIP(m[1] ?? '') !== 0 && (m[2] === undefined || (Number(m[2]) >= 1 && Number(m[2]) <= 65535))
    );
  },
  { error: (iss) => `expected IP or IP@PORT (got ${JSON.stringify(iss.input)})` },
);
const path = z.string().regex(/^\/[^\s\p{Cc}]*$/u, 'an absolute path without spaces');

export const lanDnsSettings = {
  /** Which resolver answers the LAN: none, an Unbound driven over unbound-control, or dnsmasq's hostsdir. */
  lan_dns: z.enum(['off', 'unbound', 'dnsmasq'], { error: 'off, unbound or dnsmasq' }).default('off'),
  /** The address(es) LAN clients get for served hosts; unset: the addresses of the `lan` edge nodes. */
  lan_dns_address: list(ip).pipe(z.array(z.string()).min(1, 'at least one IP address')).optional(),
  /** Hosts exposed only publicly: `skip` (forwarded as usual) or `answer` (the LAN address too: one machine). */
  lan_dns_public_hosts: z.enum(['skip', 'answer'], { error: 'skip or answer' }).default('skip'),
  /**
   * Where the resolver answers queries (IP:PORT): status asks it what it answers. Unset: the managed
   * Unbound's first address, else 127.0.0.1:53.
   */
  lan_dns_server: z
    .string()
    .regex(/^(?:\[[0-9A-Fa-f:.]+\]|[0-9.]+):[0-9]{1,5}$/, 'IP:PORT the resolver answers on')
    .optional(),
  /** Unbound's remote control: a unix socket path, or IP@PORT (control-use-cert: no). */
  lan_dns_unbound_control: z
    .string()
    .regex(
      /^(?:\/[^\s\p{Cc}]+|[0-9A-Fa-f:.]+@[0-9]{1,5})$/u,
      'a unix socket path (/run/unbound.ctl) or IP@PORT (127.0.0.1@8953)',
    )
    .default('127.0.0.1@8953'),
  /** An unbound-control config to use instead of Gatehouse's own (for control with certificates). */
  lan_dns_unbound_config: path.optional(),
  lan_dns_unbound_control_bin: z.string().min(1).default('unbound-control'),
  /**
   * Managed mode: Gatehouse runs its own Unbound answering here (IP or IP@PORT, comma-separated);
   * unset: it drives the Unbound at lan_dns_unbound_control.
   */
  lan_dns_unbound_listen: list(ipAt).pipe(z.array(z.string()).min(1, 'at least one address')).optional(),
  /** The managed Unbound's upstreams (IP or IP@PORT); unset: it resolves from the root servers itself. */
  lan_dns_forward: list(ipAt).default([]),
  /** Who may ask the managed Unbound (CIDRs). */
  lan_dns_allow: list(cidrSchema).default([
    '127.0.0.0/8',
    '::1/128',
    '10.0.0.0/8',
    '172.16.0.0/12',
    '192.168.0.0/16',
    'fc00::/7',
  ]),
  lan_dns_unbound_bin: z.string().min(1).default('unbound'),
  /** The directory dnsmasq reads with --hostsdir; Gatehouse writes gatehouse-lan.hosts in it. */
  lan_dns_dnsmasq_hostsdir: path.optional(),
  /** How often the resolver is compared with what it should answer (and corrected). */
  lan_dns_check_interval: durationSchema.default('10s'),
};

/** What one setting cannot say alone. */
export function checkLanDns(
  s: { lan_dns: string; lan_dns_dnsmasq_hostsdir?: string | undefined },
  ctx: z.RefinementCtx,
): void {
  if (s.lan_dns === 'dnsmasq' && !s.lan_dns_dnsmasq_hostsdir)
    ctx.addIssue({
      code: 'custom',
      path: ['lan_dns_dnsmasq_hostsdir'],
      message: "required when lan_dns is dnsmasq: the directory dnsmasq's --hostsdir names",
    });
}

/** Where the LAN resolver answers, for status: the setting, else the managed Unbound's first address. */
export function lanDnsServer(s: {
  lan_dns_server?: string | undefined;
  lan_dns_unbound_listen?: string[] | undefined;
}): string {
  if (s.lan_dns_server) return s.lan_dns_server;
  const first = s.lan_dns_unbound_listen?.[0];
  if (!first) return '127.0.0.1:53';
  const [host = '', port = '53'] = first.split('@');
  const local = host === '0.0.0.0' ? '127.0.0.1' : host === '::' ? '::1' : host;
  return local.includes(':') ? `[${local}]:${port}` : `${local}:${port}`;
}
