import { describe, expect, expectTypeOf, it } from 'vitest';
import type { AuditEntry } from '../../src/api/audit-log.js';
import type * as views from '../../src/api/views/index.js';
import { openApiDocument } from '../../src/api/openapi.js';
import { buildApiServer, type ApiDeps } from '../../src/api/server.js';
import { apiViews } from '../../src/api/views/index.js';
import type { EdgeConfig } from '../../src/compile/edge-config.js';
import type { EdgeStatus } from '../../src/edge/local-edge.js';
import type { NodeView } from '../../src/edge/nodes.js';
import type { UpstreamFailing } from '../../src/edge/passive-health.js';
import type { EventRecord } from '../../src/gate/gate.js';
import type { LinkUse } from '../../src/gate/links.js';
import type { DnsProviderView } from '../../src/model/dns.js';
import type { UserView } from '../../src/model/identity.js';
import type { LinkView } from '../../src/model/link.js';
import type { ProviderView } from '../../src/model/provider.js';
import type { ServiceMeta, ServiceRecord } from '../../src/model/service.js';
import type { ServiceSummary } from '../../src/model/summary.js';
import type { ServiceDiff, VersionInfo } from '../../src/registry/snapshots.js';
import type { FileApplyReport } from '../../src/sources/file/apply.js';
import type { DockerStatus, WatchedFileStatus } from '../../src/sources/source.js';
import type { OrderStatus } from '../../src/tls/manager.js';
import type { CertView } from '../../src/tls/store.js';

/**
 * The API's views (src/api/views) describe what the domain modules hand the routes: where a module
 * declares the type itself, the two must stay the same (checked by `tsc`, which compiles this
 * file; the runtime part only makes vitest count it).
 */
describe('API views agree with the domain types they show', () => {
  it('are the same types', () => {
    expectTypeOf<views.UserView>().toEqualTypeOf<UserView>();
    expectTypeOf<views.FileSourceView>().toEqualTypeOf<WatchedFileStatus>();
    expectTypeOf<views.DockerSourceView>().toEqualTypeOf<DockerStatus>();
    expectTypeOf<views.LinkView>().toEqualTypeOf<LinkView>();
    expectTypeOf<views.LinkUseView>().toEqualTypeOf<LinkUse>();
    expectTypeOf<views.ProviderView>().toEqualTypeOf<ProviderView>();
    expectTypeOf<views.DnsProviderView>().toEqualTypeOf<DnsProviderView>();
    expectTypeOf<views.ServiceSummaryView>().toEqualTypeOf<ServiceSummary>();
    expectTypeOf<views.ServiceMetaView>().toEqualTypeOf<ServiceMeta>();
    expectTypeOf<views.ServiceRecordView>().toEqualTypeOf<ServiceRecord>();
    expectTypeOf<views.ServiceDiffView>().toEqualTypeOf<ServiceDiff>();
    expectTypeOf<views.VersionInfoView>().toEqualTypeOf<VersionInfo>();
    expectTypeOf<views.EdgeStatusView>().toEqualTypeOf<EdgeStatus>();
    expectTypeOf<views.UpstreamFailingView>().toEqualTypeOf<UpstreamFailing>();
    expectTypeOf<views.NodeView>().toEqualTypeOf<NodeView>();
    expectTypeOf<views.CertView>().toEqualTypeOf<CertView>();
    expectTypeOf<views.OrderView>().toEqualTypeOf<OrderStatus>();
    expectTypeOf<views.AuditEntryView>().toEqualTypeOf<AuditEntry>();
    expectTypeOf<Omit<views.ApplyReport, 'applied'>>().toEqualTypeOf<FileApplyReport>();
    // The gate names its event kinds; stored events (and the view) take any kind as text.
    expectTypeOf<EventRecord>().toExtend<views.SecurityEventLive>();
    // Compile's sites, pools and TCP listeners are shown as they are (see edgeConfigView).
    expectTypeOf<EdgeConfig>().toExtend<views.EdgeConfigView>();
    expect(Object.keys(apiViews)).toContain('Error');
  });
});

/** Routes under /api/v1 that the document leaves out, and why. */
const UNDOCUMENTED = new Map([
  ['GET /openapi.json', 'the document itself'],
  ['GET /stream', 'server-sent events, not JSON (its events have views: streamEventViews)'],
]);

/** Stands in for every dependency: registering routes touches them, answering none here. */
const anything: unknown = new Proxy(() => anything, {
  get: (_target, key) => (key === 'then' ? undefined : anything),
  apply: () => anything,
});

describe('the OpenAPI document lists every route', () => {
  it('of the management API (so each has its views: test/e2e/api-views.test.ts)', async () => {
    const app = buildApiServer(anything as ApiDeps);
    const routes: string[] = [];
    app.addHook('onRoute', (r) => {
      for (const m of [r.method].flat()) {
        if (m === 'HEAD' || !r.url.startsWith('/api/v1/')) continue;
        routes.push(`${m} ${r.url.slice('/api/v1'.length).replace(/:(\w+)/g, '{$1}')}`);
      }
    });
    await app.ready();
    await app.close();
    const paths = (openApiDocument() as { paths: Record<string, Record<string, unknown>> }).paths;
    const documented = new Set(
      Object.entries(paths).flatMap(([p, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${p}`)),
    );
    expect(routes.length).toBeGreaterThan(40);
    expect(routes.filter((r) => !documented.has(r) && !UNDOCUMENTED.has(r))).toEqual([]);
    expect([...documented].filter((d) => !routes.includes(d))).toEqual([]);
  });

  it('refers only to components it has', () => {
    const doc = openApiDocument() as { components: { schemas: Record<string, unknown> } };
    const refs = [...JSON.stringify(doc).matchAll(/"\$ref":"#\/components\/schemas\/([^"]+)"/g)].map(
      (m) => m[1] ?? '',
    );
    expect(refs.length).toBeGreaterThan(50);
    expect(refs.filter((r) => !(r in doc.components.schemas))).toEqual([]);
  });
});
