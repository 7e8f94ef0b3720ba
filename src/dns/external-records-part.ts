import type { Gate } from '../gate/gate.js';
import type { Lifecycle } from '../lifecycle.js';
import type { Core } from '../start-parts.js';
import { installationId } from '../store/instance-id.js';
import { ExternalRecords } from './external-records.js';
import type { EdgeAddress } from './record-plan.js';

/**
 * External records wired to the rest (docs/dns.md): services from the registry, edges from the
 * node store, zones from the DNS providers, events into the events log. Built on every replica
 * (each answers GET /dns/records); it writes only while this replica leads.
 */
export async function startExternalRecords(
  life: Lifecycle,
  core: Core,
  gate: Gate,
  /** The edge nodes (edge/nodes.ts). */
  edges: () => Promise<EdgeAddress[]>,
): Promise<ExternalRecords> {
  const { settings, db, registry, dnsProviders, leader, log } = core;
  const records = new ExternalRecords({
    settings,
    db,
    owner: await installationId(db),
    // The login portal is served by every edge too: guarded services need it reachable.
    services: () => [
      ...registry.list().map((r) => r.service),
      ...(core.portal ? [{ name: 'login portal', hosts: [core.portal] }] : []),
    ],
    onServicesChange: (fn) => registry.onChange(fn),
    zones: async () => (await dnsProviders.list()).map((p) => p.zone),
    recordsFor: (name) => dnsProviders.recordsFor(name),
    edges,
    event: (kind, host, detail) =>
      void gate.event(kind, '', '', detail, { host, path: '' }).catch(() => undefined),
    log: log.child({ part: 'dns-records' }),
  });
  if (records.enabled)
    await life.start(
      leader.whileLeading('external DNS records', async () => {
        await records.start();
        return () => records.stop();
      }),
    );
  return records;
}
