import type { Logger } from './observe/log.js';

/** Something that runs while Gatehouse runs: started with it, stopped with it. */
export interface Part {
  start(): Promise<void> | void;
  stop(): Promise<void> | void;
}

/**
 * What was started, stopped in reverse order at shutdown. A part is recorded before its start, so
 * one that fails half-way (nginx up, its first config refused) is stopped too. A failed stop is
 * logged and the rest still run.
 */
export class Lifecycle {
  private readonly stops: (() => Promise<void>)[] = [];

  constructor(private readonly log: Logger) {}

  async start<P extends Part>(part: P): Promise<P> {
    this.onStop(() => part.stop());
    await part.start();
    return part;
  }

  /** A step for shutdown that undoes no start (a file written, a flag to drop): runs before earlier ones. */
  onStop(step: () => Promise<void> | void): void {
    this.stops.push(async () => step());
  }

  async stopAll(): Promise<void> {
    for (const step of this.stops.splice(0).reverse())
      await step().catch((err: unknown) => this.log.error({ err: String(err) }, 'shutdown step failed'));
  }
}

/** A part that runs `task` every `ms`; the timer never holds the process open, a failed run waits for the next. */
export function every(ms: number, task: () => Promise<unknown>): Part {
  let timer: NodeJS.Timeout | undefined;
  return {
    async start() {
      timer = setInterval(() => void task().catch(() => undefined), ms);
      timer.unref();
    },
    async stop() {
      clearInterval(timer);
    },
  };
}
