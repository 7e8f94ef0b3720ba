import type { Source as RecordSource } from '../model/service.js';
import type { DockerStatus } from './docker/source.js';
import type { WatchedFileStatus } from './file/watch.js';

/** What /api/v1/status shows under `sources`: each source with something to say, under its name. */
export type SourceStatuses = { file?: WatchedFileStatus; docker?: DockerStatus };

/**
 * A discovery source: something outside Gatehouse (the edge file, Docker, a backend that registers
 * itself, `gatehouse agent`) that writes services into the registry while it runs.
 */
export interface Source {
  /** What the services it writes carry as their source. */
  readonly name: Exclude<RecordSource, 'api'>;
  start(): Promise<void>;
  stop(): Promise<void>;
  /** Its part of /api/v1/status's `sources` (empty: nothing to show). */
  status(): SourceStatuses;
}

/** The `sources` of /api/v1/status, in the sources' order. */
export function sourceStatuses(sources: readonly Source[]): SourceStatuses {
  return sources.reduce<SourceStatuses>((all, s) => ({ ...all, ...s.status() }), {});
}
