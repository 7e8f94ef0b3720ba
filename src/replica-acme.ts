import type { EdgePublisher } from './edge/publisher.js';
import type { Logger } from './observe/log.js';
import type { Replication } from './registry/replication.js';
import type { Db } from './store/db.js';
import type { Leader } from './store/leader.js';
import { SharedChallenges } from './tls/shared-challenges.js';

/**
 * ACME HTTP-01 answers in the shared store, served by every replica's nginx and edges (see
 * SharedChallenges); among replicas on PostgreSQL they follow each other on the `acme` topic and
 * the leader waits for the replicas that are up to serve an answer before the CA looks.
 */
export function sharedChallenges(
  db: Db,
  publisher: EdgePublisher,
  leader: Leader,
  replication: Replication | undefined,
  log: Logger,
): SharedChallenges {
  return new SharedChallenges(
    db,
    publisher.serveChallenges,
    log,
    replication
      ? {
          topic: (name, handlers) => replication.topic(name, handlers),
          self: leader.id,
          replicas: async () => (await leader.status()).replicas,
        }
      : undefined,
  );
}
