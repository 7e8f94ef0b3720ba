import type { Gate } from '../gate/gate.js';
import type { Lifecycle } from '../lifecycle.js';
import { durationMs } from '../model/values.js';
import type { Core } from '../start-parts.js';
import { installationId } from '../store/instance-id.js';
import { ExternalRecords } from './external-records.js';
import { PublicAddress } from './public-address.js';
import type { EdgeAddress } from './record-plan.js';

/**
 * External records wired to the rest (docs/dns.md): services from the registry, edges from the
 * node store (and this node at its public address when dynamic DNS watches it), zones from the DNS
 * providers, events into the events log. Built on every replica (each answers GET /dns/records);
 * it writes, and the public address is watched, only while this replica leads.
 */
export async function startExternalRecords(
  life: Lifecycle,
  core: Core,
  gate: Gate,
  /** The edge nodes (edge/nodes.ts). */
  edges: () => Promise<EdgeAddress[]>,
): Promise<{ externalRecords: ExternalRecords; publicAddress: PublicAddress }> {
  const { settings, db, registry, dnsProviders, leader, log } = core;
  const publicAddress = new PublicAddress({
    source: settings.public_address_source,
    intervalMs: durationMs(settings.public_address_interval),
    db,
    event: (kind, detail) => void gate.event(kind, '', '', detail).catch(() => undefined),
    log: log.child({ part: 'public-address' }),
  });
  if (publicAddress.enabled)
    await life.start(
      leader.whileLeading('public address', async () => {
        await publicAddress.start();
        return () => publicAddress.stop();
      }),
    );
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
    edges: async () => [...(await edges()), ...(await publicAddress.edges())],
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
  // A new public address is followed at once (not at the next look at the edges).
  life.onStop(publicAddress.onChange(() => records.kick('changed')));
  return { externalRecords: records, publicAddress };
}
