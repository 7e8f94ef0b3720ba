import type { Logger } from '../observe/log.js';
import type { Db } from '../store/db.js';
import type { Sealer } from '../store/secrets.js';
import { AlertChannels } from './channels.js';
import { Delivery, type Backoff } from './delivery.js';
import { AlertEngine } from './engine.js';
import { StoredEvents } from './rules-events.js';
import { RuleChecks, type AlertSources } from './rules.js';
import { AlertStore } from './store.js';

/** Security events that may change what the rules find: looked at as soon as one happens. */
const POKE_KINDS = new Set([
  'login_failed',
  'totp_failed',
  'link_used',
  'tunnel_up',
  'tunnel_down',
  'cert_order_failed',
  'cert_expiring',
]);

export interface AlertServiceOptions {
  db: Db;
  sealer: Sealer;
  log: Logger;
  sources: Omit<AlertSources, 'events'>;
  /** Hooks that say "look now" (an upstream went down, a node reported, a security event). */
  onEdgeSettled?: (fn: () => void) => () => void;
  onNodeReported?: (fn: () => void) => () => void;
  onSecurityEvent?: (fn: (kind: string) => void) => () => void;
  intervalMs?: number;
  backoff?: Backoff;
}

/**
 * The alert rules at work (docs/alerts.md): the engine, the rules' checks and the delivery queues,
 * started as a part that runs while this replica leads (wrap `part` in leader.whileLeading).
 */
export class AlertService {
  readonly store: AlertStore;
  readonly channels: AlertChannels;
  engine: AlertEngine | undefined;
  delivery: Delivery | undefined;

  constructor(private readonly o: AlertServiceOptions) {
    this.store = new AlertStore(o.db);
    this.channels = new AlertChannels(o.db, o.sealer);
  }

  /** Starts the engine; returns its stop. */
  async run(): Promise<() => Promise<void>> {
    const { o } = this;
    const log = o.log;
    const saved = await this.store.state();
    let alertsNow = saved.alerts;
    let saving: NodeJS.Timeout | undefined;
    const save = async () => {
      await this.store.saveState({ alerts: alertsNow, channels: delivery.view() });
    };
    const delivery = new Delivery({
      send: (name, m) => this.channels.send(name, m),
      channels: async () => (await this.channels.list()).map((c) => c.name),
      log,
      ...(o.backoff ? { backoff: o.backoff } : {}),
      onChange: () => {
        saving ??= setTimeout(() => {
          saving = undefined;
          void save().catch((err: unknown) =>
            log.warn({ err: String(err) }, 'alerts: could not store the state'),
          );
        }, 100);
      },
    });
    delivery.restore(saved.channels);
    const checks = new RuleChecks({ ...o.sources, events: new StoredEvents(o.db) });
    const engine = new AlertEngine({
      rules: () => this.store.rules(),
      conditions: (rules, now) => checks.conditions(rules, now),
      out: delivery,
      log,
      ...(o.intervalMs ? { intervalMs: o.intervalMs } : {}),
      save: async (alerts) => {
        alertsNow = alerts;
        await save();
      },
    });
    engine.restore(saved.alerts);
    this.engine = engine;
    this.delivery = delivery;
    const poke = () => engine.poke();
    // Nodes report often (every apply, every 25 s each): a burst of reports is one look.
    let soon: NodeJS.Timeout | undefined;
    const pokeSoon = () => {
      soon ??= setTimeout(() => {
        soon = undefined;
        engine.poke();
      }, 100);
      soon.unref?.();
    };
    const offs = [
      o.onEdgeSettled?.(poke),
      o.onNodeReported?.(pokeSoon),
      o.onSecurityEvent?.((kind) => {
        // The event is stored after listeners hear of it: look a moment later.
        if (POKE_KINDS.has(kind)) setTimeout(poke, 50).unref();
      }),
    ];
    engine.start();
    log.debug('alert rules: engine started');
    return async () => {
      for (const off of offs) off?.();
      await engine.stop();
      delivery.stop();
      if (saving) clearTimeout(saving);
      if (soon) clearTimeout(soon);
      this.engine = undefined;
      this.delivery = undefined;
    };
  }

  /** Whether the error-rate rule has its source (the traffic metrics). */
  get hasErrorRates(): boolean {
    return this.o.sources.errorRates !== undefined;
  }

  /** A lifecycle part running the engine (give it to leader.whileLeading). */
  leaderJob(): () => Promise<() => Promise<void>> {
    return () => this.run();
  }

  /** Rules changed: look again now (on the leader). */
  rulesChanged(): void {
    this.engine?.poke();
  }
}
