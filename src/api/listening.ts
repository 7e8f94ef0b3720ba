import type { FastifyInstance } from 'fastify';
import { rm } from 'node:fs/promises';
import type { ListenAddress } from '../model/settings.js';

/** A Fastify app listening on `at` while started (a socket file in the way is replaced). */
export class Listening {
  /** The bound address, once started (a port of 0 picks one). */
  address = '';

  constructor(
    private readonly app: FastifyInstance,
    private readonly at: ListenAddress,
  ) {}

  async start(): Promise<void> {
    const { path, host, port } = this.at;
    if (path) await rm(path, { force: true });
    this.address = await (path ? this.app.listen({ path }) : this.app.listen({ host, port: port ?? 0 }));
  }

  stop(): Promise<void> {
    return this.app.close();
  }
}
