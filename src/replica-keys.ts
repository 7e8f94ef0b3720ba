import type { Gate } from './gate/gate.js';
import type { Settings } from './model/settings.js';
import type { Logger } from './observe/log.js';
import type { Replication } from './registry/replication.js';
import type { Db } from './store/db.js';
import { previousSessionKey, SESSION_KEY } from './store/rotate.js';
import type { Sealer } from './store/secrets.js';

/** What was rotated (the message on the `keys` topic). */
export type RotatedKey = 'session' | 'data';

export interface KeyDeps {
  db: Db;
  sealer: Sealer;
  gate: Gate;
  settings: Settings;
  log: Logger;
}

/**
 * Rotated keys among replicas (PostgreSQL). A rotation on one replica is announced on the `keys`
 * topic; the others read what is in force from the store at once (and on every reconnect, since an
 * announcement sent while one was away is lost):
 * - the session key and the previous one (its grace period): the gate, this replica's nginx and
 *   its edges switch (Gate.useSessionKey);
 * - the data key: the store says which key is in force (`data_key_check`, re-sealed in the
 *   rotation's transaction), never the secret itself. A replica switches to whichever of its own
 *   secrets (GATEHOUSE_SECRET, GATEHOUSE_SECRET_NEXT) opens it; with neither, its Sealer refuses to
 *   seal or open (`data_key_rotated`, 503), so nothing is ever sealed with a stale key, and it says
 *   so (once in the log, and in `gatehouse status`) until restarted with the new secret.
 * Returns how to announce a rotation made here (nothing to do alone on SQLite).
 */
export function shareKeys(d: KeyDeps, replication: Replication | undefined): (what: RotatedKey) => void {
  const { sealer, settings, log } = d;
  if (settings.secret && settings.secret_next && sealer.secretInForce === settings.secret_next)
    log.warn(
      'the data key was rotated to GATEHOUSE_SECRET_NEXT: it is in use; make it GATEHOUSE_SECRET before the next start',
    );
  if (settings.secret_next && !settings.secret)
    log.warn('GATEHOUSE_SECRET_NEXT is set without GATEHOUSE_SECRET: ignored (the data key is in data.key)');
  if (!replication) return () => undefined;
  let queue: Promise<void> = Promise.resolve();
  let saidRotated = false;
  const run = (what: RotatedKey[]) => {
    queue = queue.then(async () => {
      // The data key first: the session key is sealed with it.
      if (what.includes('data')) await followDataKey();
      if (what.includes('session') && !sealer.rotated) await followSessionKey();
    });
  };
  const followDataKey = async () => {
    const was = sealer.secretInForce;
    const r = await sealer.follow(d.db, [settings.secret, settings.secret_next]).catch((err: unknown) => {
      log.warn({ err: String(err) }, 'could not read which data key is in force');
      return undefined;
    });
    if (r === 'rotated') {
      if (!saidRotated)
        log.error(
          'the data key was rotated: restart this replica with the new GATEHOUSE_SECRET (until then, writes that need the data key answer 503)',
        );
      saidRotated = true;
      return;
    }
    saidRotated = false;
    if (r === 'switched' && sealer.secretInForce !== was)
      log.warn(
        {
          secret:
            sealer.secretInForce === settings.secret_next ? 'GATEHOUSE_SECRET_NEXT' : 'GATEHOUSE_SECRET',
        },
        'the data key was rotated by another replica: switched to the secret that opens the store ' +
          '(make it GATEHOUSE_SECRET before the next start)',
      );
  };
  const followSessionKey = async () => {
    try {
      const row = await d.db
        .selectFrom('secrets')
        .select('value')
        .where('name', '=', SESSION_KEY)
        .executeTakeFirst();
      if (!row) return;
      const key = sealer.open(row.value);
      if (key === d.gate.sessionKey) return;
      // Without a previous key in its grace period, the one in force here ends now.
      const previous = (await previousSessionKey(d.db, sealer)) ?? {
        key: d.gate.sessionKey,
        until: Date.now(),
      };
      await d.gate.useSessionKey(key, previous);
      log.info(
        { previous_valid_until: new Date(previous.until).toISOString() },
        'session key rotated by another replica: in force here too',
      );
    } catch (err) {
      log.error({ err: String(err) }, 'could not load the session key another replica rotated');
    }
  };
  const announce = replication.topic('keys', {
    message: (payload) => {
      if (payload === 'session' || payload === 'data') run([payload]);
    },
    reconnected: () => run(['data', 'session']),
  });
  return (what) => announce(what);
}
