import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Delivery } from '../../src/alerts/delivery.js';
import { AlertEngine, type Condition } from '../../src/alerts/engine.js';
import { RuleChecks, type AlertSources, type ErrorRateSource } from '../../src/alerts/rules.js';
import type { AlertMessage } from '../../src/model/alert-channel.js';
import { rulesWith, type AlertRuleOverrides } from '../../src/model/alert-rule.js';
import { createLogger } from '../../src/observe/log.js';

const log = createLogger('silent');

/** What each channel received, and when (fake clock ms since the start). */
interface Got {
  channel: string;
  title: string;
  text: string;
  at: number;
}

/** An engine over a list of conditions the test changes, sending to fake channels. */
function setup(overrides: AlertRuleOverrides, fail: (channel: string, n: number) => boolean = () => false) {
  const t0 = Date.now();
  const got: Got[] = [];
  const tries = new Map<string, number>();
  let now: Condition[] = [];
  const delivery = new Delivery({
    send: async (channel: string, m: AlertMessage) => {
      const n = (tries.get(channel) ?? 0) + 1;
      tries.set(channel, n);
      if (fail(channel, n)) throw new Error(`it answered 500: attempt ${n}`);
      got.push({ channel, title: m.title, text: m.text, at: Date.now() - t0 });
    },
    channels: async () => ['ops', 'mail'],
    log,
  });
  const engine = new AlertEngine({
    rules: async () => rulesWith(overrides),
    conditions: async () => now,
    out: delivery,
    log,
    intervalMs: 5000,
  });
  return {
    got,
    tries,
    delivery,
    engine,
    hold: (c: Condition[]) => (now = c),
    at: () => Date.now() - t0,
  };
}

const down: Condition = {
  rule: 'upstream_down',
  subject: 'web 127.0.0.1:9001',
  title: 'Upstream down: 127.0.0.1:9001 (web)',
  text: 'Upstream 127.0.0.1:9001 of web fails its health checks.',
};

describe('alert engine (fake clock)', () => {
  beforeEach(() => {
    vi.useFakeTimers({ now: new Date('2026-12-07T12:00:00Z') });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('fires once when the condition has held for the hold time, at that moment, to every channel', async () => {
    const s = setup({ upstream_down: { hold_s: 30 } });
    s.engine.start();
    s.hold([down]);
    s.engine.poke();
    await vi.advanceTimersByTimeAsync(29_000);
    expect(s.got).toEqual([]);
    expect(s.engine.alerts()).toMatchObject([{ rule: 'upstream_down', state: 'pending', fired_at: null }]);
    await vi.advanceTimersByTimeAsync(1_100);
    expect(s.got.map((g) => [g.channel, g.title])).toEqual([
      ['ops', '[FIRING] Upstream down: 127.0.0.1:9001 (web)'],
      ['mail', '[FIRING] Upstream down: 127.0.0.1:9001 (web)'],
    ]);
    // At the hold time itself (the engine sets a timer for it), not at the next 5 s pass.
    expect(s.got[0]?.at).toBeGreaterThanOrEqual(30_000);
    expect(s.got[0]?.at).toBeLessThan(30_100);
    // Holding on: no second message within the repeat interval (an hour by default).
    await vi.advanceTimersByTimeAsync(10 * 60_000);
    expect(s.got).toHaveLength(2);
    expect(s.engine.alerts()).toMatchObject([{ state: 'firing' }]);
    await s.engine.stop();
  });

  it('a condition that clears before the hold time sends nothing', async () => {
    const s = setup({ upstream_down: { hold_s: 30 } });
    s.engine.start();
    s.hold([down]);
    s.engine.poke();
    await vi.advanceTimersByTimeAsync(20_000);
    s.hold([]);
    await vi.advanceTimersByTimeAsync(60_000);
    expect(s.got).toEqual([]);
    expect(s.engine.alerts()).toEqual([]);
    await s.engine.stop();
  });

  it('repeats at the repeat interval while it holds, and sends resolved when it clears', async () => {
    const s = setup({ upstream_down: { hold_s: 0, repeat_s: 60, channels: ['ops'] } });
    s.engine.start();
    s.hold([down]);
    s.engine.poke();
    await vi.advanceTimersByTimeAsync(100);
    expect(s.got.map((g) => g.title)).toEqual(['[FIRING] Upstream down: 127.0.0.1:9001 (web)']);
    await vi.advanceTimersByTimeAsync(60_000);
    expect(s.got).toHaveLength(2);
    expect(s.got[1]?.text).toContain('Still so after 1m');
    await vi.advanceTimersByTimeAsync(60_000);
    expect(s.got).toHaveLength(3);
    s.hold([]);
    s.engine.poke();
    await vi.advanceTimersByTimeAsync(100);
    expect(s.got.map((g) => [g.channel, g.title])).toEqual([
      ['ops', '[FIRING] Upstream down: 127.0.0.1:9001 (web)'],
      ['ops', '[FIRING] Upstream down: 127.0.0.1:9001 (web)'],
      ['ops', '[FIRING] Upstream down: 127.0.0.1:9001 (web)'],
      ['ops', '[RESOLVED] Upstream down: 127.0.0.1:9001 (web)'],
    ]);
    expect(s.got[3]?.text).toBe('Cleared after 2m.');
    expect(s.engine.alerts()).toEqual([]);
    await s.engine.stop();
  });

  it('a rule with resolved: false (link used, by default) says nothing when it clears; a disabled rule nothing at all', async () => {
    const link: Condition = {
      rule: 'link_used',
      subject: 'abc',
      title: 'Temporary link used: (abc)',
      text: 'used',
    };
    const s = setup({ upstream_down: { enabled: false } });
    s.engine.start();
    s.hold([link, down]);
    s.engine.poke();
    await vi.advanceTimersByTimeAsync(100);
    expect(s.got.map((g) => g.title)).toEqual([
      '[FIRING] Temporary link used: (abc)',
      '[FIRING] Temporary link used: (abc)',
    ]);
    s.hold([]);
    await vi.advanceTimersByTimeAsync(3 * 3_600_000);
    expect(s.got).toHaveLength(2);
    await s.engine.stop();
  });

  it('a failing channel is retried with backoff (1 s, 2 s, …), its error shown, without holding up the other', async () => {
    const s = setup({ upstream_down: { hold_s: 0 } }, (ch, n) => ch === 'mail' && n <= 2);
    s.engine.start();
    s.hold([down]);
    s.engine.poke();
    await vi.advanceTimersByTimeAsync(100);
    expect(s.got.map((g) => g.channel)).toEqual(['ops']);
    expect(s.delivery.view().mail).toMatchObject({
      last_sent: null,
      last_error: 'it answered 500: attempt 1',
      failures: 1,
      pending: 1,
    });
    await vi.advanceTimersByTimeAsync(1000);
    expect(s.tries.get('mail')).toBe(2);
    await vi.advanceTimersByTimeAsync(1000);
    expect(s.tries.get('mail')).toBe(2); // the second wait is 2 s
    await vi.advanceTimersByTimeAsync(1000);
    expect(s.tries.get('mail')).toBe(3);
    expect(s.got.map((g) => g.channel)).toEqual(['ops', 'mail']);
    expect(s.got[1]?.at).toBeGreaterThanOrEqual(3000);
    const mail = s.delivery.view().mail;
    expect(mail).toMatchObject({ last_error: 'it answered 500: attempt 2', failures: 0, pending: 0 });
    expect(mail?.last_sent).not.toBeNull();
    await s.engine.stop();
  });

  it('gives a message up after a bounded number of attempts; the next message is sent', async () => {
    let broken = true;
    const s = setup({ upstream_down: { hold_s: 0, channels: ['mail'] } }, () => broken);
    s.engine.start();
    s.hold([down]);
    s.engine.poke();
    await vi.advanceTimersByTimeAsync(10 * 60_000);
    // 6 attempts: at 0, 1, 3, 7, 15 and 31 s; then given up.
    expect(s.tries.get('mail')).toBe(6);
    expect(s.delivery.view().mail).toMatchObject({ failures: 6, pending: 0, last_sent: null });
    broken = false;
    s.hold([]);
    s.engine.poke();
    await vi.advanceTimersByTimeAsync(100);
    expect(s.got.map((g) => g.title)).toEqual(['[RESOLVED] Upstream down: 127.0.0.1:9001 (web)']);
    expect(s.delivery.view().mail?.failures).toBe(0);
    await s.engine.stop();
  });

  it('a restored alert that fired before (another leader, a restart) is not sent again; it resolves', async () => {
    const s = setup({ upstream_down: { hold_s: 0 } });
    s.engine.restore([
      {
        rule: 'upstream_down',
        subject: down.subject,
        title: down.title,
        text: down.text,
        state: 'firing',
        since: new Date(Date.now() - 60_000).toISOString(),
        fired_at: new Date(Date.now() - 30_000).toISOString(),
        last_sent: new Date(Date.now() - 30_000).toISOString(),
      },
    ]);
    s.engine.start();
    s.hold([down]);
    await vi.advanceTimersByTimeAsync(6000);
    expect(s.got).toEqual([]);
    s.hold([]);
    await vi.advanceTimersByTimeAsync(6000);
    expect(s.got.map((g) => g.title)).toEqual([
      '[RESOLVED] Upstream down: 127.0.0.1:9001 (web)',
      '[RESOLVED] Upstream down: 127.0.0.1:9001 (web)',
    ]);
    await s.engine.stop();
  });
});

/** FAKE traffic metrics (the real source is built elsewhere): fixed counts per service. */
class FakeErrorRateSource implements ErrorRateSource {
  asked: number[] = [];
  constructor(private readonly counts: Record<string, { requests: number; errors: number }>) {}
  rates(windowMs: number) {
    this.asked.push(windowMs);
    return new Map(Object.entries(this.counts));
  }
}

const quiet: AlertSources = {
  downServers: () => [],
  nodes: async () => [],
  certs: async () => [],
  events: {
    tunnelsDown: async () => [],
    linksUsed: async () => [],
    signInFailures: async () => undefined,
  },
};

describe('alert rules', () => {
  it('error rate: a service above X % over Y min with enough requests (FAKE metrics source)', async () => {
    const fake = new FakeErrorRateSource({
      shop: { requests: 200, errors: 30 },
      blog: { requests: 200, errors: 4 },
      tiny: { requests: 5, errors: 5 },
    });
    const checks = new RuleChecks({ ...quiet, errorRates: fake });
    const rules = rulesWith({ error_rate: { percent: 10, window_min: 2 } });
    const found = await checks.conditions(rules, Date.now());
    expect(found.map((c) => [c.rule, c.subject, c.title])).toEqual([
      ['error_rate', 'shop', 'Error rate 15.0 % on shop'],
    ]);
    expect(fake.asked).toEqual([120_000]);
    // Without a source the rule finds nothing (it is shown as unavailable).
    expect(await new RuleChecks(quiet).conditions(rules, Date.now())).toEqual([]);
  });

  it('upstream down on this machine and on edges; edge offline since its last report; out of sync', async () => {
    const now = Date.parse('2026-12-07T12:00:00Z');
    const checks = new RuleChecks({
      ...quiet,
      downServers: () => ['web 10.0.0.1:80'],
      nodes: async () => [
        {
          name: 'vps',
          role: 'public',
          last_seen: '2026-12-07T11:50:00Z',
          online: false,
          applied_hash: 'a',
          last_error: '',
          down_servers: [],
        },
        {
          name: 'lan',
          role: 'lan',
          last_seen: '2026-12-07T11:59:59Z',
          online: true,
          applied_hash: 'old',
          last_error: '',
          down_servers: ['web 10.0.0.1:80'],
        },
        {
          name: 'new',
          role: 'public',
          last_seen: null,
          online: false,
          applied_hash: '',
          last_error: '',
          down_servers: [],
        },
      ],
      expectedHash: async () => 'current',
    });
    const found = await checks.conditions(rulesWith({}), now);
    expect(found.map((c) => [c.rule, c.subject, c.title])).toEqual([
      ['upstream_down', 'web 10.0.0.1:80', 'Upstream down: 10.0.0.1:80 (web)'],
      ['edge', 'vps', 'Edge offline: vps'],
      ['edge', 'lan', 'Edge out of sync: lan'],
    ]);
    expect(found[0]?.text).toContain('seen from this machine, edge lan');
    expect(found[1]?.since).toBe(Date.parse('2026-12-07T11:51:00Z'));
  });

  it('certificates: expiring within D days without a successor; a failed order until it is issued', async () => {
    const now = Date.parse('2026-12-07T12:00:00Z');
    let orders = [{ names: ['b.test'], state: 'failed', error: 'CA said no' }];
    const checks = new RuleChecks({
      ...quiet,
      certs: async () => [
        { names: ['a.test'], notAfter: '2026-12-10T00:00:00Z' },
        { names: ['r.test'], notAfter: '2026-12-10T00:00:00Z' },
        { names: ['r.test'], notAfter: '2027-03-01T00:00:00Z' },
        { names: ['far.test'], notAfter: '2027-03-01T00:00:00Z' },
      ],
      orders: () => orders,
    });
    const rules = rulesWith({ certificate: { days: 7 } });
    const titles = async () => (await checks.conditions(rules, now)).map((c) => c.title);
    expect(await titles()).toEqual(['Certificate expiring: a.test', 'Certificate order failed: b.test']);
    // Retried (issuing): still failed until it is issued.
    orders = [{ names: ['b.test'], state: 'issuing', error: '' }];
    expect(await titles()).toContain('Certificate order failed: b.test');
    orders = [{ names: ['b.test'], state: 'issued', error: '' }];
    expect(await titles()).toEqual(['Certificate expiring: a.test']);
  });

  it('backup failed: holds while the last backup failed', async () => {
    let last: { at: string; error?: string } = { at: '2026-12-07T11:00:00Z', error: 'disk full' };
    const checks = new RuleChecks({ ...quiet, lastBackup: () => last });
    expect((await checks.conditions(rulesWith({}), Date.now())).map((c) => c.text)).toEqual([
      'The backup at 2026-12-07T11:00:00Z failed: disk full',
    ]);
    last = { at: '2026-12-07T12:00:00Z' };
    expect(await checks.conditions(rulesWith({}), Date.now())).toEqual([]);
  });
});
