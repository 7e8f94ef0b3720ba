import type { SourceStatuses } from '../sources/source.js';
import type { LocalEdge } from '../edge/local-edge.js';
import type { Gate } from '../gate/gate.js';
import type { CertStore } from '../tls/store.js';
import type { CertManager } from '../tls/manager.js';
import type { DnsProviders } from '../dns/providers.js';
import type { Settings, Template } from '../model/settings.js';
import type { Registry } from '../registry/registry.js';
import type { Leader } from '../store/leader.js';
import type { Sealer } from '../store/secrets.js';
import type { ExternalRecords } from '../dns/external-records.js';
import type { PublicAddress } from '../dns/public-address.js';

export interface ApiContext {
  registry: Registry;
  edge: LocalEdge;
  settings: Settings;
  gate: Gate;
  certs: CertStore;
  certManager?: CertManager;
  dnsProviders: DnsProviders;
  /** Registration templates from edge files, by file. */
  fileTemplates: Map<string, Record<string, Template>>;
  /** Template names edge files may not redefine (built in, from settings). */
  baseTemplates: ReadonlySet<string>;
  /** What each discovery source reports (see /api/v1/status). */
  sourceStatus: () => SourceStatuses;
  /** The leader election among replicas (absent: this process alone). */
  leader?: Leader;
  /** The data key (status says when another replica rotated it away from this one). */
  sealer?: Sealer;
  /** External DNS records (status summarises them). */
  externalRecords?: ExternalRecords;
  /** Dynamic DNS: the public address watched (status shows it). */
  publicAddress?: PublicAddress;
  /** With `?wait=true`: waits until the version is live on the proxy and reports how it went. */
  maybeWait(
    version: number,
    wait: string | undefined,
  ): Promise<{ applied?: { version: number; generation?: string } }>;
}
