import type { Logger } from '../observe/log.js';
import type { Gate } from './gate.js';
import { Handovers } from './handovers.js';
import { FailureLimiter } from './limiter.js';
import type { Brand } from './portal.js';

/** What the gate's route groups share: the gate, its log and brand, the sign-in throttles, hand-overs. */
export interface GateRouteContext {
  readonly gate: Gate;
  readonly log: Logger;
  readonly brand: Brand;
  /** Failures per client address (basic checks and link passwords count under their own keys). */
  readonly byIp: FailureLimiter;
  /** Password failures per username. */
  readonly byUser: FailureLimiter;
  /** Second-factor failures per user: a correct password does not clear them. */
  readonly byTotp: FailureLimiter;
  /** Sign-in links asked for, per username or email given (each ask counts). */
  readonly byMail: FailureLimiter;
  readonly handovers: Handovers;
}

export function gateRouteContext(gate: Gate, log: Logger): GateRouteContext {
  // In the store: every replica sharing it counts the same failures and takes the same codes.
  const db = gate.opts.db;
  return {
    gate,
    log,
    brand: { name: gate.opts.brand },
    byIp: new FailureLimiter(db, 'ip', 20, 5 * 60_000),
    byUser: new FailureLimiter(db, 'user', 5, 5 * 60_000),
    byTotp: new FailureLimiter(db, 'totp', 5, 5 * 60_000),
    byMail: new FailureLimiter(db, 'mail', 5, 15 * 60_000),
    handovers: new Handovers(db, gate.opts.sealer),
  };
}
