import { appendFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { AccessLogPipeline } from '../../src/edge/access-log-pipeline.js';
import { RouteResolver } from '../../src/edge/access-log-routes.js';
import type { AccessLogRecord } from '../../src/model/access-log.js';
import { createLogger } from '../../src/observe/log.js';
import { TrafficCounters } from '../../src/observe/traffic-metrics.js';
import { accessLine as line } from '../helpers/access-lines.js';
import { testDir } from '../helpers/tmp.js';

/**
 * An edge's reader stopped and started again (the agent restarted, or Gatehouse upgraded): the
 * lines nginx wrote meanwhile are read then, none twice — the position of what the sink kept is
 * saved beside the log.
 */
describe('the access log reader resumes where the last run left', () => {
  async function run(file: string, kept: string[]) {
    const sink = {
      ingest: (records: readonly AccessLogRecord[]) => {
        kept.push(...records.map((r) => r.path));
        return Promise.resolve();
      },
    };
    const p = new AccessLogPipeline({
      file,
      node: 'edge-a',
      counters: new TrafficCounters(1000, 0),
      sink,
      routes: new RouteResolver(),
      log: createLogger('silent'),
      tail: { pollMs: 60_000 },
    });
    await p.start();
    return p;
  }

  it('reads the lines written while it was stopped, none twice', async () => {
    const file = join(await testDir('gh-resume-'), 'access.log');
    writeFileSync(file, line('/before-first-start'));
    const kept: string[] = [];
    let p = await run(file, kept);
    appendFileSync(file, line('/a') + line('/b'));
    await p.poll();
    await p.stop();
    expect(kept).toEqual(['/a', '/b']);
    appendFileSync(file, line('/while-stopped-1') + line('/while-stopped-2'));
    p = await run(file, kept);
    await p.poll();
    appendFileSync(file, line('/after'));
    await p.poll();
    await p.stop();
    expect(kept).toEqual(['/a', '/b', '/while-stopped-1', '/while-stopped-2', '/after']);
  });

  it('a log rotated while it was stopped: the new file is read from its start', async () => {
    const dir = await testDir('gh-resume-rot-');
    const file = join(dir, 'access.log');
    writeFileSync(file, '');
    const kept: string[] = [];
    let p = await run(file, kept);
    appendFileSync(file, line('/a'));
    await p.poll();
    await p.stop();
    renameSync(file, join(dir, 'access.log.1'));
    writeFileSync(file, line('/in-the-new-file'));
    p = await run(file, kept);
    await p.poll();
    await p.stop();
    expect(kept).toEqual(['/a', '/in-the-new-file']);
  });

  it('a damaged position file is ignored (only new lines, as on a first start)', async () => {
    const file = join(await testDir('gh-resume-bad-'), 'access.log');
    writeFileSync(file, line('/old'));
    writeFileSync(`${file}.position`, '{"ino":"x"');
    const kept: string[] = [];
    const p = await run(file, kept);
    appendFileSync(file, line('/new'));
    await p.poll();
    await p.stop();
    expect(kept).toEqual(['/new']);
  });
});
