import type { Gate } from './gate/gate.js';
import type { Logger } from './observe/log.js';
import type { Replication } from './registry/replication.js';

/**
 * Link admissions among replicas (PostgreSQL). The store holds which addresses each link admitted;
 * nginx and the edges read each replica's own admission files (`l/<service>/<ip>`). An admission or
 * a link revoked on one replica is announced (`<service> <ip>`) on the `links` topic, and the others
 * write or remove the same file from what the store says now. On every (re)connect, and before
 * this returns, the files are made the store's again (one missed while away never stays wrong).
 * Sign-in failures and portal hand-over codes need nothing here: they live in the store itself.
 */
export async function shareLinks(gate: Gate, replication: Replication, log: Logger): Promise<void> {
  const resync = async () => {
    const changed = await gate.links.syncAdmissions();
    if (changed > 0) log.info({ files: changed }, 'link admissions read again from the store');
  };
  const announce = replication.topic('links', {
    message: (payload) => {
      const [service = '', ip = ''] = payload.split(' ');
      void gate.links
        .refreshAddress(service, ip)
        .then((ok) => {
          if (!ok)
            log.warn({ payload: payload.slice(0, 200) }, 'ignored a link admission that names no address');
        })
        .catch((err: unknown) =>
          log.error({ err: String(err) }, 'could not write a link admission another replica made'),
        );
    },
    reconnected: () =>
      void resync().catch((err: unknown) =>
        log.error({ err: String(err) }, 'could not read the link admissions from the store'),
      ),
  });
  gate.links.onAdmission((service, ip) => announce(`${service} ${ip}`));
  await resync();
}

/**
 * API keys among replicas: a key made or revoked on one replica (or a user's change that rewrites
 * their keys) is announced on the `api_keys` topic, and the others make their key files the
 * store's again. Keys are few, so a whole sync per change costs little and cannot miss one.
 */
export async function shareApiKeys(gate: Gate, replication: Replication, log: Logger): Promise<void> {
  const resync = () =>
    void gate.apiKeys
      .sync()
      .then((changed) => {
        if (changed > 0) log.info({ files: changed }, 'API key files read again from the store');
      })
      .catch((err: unknown) => log.error({ err: String(err) }, 'could not read the API keys from the store'));
  const announce = replication.topic('api_keys', { message: resync, reconnected: resync });
  gate.apiKeys.onChange(() => announce('changed'));
  await gate.apiKeys.sync();
}
