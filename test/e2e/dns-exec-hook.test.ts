import { chmod, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ExecHookProvider } from '../../src/dns/exec-hook.js';
import { querySets } from '../../src/dns/records.js';
import { startBind, type Bind } from '../helpers/bind.js';
import { hookScripts } from '../helpers/dns-hooks.js';
import { until } from '../helpers/net.js';
import { testDir } from '../helpers/tmp.js';

const ZONE = 'hook.test';
let bind: Bind;
let dir: string;
let env: Record<string, string>;

/** A process's state letter from /proc ('gone' when it is). */
async function procState(): Promise<string> {
  const pid = Number(await readFile(join(dir, 'sleep.pid'), 'utf8'));
  return readFile(`/proc/${pid}/stat`, 'utf8')
    .then((s) => s.split(') ')[1]?.[0] ?? 'gone')
    .catch(() => 'gone');
}
/** Gone, or a zombie waiting for PID 1 (which does not reap here): not running any more. */
const ended = async () => ['gone', 'Z', 'X'].includes(await procState());

const hook = (script: string, zone: string, timeoutS = 10) =>
  new ExecHookProvider({ zone, command: join(dir, script), timeoutS, env });

beforeAll(async () => {
  bind = await startBind(ZONE);
  dir = await testDir('gh-hook-');
  env = {
    TSIG_NAME: bind.tsigName,
    TSIG_SECRET: bind.tsigSecret,
    DNS_PORT: bind.server.split(':')[1] as string,
    CALLS: join(dir, 'calls.log'),
    ENV_DUMP: join(dir, 'env.txt'),
    PID_FILE: join(dir, 'sleep.pid'),
    API_KEY: 'hook-api-key-secret',
  };
  for (const [name, text] of Object.entries(hookScripts(ZONE))) {
    await writeFile(join(dir, name), text);
    await chmod(join(dir, name), 0o755);
  }
}, 30_000);
afterAll(async () => {
  await bind?.close();
});

describe('exec hook DNS provider: failures are clear, time-limited, and write nothing', () => {
  it('a failing script is an error naming it, its exit and its stderr (secrets blanked)', async () => {
    const err = await hook('fail.sh', `fail.${ZONE}`)
      .put({ name: `x.fail.${ZONE}`, type: 'A', ttl: 60, values: ['192.0.2.1'] })
      .catch((e: Error) => e);
    expect(String(err)).toMatch(
      /DNS hook fail\.sh cleanup x\.fail\.hook\.test: exit 3: calling the API with key \*\*\*: 403 forbidden/,
    );
    expect(String(err)).not.toContain('hook-api-key-secret');
  });

  it('a hanging script is killed at the timeout with its process group; nothing is written', async () => {
    const started = Date.now();
    const err = await hook('hang.sh', `hang.${ZONE}`, 1)
      .put({ name: `late.hang.${ZONE}`, type: 'A', ttl: 60, values: ['192.0.2.99'] })
      .catch((e: Error) => e);
    expect(String(err)).toMatch(
      /DNS hook hang\.sh cleanup late\.hang\.hook\.test: no answer in 1 s \(killed\)/,
    );
    expect(Date.now() - started).toBeLessThan(5000);
    expect(await ended()).toBe(true);
    // Had the script gone on, it would have added this record after its sleep.
    await new Promise((r) => setTimeout(r, 500));
    const sets = await querySets(bind.server, `late.hang.${ZONE}`);
    expect(sets.find((s) => s.type === 'A')?.values).toEqual(['127.0.0.1']);
  });

  it('a script that exits leaving a child behind succeeds at once; the child is killed', async () => {
    const started = Date.now();
    await hook('linger.sh', `linger.${ZONE}`).remove(`x.linger.${ZONE}`, 'A');
    expect(Date.now() - started).toBeLessThan(3000);
    await until(async () => ((await ended()) ? true : undefined), 3000);
  });

  it('DNS-01 calls are lego-style present/cleanup with the value; a script that is gone is an error', async () => {
    const p = new ExecHookProvider({
      zone: ZONE,
      command: join(dir, 'hook.sh'),
      timeoutS: 10,
      env,
      checkServer: bind.server,
    });
    await p.setTxt(`_acme-challenge.www.${ZONE}`, 'digest_value-123');
    await p.waitFor(`_acme-challenge.www.${ZONE}`, 'digest_value-123', 5000);
    await p.removeTxt(`_acme-challenge.www.${ZONE}`, 'digest_value-123');
    expect(await bind.txt(`_acme-challenge.www.${ZONE}`)).toEqual([]);
    const log = (await readFile(env.CALLS as string, 'utf8')).trim().split('\n');
    expect(log.slice(-2)).toEqual([
      `present _acme-challenge.www.${ZONE}. TXT digest_value-123`,
      `cleanup _acme-challenge.www.${ZONE}. TXT digest_value-123`,
    ]);
    await expect(hook('missing.sh', ZONE).setTxt(`_acme-challenge.${ZONE}`, 'v')).rejects.toThrow(
      /DNS hook missing\.sh present .*ENOENT/,
    );
  });
});
