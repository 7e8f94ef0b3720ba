import Fastify, { type FastifyInstance } from 'fastify';
import { BlockList, isIPv4 } from 'node:net';
import { z } from 'zod';
import { GatehouseError, invalid } from '../model/errors.js';
import type { Service } from '../model/service.js';
import type { Settings, Template } from '../model/settings.js';
import { slugSchema } from '../model/values.js';
import type { Logger } from '../observe/log.js';
import type { Registry } from '../registry/registry.js';
import { frameworkErrors, installErrorHandling, parse } from './http-errors.js';
import type { TokenCheck } from './tokens.js';
import {
  BUILTIN_TEMPLATES,
  instantiate,
  registerBodySchema,
  type RegisterBody,
} from '../sources/register/templates.js';
import {
  agentHeartbeatSchema,
  agentNameSchema,
  agentRegisterSchema,
  type AgentLeases,
} from '../sources/agent/leases.js';

const deregisterSchema = z.strictObject({ subdomain: slugSchema });

export interface RegisterDeps {
  registry: Registry;
  settings: Settings;
  token: TokenCheck;
  log: Logger;
  /** Templates from edge files, by file (read per request: a file applied later counts at once). */
  fileTemplates?: ReadonlyMap<string, Record<string, Template>>;
  /** Services that `gatehouse agent` keeps registered with heartbeats. */
  agents?: AgentLeases;
}

/** Source address allowlist from CIDR strings (v4 and v6; v4-mapped v6 addresses count as v4). */
export function allowList(cidrs: string[]): (ip: string) => boolean {
  const list = new BlockList();
  for (const c of cidrs) {
    const [addr = '', bits] = c.split('/');
    const type = isIPv4(addr) ? 'ipv4' : 'ipv6';
    list.addSubnet(addr, bits === undefined ? (type === 'ipv4' ? 32 : 128) : Number(bits), type);
  }
  return (ip: string) => {
    const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
    if (mapped) return list.check(mapped[1] as string, 'ipv4');
    return list.check(ip, isIPv4(ip) ? 'ipv4' : 'ipv6');
  };
}

function summary(s: Service) {
  return {
    subdomain: s.name,
    hosts: s.hosts,
    type: s.labels?.['gatehouse/template'],
    backend_ip: s.labels?.['gatehouse/backend'],
    routes: s.routes.map((r) => {
      const a = r.access ?? s.access;
      return {
        path: r.path,
        upstreams: r.upstreams,
        auth: a?.forward_auth ? 'forward_auth' : a?.ip ? 'ip' : 'public',
      };
    }),
  };
}

/**
 * A conflict of the service a registration made, told in the registration's own fields. An upstream
 * that is Gatehouse itself (its API, registration or proxy port on this machine) is a bad
 * backend_port, or a bad type when the template fixes the port: 400, as for any bad value. Anything
 * else (the host is another service's) is the subdomain's: 409.
 */
function registrationConflict(err: GatehouseError, body: RegisterBody): GatehouseError {
  const field = err.issues[0]?.field ?? '';
  const detail = err.issues[0]?.message ?? err.message;
  if (/\.upstreams\.|forward_auth/.test(field) && detail.includes("is Gatehouse's own")) {
    const port = /:([0-9]+)(?:\/|\s)/.exec(detail)?.[1];
    if (body.backend_port !== undefined && port === String(body.backend_port)) {
      return invalid(
        'body.backend_port',
        `${body.backend_port} is Gatehouse's own ${detail.replace(/^.*is Gatehouse's own /, '')}: give the port your backend listens on`,
      );
    }
    return invalid('body.type', `template ${body.type}: ${detail}`);
  }
  return new GatehouseError('conflict', `body.subdomain: ${detail}`, 409, [
    { field: 'body.subdomain', message: detail },
  ]);
}

/**
 * The self-registration listener: backends register themselves with one authenticated call. Only
 * sources in `register_allow` get an answer other than 403; every call but /health needs the token.
 */
export function buildRegisterServer(deps: RegisterDeps): FastifyInstance {
  const { registry, settings, token, log } = deps;
  const templates: Record<string, Template> = { ...BUILTIN_TEMPLATES, ...settings.templates };
  const allowed = allowList(settings.register_allow);
  const app = Fastify({ logger: false, bodyLimit: 64 * 1024, frameworkErrors });
  // Bodies are JSON only: text/plain would arrive as a string and fail as "expected object".
  app.removeContentTypeParser('text/plain');
  installErrorHandling(app, log);

  app.addHook('onRequest', async (req, reply) => {
    if (!allowed(req.socket.remoteAddress ?? '')) {
      return reply
        .code(403)
        .send(
          new GatehouseError(
            'forbidden_source',
            'this address may not use the registration API',
            403,
          ).toJSON(),
        );
    }
    if (req.url === '/health') return;
    if (!token.matchesHeader(req.headers.authorization)) {
      return reply
        .code(401)
        .header('WWW-Authenticate', 'Bearer')
        .send(new GatehouseError('unauthorized', 'missing or wrong bearer token', 401).toJSON());
    }
  });

  app.get('/health', async () => ({ status: 'ok', version: registry.version }));

  app.post('/register', async (req, reply) => {
    const body = parse(registerBodySchema, req.body, 'body');
    const all = Object.assign({}, templates, ...(deps.fileTemplates?.values() ?? [])) as Record<
      string,
      Template
    >;
    const template = all[body.type];
    if (!template) {
      const have = Object.keys(all).sort().join(', ');
      throw invalid(
        'body.type',
        `no registration template named ${body.type}; the templates are: ${have} (more are defined under templates: in the config file or an edge file)`,
      );
    }
    if (!settings.base_domain) {
      throw new GatehouseError(
        'base_domain_unset',
        'registration needs a base domain (a registration is served as <subdomain>.<base domain>): start Gatehouse with --base-domain example.com, or set GATEHOUSE_BASE_DOMAIN',
        503,
      );
    }
    const service = instantiate(body.type, template, { ...body, base_domain: settings.base_domain });
    const res = await registry
      .apply([{ kind: 'put', service }], {
        actor: `register:${req.socket.remoteAddress ?? '?'}`,
        source: 'register',
      })
      .catch((err: unknown) => {
        throw err instanceof GatehouseError && err.code === 'conflict'
          ? registrationConflict(err, body)
          : err;
      });
    const created = res.created.length > 0;
    if (res.changed.length > 0) {
      const msg = created ? 'registered' : 'registration updated';
      log.info({ subdomain: body.subdomain, type: body.type, version: res.version }, msg);
    }
    return reply.code(created ? 201 : 200).send({ ok: true, version: res.version, ...summary(service) });
  });

  const agents = deps.agents;
  if (agents) {
    app.post('/agent/v1/register', async (req, reply) => {
      const body = parse(agentRegisterSchema, req.body, '');
      const r = await agents.register(body);
      if (r.created) log.info({ service: body.name, version: r.version }, 'agent registered');
      return reply.code(r.created ? 201 : 200).send({ ok: true, version: r.version });
    });
    app.post('/agent/v1/heartbeat', async (req) => {
      const body = parse(agentHeartbeatSchema, req.body, '');
      return { ok: true, ...(await agents.heartbeat(body.name, body.healthy)) };
    });
    app.post('/agent/v1/deregister', async (req) => {
      const body = parse(agentNameSchema, req.body, '');
      await agents.deregister(body.name);
      log.info({ service: body.name }, 'agent deregistered');
      return { ok: true };
    });
  }

  app.post('/deregister', async (req) => {
    const body = parse(deregisterSchema, req.body, 'body');
    const existing = registry.get(body.subdomain);
    if (!existing || existing.meta.source !== 'register') {
      throw new GatehouseError('not_found', `subdomain ${body.subdomain} is not registered`, 404);
    }
    const res = await registry.remove(body.subdomain, {
      actor: `register:${req.socket.remoteAddress ?? '?'}`,
      source: 'register',
      // Deregistering names one record explicitly; it may be the last one.
      force: true,
    });
    log.info({ subdomain: body.subdomain, version: res.version }, 'deregistered');
    return { ok: true, version: res.version, subdomain: body.subdomain };
  });

  app.get('/routes', async () =>
    registry
      .list()
      .filter((r) => r.meta.source === 'register')
      .map((r) => summary(r.service)),
  );

  return app;
}
