import type { Gate } from '../../gate/gate.js';
import type { Settings } from '../../model/settings.js';
import { durationMs } from '../../model/values.js';
import type { Logger } from '../../observe/log.js';
import type { Registry } from '../../registry/registry.js';
import type { Source } from '../source.js';
import { vpnOnlySources } from './labels.js';

/**
 * Docker (`docker_endpoint`) as configured: container labels publish services, watched in the
 * background. dockerode is loaded here, only when Docker is configured: it brings ssh2, whose
 * WebAssembly poly1305 alone reserves 16 MB on every instance that loads it.
 */
export async function openDockerSource(
  endpoint: string,
  settings: Settings,
  registry: Registry,
  gate: Pick<Gate, 'event'>,
  log: Logger,
): Promise<Source> {
  const { DockerSource } = await import('./source.js');
  return new DockerSource({
    endpoint,
    ...(settings.docker_network ? { network: settings.docker_network } : {}),
    vpnOnly: vpnOnlySources(settings),
    resyncMs: durationMs(settings.docker_resync_interval),
    registry,
    log,
    // Recorded with the other events (GET /api/v1/events?kind=docker_labels).
    onProblems: (container, problems) =>
      void gate
        .event(
          'docker_labels',
          '',
          '',
          `${container}: ${problems.map((p) => `${p.label}: ${p.message}`).join('; ')}`.slice(0, 1000),
        )
        .catch(() => undefined),
  });
}
