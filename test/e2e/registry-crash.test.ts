import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { pathToFileURL } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { Registry } from '../../src/registry/registry.js';
import { checkpointerOf, openSqlite, sqliteOf } from '../../src/store/db.js';
import { REPO } from '../helpers/netns.js';
import { testDir } from '../helpers/tmp.js';

/**
 * The writer, in a process of its own (the built registry, as Gatehouse runs it): 16 concurrent
 * clients register services back to back; each name is printed once its registration is answered.
 * Checkpoints run every 5 ms in their thread, so the kill lands among them.
 */
const WRITER = (file: string) => `
const { openSqlite, checkpointerOf } = await import(${JSON.stringify(pathToFileURL(join(REPO, 'dist/src/store/db.js')).href)});
const { Registry } = await import(${JSON.stringify(pathToFileURL(join(REPO, 'dist/src/registry/registry.js')).href)});
const db = await openSqlite(${JSON.stringify(file)}, { checkpointMs: 5 });
const r = await Registry.open(db, new Map());
const cp = checkpointerOf(db);
setInterval(() => process.stdout.write('checkpoints ' + cp.stats.passes + ' ' + (cp.stats.last?.checkpointed ?? 0) + '\\n'), 20);
const meta = { actor: 'crash-test', source: 'register' };
const client = async (c) => {
  for (let n = 0; ; n++) {
    const name = 'c' + c + '-' + n;
    await r.put({ name, hosts: [name + '.crash.test'], routes: [{ path: '/', upstreams: ['10.0.0.1:80'] }] }, meta);
    process.stdout.write('ok ' + name + '\\n');
  }
};
for (let c = 0; c < 16; c++) void client(c);
`;

describe('registry durability across a crash', () => {
  const children: ChildProcess[] = [];
  afterEach(() => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  });

  it('keeps every answered registration when the process is killed among group commits and checkpoints', async () => {
    const dir = await testDir('gh-crash-');
    const file = join(dir, 'gatehouse.db');
    const child = spawn(process.execPath, ['--input-type=module', '-e', WRITER(file)], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.push(child);
    let stderr = '';
    child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    const answered: string[] = [];
    let checkpointed = 0;
    let passes = 0;
    const lines = createInterface({ input: child.stdout! });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () =>
          reject(new Error(`writer too slow: ${answered.length} answered, ${passes} checkpoints; ${stderr}`)),
        50_000,
      );
      child.on('exit', () => reject(new Error(`writer exited early: ${stderr}`)));
      lines.on('line', (line) => {
        const [kind, a, b] = line.split(' ');
        if (kind === 'ok' && a) answered.push(a);
        if (kind === 'checkpoints') [passes, checkpointed] = [Number(a), Number(b)];
        // Enough writes that checkpoints have copied some into the database file meanwhile.
        if (answered.length >= 3000 && passes >= 5 && checkpointed > 0) {
          clearTimeout(timer);
          resolve();
        }
      });
    });
    child.kill('SIGKILL');
    await once(child, 'exit');
    lines.close();
    expect(child.signalCode).toBe('SIGKILL');

    // Reopened as Gatehouse would after the crash: everything answered is there, versions unbroken.
    const db = await openSqlite(file);
    try {
      const r = await Registry.open(db, new Map());
      const stored = new Set(r.list().map((x) => x.service.name));
      const lost = answered.filter((n) => !stored.has(n));
      expect(lost).toEqual([]);
      // Unanswered writes may have landed too (stored, not yet answered): never half of one.
      expect(stored.size).toBeGreaterThanOrEqual(answered.length);
      expect(r.version).toBe(stored.size);
      const versions = await db
        .selectFrom('versions')
        .select((eb) => [eb.fn.countAll<number>().as('n'), eb.fn.min<number>('version').as('lo')])
        .executeTakeFirstOrThrow();
      expect([Number(versions.n), Number(versions.lo)]).toEqual([stored.size, 1]);
      expect(sqliteOf(db).pragma('integrity_check', { simple: true })).toBe('ok');
      // The writer only checkpoints by itself past 10,000 WAL pages; the thread does it here.
      expect(sqliteOf(db).pragma('wal_autocheckpoint', { simple: true })).toBe(10_000);
      const cp = await checkpointerOf(db)!.now();
      expect(cp.checkpointed).toBe(cp.log);
    } finally {
      await db.destroy();
    }
  });
});
