import type { Source, SourceStatuses } from '../source.js';

/** An HTTP server that listens while started, at `address` once it is. */
export interface Listener {
  readonly address: string;
  start(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Self-registration as a source: backends (and `gatehouse agent`) register over HTTP. The HTTP app
 * is the API's (api/register.ts builds it, with the templates of this folder); this source is when
 * and where it listens.
 */
export class RegisterSource implements Source {
  readonly name = 'register';

  constructor(private readonly listener: Listener) {}

  /** The bound address, once started (a port of 0 picks one). */
  get address(): string {
    return this.listener.address;
  }

  start(): Promise<void> {
    return this.listener.start();
  }

  stop(): Promise<void> {
    return this.listener.stop();
  }

  /** Registrations show as services; nothing of its own in status. */
  status(): SourceStatuses {
    return {};
  }
}
