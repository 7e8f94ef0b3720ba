import type { Source as RecordSource } from '../model/service.js';
import type { Problem } from './docker/draft.js';
import type { KnownNames } from '../dns/upstream-names.js';

/** The edge file's report: what was applied, and why the current content is not. */
export interface WatchedFileStatus {
  file: string;
  owner: string;
  /** Registry version of the last successful apply. */
  appliedVersion?: number;
  appliedAt?: string;
  /** Why the file's current content is not applied (the last good one still is). */
  lastError?: { message: string; at: string };
}

/** Docker's report: the connection, and each container that opted in. */
export interface DockerContainerStatus {
  name: string;
  id: string;
  /** Services of this container that are live (in the registry). */
  services: string[];
  problems: Problem[];
}

export interface DockerStatus {
  endpoint: string;
  connected: boolean;
  /** When the last full look at every container finished. */
  lastSync?: string;
  lastError?: string;
  containers: DockerContainerStatus[];
}

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
  /** Names upstreams may use that it knows the addresses of (Docker's containers). */
  readonly names?: KnownNames;
}

/** The `sources` of /api/v1/status, in the sources' order. */
export function sourceStatuses(sources: readonly Source[]): SourceStatuses {
  return sources.reduce<SourceStatuses>((all, s) => ({ ...all, ...s.status() }), {});
}
