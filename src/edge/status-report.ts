import type { z } from 'zod';
import type { nodeReportSchema } from './nodes.js';

/** What an edge agent tells the control plane (POST /edge/v1/status). */
export type NodeReport = z.input<typeof nodeReportSchema>;

export interface StatusReporterOptions {
  /** The control URL followed now. */
  base: () => string;
  token: string;
  /** The report as of now (read when it is sent, so a report due twice is sent once, the latest). */
  status: () => NodeReport;
  stopped: () => boolean;
}

/**
 * An edge agent's reports of what it holds: one at a time, so a late answer never undoes a newer
 * one; asked again while one is under way, the next is sent after it with what is true then.
 */
export class StatusReporter {
  private reporting: Promise<void> | undefined;
  private again = false;

  constructor(private readonly o: StatusReporterOptions) {}

  later(): void {
    if (this.reporting) {
      this.again = true;
      return;
    }
    this.reporting = (async () => {
      do {
        this.again = false;
        await this.send();
      } while (this.again && !this.o.stopped());
    })().finally(() => {
      this.reporting = undefined;
    });
  }

  private async send(): Promise<void> {
    await fetch(`${this.o.base()}/edge/v1/status`, {
      method: 'POST',
      headers: { authorization: `Bearer ${this.o.token}`, 'content-type': 'application/json' },
      body: JSON.stringify(this.o.status()),
      signal: AbortSignal.timeout(10_000),
    }).catch(() => undefined);
  }
}
