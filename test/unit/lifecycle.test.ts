import { describe, expect, it } from 'vitest';
import { every, Lifecycle, type Part } from '../../src/lifecycle.js';
import type { Logger } from '../../src/observe/log.js';
import { sourceStatuses, type Source } from '../../src/sources/source.js';

/** A logger that keeps what was logged at error level. */
function errorLog(): { log: Logger; errors: unknown[] } {
  const errors: unknown[] = [];
  const log = { error: (obj: unknown, msg: string) => errors.push([obj, msg]) } as unknown as Logger;
  return { log, errors };
}

function part(name: string, seen: string[], fail: { start?: boolean; stop?: boolean } = {}): Part {
  return {
    async start() {
      seen.push(`start ${name}`);
      if (fail.start) throw new Error(`${name} would not start`);
    },
    async stop() {
      seen.push(`stop ${name}`);
      if (fail.stop) throw new Error(`${name} would not stop`);
    },
  };
}

describe('lifecycle', () => {
  it('stops what was started in reverse order, steps included; a failed stop is logged and the rest still run', async () => {
    const { log, errors } = errorLog();
    const life = new Lifecycle(log);
    const seen: string[] = [];
    life.onStop(() => void seen.push('close db'));
    await life.start(part('a', seen));
    await life.start(part('b', seen, { stop: true }));
    await life.start(part('c', seen));
    life.onStop(() => void seen.push('first step'));
    await life.stopAll();
    expect(seen).toEqual([
      'start a',
      'start b',
      'start c',
      'first step',
      'stop c',
      'stop b',
      'stop a',
      'close db',
    ]);
    expect(errors).toEqual([[{ err: 'Error: b would not stop' }, 'shutdown step failed']]);
    // A second close has nothing left to stop.
    await life.stopAll();
    expect(seen).toHaveLength(8);
  });

  it('stops a part that failed half-way, with those before it', async () => {
    const life = new Lifecycle(errorLog().log);
    const seen: string[] = [];
    await life.start(part('a', seen));
    await expect(life.start(part('b', seen, { start: true }))).rejects.toThrow('b would not start');
    await life.stopAll();
    expect(seen).toEqual(['start a', 'start b', 'stop b', 'stop a']);
  });

  it('runs a repeated task until stopped; a failed run waits for the next', async () => {
    let runs = 0;
    const task = every(5, async () => {
      runs++;
      throw new Error('not this time');
    });
    await task.start();
    await new Promise((r) => setTimeout(r, 40));
    await task.stop();
    const after = runs;
    expect(after).toBeGreaterThan(1);
    await new Promise((r) => setTimeout(r, 20));
    expect(runs).toBe(after);
  });
});

describe('sources', () => {
  it('report in /api/v1/status under their names, in their order, leaving out those with nothing to say', () => {
    const source = (name: Source['name'], status: ReturnType<Source['status']>): Source => ({
      name,
      start: async () => undefined,
      stop: async () => undefined,
      status: () => status,
    });
    const file = { file: '/etc/gatehouse/edge.yaml', owner: 'edge.yaml', appliedVersion: 3 };
    const docker = { endpoint: 'unix:///var/run/docker.sock', connected: true, containers: [] };
    const all = sourceStatuses([
      source('file', { file }),
      source('docker', { docker }),
      source('agent', {}),
      source('register', {}),
    ]);
    expect(JSON.stringify(all)).toBe(JSON.stringify({ file, docker }));
    expect(sourceStatuses([source('register', {})])).toEqual({});
  });
});
