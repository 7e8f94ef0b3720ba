import type { Gate } from './gate/gate.js';
import type { Logger } from './observe/log.js';
import type { PeerRevocation, Replication } from './registry/replication.js';

/**
 * Sign-in state among replicas (PostgreSQL); nginx and the edges read it from each replica's own
 * gate files. Revocations (sign-outs, revoked sessions, changed users) made on one replica are
 * announced to the others, which write the same files; what came from a peer is not announced
 * again. On every (re)connect, sessions the store holds as revoked are written where missing, so
 * one revoked while this replica was not listening never keeps passing here. The ways to sign in
 * (users with passwords, providers) are looked at again when any replica changed them.
 */
export async function shareRevocations(
  gate: Gate,
  replication: Replication,
  local: (kind: 'r' | 'u', id: string, ms: number) => Promise<void>,
  log: Logger,
): Promise<void> {
  // The ways to sign in (files nginx reads) follow users and providers changed on any replica.
  gate.onAvailability(() => replication.announceUsers());
  replication.onUsers(
    () =>
      void gate
        .refreshAvailability({ fromPeer: true })
        .catch((err: unknown) =>
          log.error({ err: String(err) }, 'could not look at the ways to sign in again'),
        ),
  );
  const fromPeers = new Set<string>();
  const key = (r: PeerRevocation) => `${r.kind} ${r.id} ${r.ms}`;
  gate.onRevocation(async (kind, id, ms) => {
    await local(kind, id, ms);
    if (!fromPeers.has(key({ kind, id, ms }))) replication.announceRevocation({ kind, id, ms });
  });
  const peer = async (r: PeerRevocation, fn: () => Promise<unknown>) => {
    fromPeers.add(key(r));
    try {
      await fn();
    } finally {
      fromPeers.delete(key(r));
    }
  };
  replication.onRevocations(
    (r) =>
      void peer(r, () => gate.sessions.revokedElsewhere(r.kind, r.id, r.ms)).catch((err: unknown) =>
        log.error({ err: String(err) }, 'could not write a revocation another replica made'),
      ),
    () =>
      void gate.sessions
        .revokedInStore()
        .then((n) => {
          if (n > 0)
            log.warn({ sessions: n }, 'revoked sessions missed while away from the database: now refused');
        })
        .catch((err: unknown) =>
          log.error({ err: String(err) }, 'could not read the revoked sessions from the store'),
        ),
  );
  // Before this replica's nginx starts (it reads the files then): what the store holds now.
  const missed = await gate.sessions.revokedInStore();
  if (missed > 0) log.info({ sessions: missed }, 'revoked sessions read from the store');
}
