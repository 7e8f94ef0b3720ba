import type { FastifyInstance } from 'fastify';
import type { ApiContext } from './context.js';
import type { CertificateStatus, Status } from './views/index.js';
import { dataKeyRotated } from '../store/secrets.js';

export async function statusRoutes(app: FastifyInstance, ctx: ApiContext): Promise<void> {
  app.get('/status', async () => {
    const edge = await ctx.edge.getFullStatus();
    return {
      version: ctx.registry.version,
      services: ctx.registry.list().length,
      in_sync: edge.appliedVersion === ctx.registry.version && !edge.lastError,
      /** Stored services that no longer validate and are not served. */
      unloadable: ctx.registry.unloadable,
      edge,
      certificates: await certificateStatus(ctx),
      /** Discovery sources (the watched edge file, Docker): what each last applied, or why not. */
      sources: ctx.sourceStatus(),
      ...(ctx.leader ? { replica: await ctx.leader.status() } : {}),
      ...(ctx.sealer?.rotated
        ? { data_key: { state: 'rotated' as const, message: dataKeyRotated().message } }
        : {}),
      ...dnsRecords(ctx),
      ...publicAddress(ctx),
    } satisfies Status;
  });
}

/** Certificates in service, the next to expire, and orders under way or failed. */
async function certificateStatus(ctx: ApiContext): Promise<CertificateStatus> {
  const list = await ctx.certs.list();
  const next = [...list].sort((a, b) => (a.notAfter < b.notAfter ? -1 : 1))[0];
  const orders = [...(ctx.certManager?.orders.values() ?? [])];
  return {
    count: list.length,
    next_expiry: next ? { names: next.names, not_after: next.notAfter } : null,
    issuing: orders.filter((o) => o.state === 'issuing').map((o) => ({ names: o.names, step: o.step ?? '' })),
    failed: orders
      .filter((o) => o.state === 'failed')
      .map((o) => ({ names: o.names, error: o.error ?? '', retry_at: o.retryAt ?? '' })),
  };
}

/** External records' summary, where this replica writes them. */
function dnsRecords(ctx: ApiContext): Pick<Status, 'dns_records'> {
  const summary = ctx.externalRecords?.summary();
  return summary ? { dns_records: summary } : {};
}

/** The public address watched (dynamic DNS), where this replica watches it. */
function publicAddress(ctx: ApiContext): Pick<Status, 'public_address'> {
  const s = ctx.publicAddress?.status();
  return s ? { public_address: s } : {};
}
