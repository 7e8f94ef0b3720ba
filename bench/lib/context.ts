import { startBackend, type Backend } from './backend.js';
import { startBenchGatehouse, type BenchGatehouse } from './gatehouse.js';

/**
 * What several benchmarks share, started on first use: the backend, and one Gatehouse that
 * accumulates bulk registrations (P3 grows it to 1,000 then 10,000; P2 and P8 reuse the 10,000)
 * because seeding 10,000 routes is the slowest part of setting up.
 */
export class BenchContext {
  private backendP: Promise<Backend> | undefined;
  private bigP: Promise<BenchGatehouse> | undefined;

  backend(): Promise<Backend> {
    this.backendP ??= startBackend();
    return this.backendP;
  }

  bulkGatehouse(): Promise<BenchGatehouse> {
    this.bigP ??= startBenchGatehouse();
    return this.bigP;
  }

  /** Stops the shared Gatehouse first (its nginx proxies to the backend), then the backend. */
  async close(): Promise<void> {
    const big = await this.bigP?.catch(() => undefined);
    await big?.close();
    const be = await this.backendP?.catch(() => undefined);
    await be?.stop();
  }
}
