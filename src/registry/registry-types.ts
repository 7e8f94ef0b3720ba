import type { Service } from '../model/service.js';
import type { IsLocal } from './claims.js';

/** The registry's vocabulary: what a write is, what it answers, what listeners hear. */

/** Facts about the machine the registry checks writes against (absent in pure unit tests). */
export interface HostChecks {
  isLocal?: IsLocal;
  /** Whether a TCP port is free to listen on; a new TCP route on a busy port is refused. */
  portFree?: (port: number) => Promise<boolean>;
  /** Host names Gatehouse itself answers (the login portal), with a name for the message. */
  reservedHosts?: ReadonlyMap<string, string>;
}

export type Op =
  | {
      kind: 'put' | 'create';
      service: Service;
      /** Write only if the record's `meta.updated_at` is still this ('absent': it must not exist). */
      ifUpdatedAt?: string;
    }
  | { kind: 'delete'; name: string };

export interface ChangeEvent {
  version: number;
  names: string[];
}

export interface WriteResult {
  version: number;
  /** Names whose record changed; empty when the write was a no-op. */
  changed: string[];
  /** Of those, the names that did not exist before. */
  created: string[];
}
