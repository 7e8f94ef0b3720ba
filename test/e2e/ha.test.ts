import { spawn } from 'node:child_process';
import { rm, stat, writeFile } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHetznerCloudFake, type HetznerCloudFake } from '../helpers/hetzner-cloud-fake.js';
import { freePort, startServer, until, type TestServer } from '../helpers/net.js';
import { HaPair, HETZNER } from '../helpers/ha-pair.js';
import { now, requirePrerequisites, runCli, sleep } from '../helpers/netns.js';
import { testDir } from '../helpers/tmp.js';

let dir: string;

beforeAll(async () => {
  requirePrerequisites();
  dir = await testDir('gh-ha-');
});
afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** `gatehouse ha keepalived --out OUT --interface eth0` with these flags (each `--name value`). */
const keepalived = (out: string, flags: Record<string, string>) =>
  runCli([
    'ha',
    'keepalived',
    '--out',
    out,
    '--interface',
    'eth0',
    ...Object.entries(flags).flatMap(([k, v]) => [`--${k}`, v]),
  ]);

describe('gatehouse ha keepalived', () => {
  it('writes keepalived.conf and its scripts, the one holding the command readable by root only', async () => {
    const out = join(dir, 'conf');
    const r = await keepalived(out, {
      vip: '10.211.255.100/24',
      peer: '10.211.255.12',
      'source-ip': '10.211.255.11',
      priority: '150',
      'on-master': 'echo moved',
    });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain(`keepalived -t -f ${out}/keepalived.conf`);
    expect(((await stat(join(out, 'notify.sh'))).mode & 0o777).toString(8)).toBe('700');
    expect(((await stat(join(out, 'check-edge.sh'))).mode & 0o777).toString(8)).toBe('755');
  });

  it('refuses a bad option with a non-zero exit that names it, and writes nothing', async () => {
    const out = join(dir, 'bad');
    const r = await keepalived(out, {
      vip: '10.0.0.100/24',
      peer: '10.0.0.12',
      priority: '150',
      advert: 'fast',
    });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/^error: --advert: /);
    await expect(stat(out)).rejects.toThrow();
  });

  describe('check-edge.sh: is the local nginx serving?', () => {
    let notFound: TestServer;
    let silent: Server;
    const sockets: Socket[] = [];
    beforeAll(async () => {
      notFound = await startServer((_req, res) => {
        res.statusCode = 404;
        res.end('no such host');
      });
      silent = createServer((s) => sockets.push(s));
      await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    });
    afterAll(async () => {
      await notFound?.close();
      for (const s of sockets) s.destroy();
      await new Promise((r) => silent?.close(r));
    });

    const checkAgainst = async (port: number) => {
      const out = join(dir, `check-${port}`);
      const r = await keepalived(out, {
        vip: '10.0.0.100/24',
        peer: '10.0.0.12',
        priority: '100',
        'check-url': `http://127.0.0.1:${port}/`,
      });
      expect(r.status, r.stderr).toBe(0);
      const t0 = performance.now();
      // Not spawnSync: the servers it talks to run in this process.
      const child = spawn('bash', [join(out, 'check-edge.sh')], { stdio: 'ignore', timeout: 5000 });
      const status = await new Promise<number | null>((r) => child.once('exit', r));
      return { status, ms: performance.now() - t0 };
    };

    it('any HTTP answer, a 404 too, means up', async () => {
      expect((await checkAgainst(notFound.port)).status).toBe(0);
    });

    it('a refused connection means down', async () => {
      expect((await checkAgainst(await freePort())).status).not.toBe(0);
    });

    it('a connection that never answers means down, within the check interval', async () => {
      const r = await checkAgainst((silent.address() as { port: number }).port);
      expect(r.status).not.toBe(0);
      expect(r.ms).toBeLessThan(2500);
    });
  });
});

/** The hook against a FAKE of the Hetzner Cloud API (the real one is on the internet). */
describe('gatehouse ha hetzner-floating-ip', () => {
  let fake: HetznerCloudFake;
  let tokenFile: string;
  const assign = (extra: string[] = [], token = tokenFile) =>
    runCli([
      'ha',
      'hetzner-floating-ip',
      '--floating-ip-id',
      '7',
      '--server-id',
      '102',
      '--token-file',
      token,
      '--api-url',
      fake.url,
      ...extra,
    ]);

  beforeAll(async () => {
    fake = await startHetznerCloudFake({ token: HETZNER.token, floatingIps: [7], servers: [101, 102] });
    tokenFile = join(dir, 'token');
    await writeFile(tokenFile, `${HETZNER.token}\n`, { mode: 0o600 });
  });
  afterAll(async () => {
    await fake?.close();
  });

  it('assigns the floating IP and waits until the action succeeded', async () => {
    const r = await assign();
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/floating IP 7 assigned to server 102 \(action \d+ success/);
    expect(fake.serverOf(7)).toBe(102);
    expect(fake.requests.slice(-2)).toEqual([
      'POST /v1/floating_ips/7/actions/assign 201',
      expect.stringMatching(/^GET \/v1\/floating_ips\/7\/actions\/\d+ 200$/),
    ]);
  });

  it('retries a failing API briefly, then gives up with a clear message', async () => {
    fake.failNext(2, 503);
    const ok = await assign();
    expect(ok.status, ok.stderr).toBe(0);
    // Two refused, the one accepted, one poll of the action.
    expect(ok.stdout).toContain('4 requests');
    // "Briefly": beyond what one accepted call takes (the CLI's own start is slow on a busy machine).
    fake.failNext(0, 503);
    const t1 = performance.now();
    expect((await assign(['--wait', '0'])).status).toBe(0);
    const once = performance.now() - t1;
    fake.failNext(10, 503);
    const t0 = performance.now();
    const bad = await assign(['--wait', '0']);
    const took = performance.now() - t0;
    fake.failNext(0, 503); // before any assertion: the next test must not start with failures queued
    expect(bad.status).not.toBe(0);
    expect(bad.stderr).toMatch(/answered 503 .*gave up after 3 attempts/);
    expect(took - once).toBeLessThan(5000);
  });

  it('fails at once, naming the cause, on a refused token, an unknown floating IP or a bad option', async () => {
    const wrong = join(dir, 'wrong-token');
    await writeFile(wrong, 'not-the-token\n');
    const before = fake.assignments.length;
    const refused = await assign([], wrong);
    expect(refused.status).not.toBe(0);
    expect(refused.stderr).toMatch(/refused the token.*401/);
    const missing = await runCli([
      'ha',
      'hetzner-floating-ip',
      '--floating-ip-id',
      '99',
      '--server-id',
      '102',
      '--token-file',
      tokenFile,
      '--api-url',
      fake.url,
    ]);
    expect(missing.stderr).toMatch(/floating IP 99 not found/);
    const noFile = await assign([], join(dir, 'absent'));
    expect(noFile.stderr).toMatch(/token file .*absent: cannot read it \(ENOENT\)/);
    const badId = await runCli(['ha', 'hetzner-floating-ip', '--floating-ip-id', 'x', '--server-id', '1']);
    expect(badId.status).not.toBe(0);
    expect(badId.stderr).toMatch(/^error: --floating-ip-id: /);
    expect(fake.assignments.length).toBe(before);
  });
});

/**
 * Two edges in network namespaces, each running the edge agent (with its nginx) and real keepalived
 * with the files `gatehouse ha keepalived` wrote; a client in a third namespace requests through the
 * VIP every 10 ms while the master host dies hard.
 */
describe('HA pair with real keepalived (issue 5)', () => {
  let pair: HaPair;
  const figures: Record<string, number> = {};

  beforeAll(async () => {
    pair = await HaPair.start({ hetzner: true });
  }, 60_000);
  afterAll(async () => {
    await pair?.close();
    if (Object.keys(figures).length) console.log(`HA figures (ms): ${JSON.stringify(figures)}`);
  });

  const hostsOf = (subs: string[]) => subs.map((s) => pair.host(s));
  const failoverSubs = Array.from({ length: 8 }, (_, i) => `during-failover-${i}`);

  it('starts with a as master (its hook pointed the floating IP at it) and b standing by', async () => {
    expect(pair.a.holdsVip()).toBe(true);
    expect(pair.b.holdsVip()).toBe(false);
    await until(
      () => (pair.fake?.serverOf(HETZNER.floatingIp) === HETZNER.servers.a ? true : undefined),
      10_000,
    );
    await until(
      () =>
        /on-master command succeeded: floating IP 7 assigned to server 101/.test(pair.a.notifyLog()) ||
        undefined,
      5000,
    );
  });

  it('the master host dies: b serves through the VIP within 1 s, and registrations made meanwhile all land', async () => {
    const { a, b, client } = pair;
    const assignments = pair.fake?.assignments.length ?? 0;
    const killedAt = a.crash();
    // Registrations keep coming while the VIP moves; the control plane is not part of the pair.
    const statuses: number[] = [];
    const registering = (async () => {
      for (const s of failoverSubs) {
        statuses.push(await pair.register(s));
        await sleep(100);
      }
    })();
    const gap = await client.waitServedAfter(killedAt, 5000);
    await registering;
    figures.failover = Math.round(gap.gapMs);
    figures.firstServedAfterKill = Math.round(gap.firstOkAfter - killedAt);
    expect(gap.gapMs, pair.diagnostics()).toBeLessThan(1000);
    expect(b.holdsVip()).toBe(true);
    expect(a.holdsVip()).toBe(true); // stale on the dead host: why its cable is pulled
    expect(statuses).toEqual(failoverSubs.map(() => 201));
    // Once b has applied what the control plane holds, every one of them is served through the VIP.
    await until(async () => ((await pair.inSync(b)) ? true : undefined), 5000);
    expect(await client.check(hostsOf(failoverSubs))).toEqual(failoverSubs.map(() => 200));
    // b's notify hook moved the floating IP (in the cloud's API) to b.
    await until(
      () => (pair.fake?.serverOf(HETZNER.floatingIp) === HETZNER.servers.b ? true : undefined),
      10_000,
    );
    expect(pair.fake?.assignments.slice(assignments).map((x) => x.serverId)).toEqual([HETZNER.servers.b]);
    expect(b.state()).toBe('MASTER');
  });

  it('the old master comes back: it catches up, takes the VIP back and b stands by again', async () => {
    const { a, b, client } = pair;
    const back = now();
    await a.reboot();
    await a.waitState('MASTER', 15_000);
    // Its check has to pass twice first, time enough for its agent to catch up: when it takes the
    // VIP, what was registered while it was down is served (or the request is still on its way to
    // b, which lets go of the VIP), never a 404.
    const first = await client.check(hostsOf(failoverSubs));
    expect(
      first.filter((s) => s !== 200 && s !== -1),
      JSON.stringify(first),
    ).toEqual([]);
    expect(await pair.inSync(a)).toBe(true);
    await until(async () => {
      const s = await client.check(hostsOf(['web', ...failoverSubs]));
      return s.every((x) => x === 200) ? true : undefined;
    }, 5000);
    await until(() => (b.holdsVip() ? undefined : true), 5000);
    expect(a.holdsVip()).toBe(true);
    await b.waitState('BACKUP', 5000);
    await until(
      () => (pair.fake?.serverOf(HETZNER.floatingIp) === HETZNER.servers.a ? true : undefined),
      10_000,
    );
    // The hand-back is a planned move: the client hardly notices.
    await sleep(300);
    figures.handBack = Math.round(client.longestGap(back, now()));
    expect(figures.handBack, pair.diagnostics()).toBeLessThan(1000);
  });

  it('after a network split between the edges, the floating IP ends with the master that stays', async () => {
    const { a, b, lab } = pair;
    const fip = () => pair.fake?.serverOf(HETZNER.floatingIp);
    // The edges stop hearing each other; clients still reach both. b becomes a second master and its
    // hook takes the floating IP.
    await lab.isolate('a', true);
    await lab.isolate('b', true);
    try {
      await b.waitState('MASTER', 5000);
      await until(() => (fip() === HETZNER.servers.b ? true : undefined), 10_000);
      expect(a.state()).toBe('MASTER');
    } finally {
      await lab.isolate('a', false);
      await lab.isolate('b', false);
    }
    // Healed: b steps down, and a, hearing a lower-priority master, runs its hook again.
    await b.waitState('BACKUP', 5000);
    await until(() => (fip() === HETZNER.servers.a ? true : undefined), 10_000);
    expect(a.notifyLog()).toContain('heard a lower-priority master: running on-master again');
    expect(a.holdsVip()).toBe(true);
    expect(b.holdsVip()).toBe(false);
    expect(await pair.client.check([pair.host('web')])).toEqual([200]);
  });
});
