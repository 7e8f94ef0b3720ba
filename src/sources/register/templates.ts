import { isIPv4, isIPv6 } from 'node:net';
import { z } from 'zod';
import { fromZod, GatehouseError, invalid } from '../../model/errors.js';
import { serviceSchema, type Service } from '../../model/service.js';
import type { Template } from '../../model/settings.js';
import { portSchema, slugSchema } from '../../model/values.js';

/** The body of `POST /register` (compatible with the StartLobster seed's). */
export const registerBodySchema = z.strictObject({
  subdomain: slugSchema,
  backend_ip: z
    .string()
    .refine((s) => isIPv4(s) || (isIPv6(s) && !s.includes('%')), 'an IPv4 or IPv6 address, without a zone'),
  backend_port: portSchema.optional(),
  type: slugSchema.default('simple'),
});
export type RegisterBody = z.output<typeof registerBodySchema>;

const AUTH = {
  forward_auth: { url: 'http://{backend_ip}:3000/auth/verify', copy_headers: ['X-Gateway-Token'] },
};

/** Built-in templates; the config file may override them or add more under `templates:`. */
export const BUILTIN_TEMPLATES: Record<string, Template> = {
  simple: { routes: [{ path: '/', upstreams: ['{backend_ip}:{backend_port}'] }] },
  full: {
    routes: [
      { path: '/auth/', upstreams: ['{backend_ip}:3000'] },
      { path: '/api/', upstreams: ['{backend_ip}:18789'], access: AUTH },
      { path: '/ws', upstreams: ['{backend_ip}:18789'], access: AUTH },
      { path: '/', upstreams: ['{backend_ip}:8888'], access: AUTH },
    ],
  },
};

export interface TemplateValues {
  subdomain: string;
  backend_ip: string;
  backend_port?: number;
  base_domain: string;
}

/**
 * Fills a template's placeholders and validates the result as a service named after the
 * subdomain. Errors name the registration field at fault where they can.
 */
export function instantiate(name: string, template: Template, values: TemplateValues): Service {
  const ip = values.backend_ip.includes(':') ? `[${values.backend_ip}]` : values.backend_ip;
  const missingPort = { hit: false };
  const fill = (v: unknown): unknown => {
    if (typeof v === 'string') {
      return v.replace(/\{(subdomain|backend_ip|backend_port|base_domain)\}/g, (_, key: string) => {
        if (key === 'backend_ip') return ip;
        if (key === 'backend_port') {
          if (values.backend_port === undefined) missingPort.hit = true;
          return String(values.backend_port ?? '');
        }
        return String(values[key as 'subdomain' | 'base_domain']);
      });
    }
    if (Array.isArray(v)) return v.map(fill);
    if (v && typeof v === 'object')
      return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, fill(x)]));
    return v;
  };
  const filled = fill({
    name: values.subdomain,
    hosts: template.hosts ?? ['{subdomain}.{base_domain}'],
    routes: template.routes ?? [],
    tcp: template.tcp ?? [],
    ...(template.access !== undefined ? { access: template.access } : {}),
    labels: { 'gatehouse/template': name, 'gatehouse/backend': values.backend_ip },
  });
  if (missingPort.hit)
    throw invalid(
      'body.backend_port',
      `template ${name} needs backend_port: the port your backend listens on`,
    );
  const r = serviceSchema.safeParse(filled);
  if (!r.success) throw fromZod(r.error, `template ${name}`);
  return r.data;
}

/** Checks every template at start-up with sample values, so a broken one stops Gatehouse early. */
export function checkTemplates(templates: Record<string, Template>, where = 'setting templates'): void {
  for (const [name, t] of Object.entries(templates)) {
    try {
      instantiate(name, t, {
        subdomain: 'example',
        backend_ip: '10.0.0.1',
        backend_port: 8080,
        base_domain: 'example.com',
      });
    } catch (err) {
      const msg = err instanceof Error ? err.message : String(err);
      throw new GatehouseError(
        where.startsWith('setting') ? 'setting_invalid' : 'invalid',
        `${where}.${name}: ${msg}`,
        400,
        [{ field: `${where.replace(/^setting /, '')}.${name}`, message: msg }],
      );
    }
  }
}
