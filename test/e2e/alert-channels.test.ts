import type { ChildProcess } from 'node:child_process';
import { createHmac, timingSafeEqual } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import type { Server } from 'node:http';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sendMail } from '../../src/observe/smtp.js';
import { cli, json, mailText, receiver, smtpd } from '../helpers/alerts.js';
import { ADMIN_TOKEN, startTestGatehouse, type TestGatehouse } from '../helpers/gatehouse.js';
import { freePort, http as httpJson } from '../helpers/net.js';
import { makeCa } from '../helpers/tls.js';
import { testDir } from '../helpers/tmp.js';

describe('alert channels: each type delivers "Gatehouse test message" as its real API takes it', () => {
  let t: TestGatehouse;
  const servers: Server[] = [];
  const procs: ChildProcess[] = [];
  const add = async (body: Record<string, unknown>) => {
    const r = await t.api('POST', '/api/v1/alert-channels', body);
    expect(r.status, r.body).toBe(201);
  };
  const test = (name: string) => t.api('POST', `/api/v1/alert-channels/${name}/test`);
  const http = async (answer?: Parameters<typeof receiver>[0]) => {
    const r = await receiver(answer);
    servers.push(r.server);
    return r;
  };

  beforeAll(async () => {
    t = await startTestGatehouse();
  }, 60_000);
  afterAll(async () => {
    for (const s of servers) s.closeAllConnections();
    for (const s of servers) s.close();
    for (const p of procs) p.kill('SIGTERM');
    await t?.close();
  });

  it('webhook: JSON signed with HMAC-SHA256 over "<timestamp>.<body>", which the receiver verifies', async () => {
    const hook = await http();
    const secret = 'hook-secret-0123456789';
    await add({ name: 'hook', type: 'webhook', url: `${hook.url}/in/abc`, secret });
    const r = await test('hook');
    expect(r.status, r.body).toBe(200);
    expect(r.json).toEqual({ ok: true, channel: 'hook' });
    const [got] = hook.got;
    expect(got?.path).toBe('/in/abc');
    expect(got?.headers['content-type']).toBe('application/json');
    const ts = String(got?.headers['x-gatehouse-timestamp']);
    expect(Math.abs(Number(ts) - Date.now() / 1000)).toBeLessThan(60);
    const want = createHmac('sha256', secret).update(`${ts}.${got?.body}`).digest();
    const sig = String(got?.headers['x-gatehouse-signature']);
    expect(sig).toMatch(/^sha256=[0-9a-f]{64}$/);
    expect(timingSafeEqual(Buffer.from(sig.slice(7), 'hex'), want)).toBe(true);
    expect(json(got?.body ?? '')).toMatchObject({ channel: 'hook', title: 'Gatehouse test message' });
  });

  it('ntfy: POST <server>/<topic>, the text as body, Title and a bearer token in headers', async () => {
    const ntfy = await http(() => ({ status: 200, body: '{"id":"x","event":"message"}' }));
    await add({
      name: 'phone',
      type: 'ntfy',
      server: ntfy.url,
      topic: 'gatehouse-alerts',
      token: 'tk_ntfy_0123456789',
    });
    expect((await test('phone')).status).toBe(200);
    const [got] = ntfy.got;
    expect(got?.method).toBe('POST');
    expect(got?.path).toBe('/gatehouse-alerts');
    expect(got?.headers.title).toBe('Gatehouse test message');
    expect(got?.headers.authorization).toBe('Bearer tk_ntfy_0123456789');
    expect(got?.body).toContain('test message from Gatehouse');
  });

  it('gotify: POST <server>/message with X-Gotify-Key and {title, message, priority}', async () => {
    const gotify = await http(() => ({ status: 200, body: '{"id":1}' }));
    await add({ name: 'gotify', type: 'gotify', server: `${gotify.url}/`, token: 'AbCdEf0123456' });
    expect((await test('gotify')).status).toBe(200);
    const [got] = gotify.got;
    expect(got?.path).toBe('/message');
    expect(got?.headers['x-gotify-key']).toBe('AbCdEf0123456');
    expect(json(got?.body ?? '')).toMatchObject({ title: 'Gatehouse test message', priority: 5 });
    expect(json(got?.body ?? '').message).toContain('test message');
  });

  it('Slack, Discord, Teams, Telegram: the JSON each real API takes (to FAKES of their APIs)', async () => {
    // FAKE Slack incoming webhook: {text} required; answers "ok".
    const slack = await http((r) =>
      typeof json(r.body).text === 'string' ? { status: 200, body: 'ok' } : { status: 400, body: 'no_text' },
    );
    // FAKE Discord webhook: {content} of at most 2000 characters; answers 204.
    const discord = await http((r) => {
      const c = json(r.body).content;
      return typeof c === 'string' && c.length <= 2000
        ? { status: 204 }
        : { status: 400, body: '{"code":50006}' };
    });
    // FAKE Teams Workflows webhook: a message with an Adaptive Card attachment; answers 202.
    const teams = await http((r) => {
      const b = json(r.body) as {
        type?: string;
        attachments?: { contentType?: string; content?: { type?: string } }[];
      };
      const card = b.attachments?.[0];
      return b.type === 'message' &&
        card?.contentType === 'application/vnd.microsoft.card.adaptive' &&
        card.content?.type === 'AdaptiveCard'
        ? { status: 202 }
        : { status: 400, body: 'bad card' };
    });
    // FAKE Telegram Bot API: /bot<token>/sendMessage with {chat_id, text}; answers {ok: true}.
    const telegram = await http((r) => {
      const b = json(r.body);
      return r.path === '/bot123456:AAbbCCddEEffGGhhIIjjKKll/sendMessage' &&
        b.chat_id === '-100200300' &&
        typeof b.text === 'string'
        ? { status: 200, body: '{"ok":true,"result":{"message_id":1}}' }
        : { status: 400, body: '{"ok":false,"description":"Bad Request: chat not found"}' };
    });
    await add({ name: 'slack', type: 'slack', url: `${slack.url}/services/T0/B0/XXXX` });
    await add({ name: 'discord', type: 'discord', url: `${discord.url}/api/webhooks/1/tok` });
    await add({ name: 'teams', type: 'teams', url: `${teams.url}/workflows/abc` });
    await add({
      name: 'tg',
      type: 'telegram',
      bot_token: '123456:AAbbCCddEEffGGhhIIjjKKll',
      chat_id: '-100200300',
      api_url: telegram.url,
    });
    for (const name of ['slack', 'discord', 'teams', 'tg']) {
      const r = await test(name);
      expect(r.status, `${name}: ${r.body}`).toBe(200);
    }
    expect(json(slack.got[0]?.body ?? '').text).toContain('Gatehouse test message');
    expect(json(discord.got[0]?.body ?? '').content).toContain('Gatehouse test message');
    expect(json(telegram.got[0]?.body ?? '').text).toContain('Gatehouse test message');
    expect(teams.got[0]?.body).toContain('Gatehouse test message');
    // Telegram refusing (a wrong chat) is a failure, though the request went through.
    await add({
      name: 'tg-wrong',
      type: 'telegram',
      bot_token: '123456:AAbbCCddEEffGGhhIIjjKKll',
      chat_id: '42',
      api_url: telegram.url,
    });
    const wrong = await test('tg-wrong');
    expect(wrong.status).toBe(502);
    expect(wrong.body).toContain('alert channel tg-wrong');
    expect(wrong.body).toContain('chat not found');
  });

  it('email: through a real SMTP server (aiosmtpd), the test message to each recipient', async () => {
    const s = await smtpd([]);
    procs.push(s.proc);
    await add({
      name: 'mail',
      type: 'email',
      host: '127.0.0.1',
      port: s.port,
      starttls: false,
      from: 'gatehouse@example.test',
      to: ['ops@example.test', 'oncall@example.test'],
    });
    const r = await test('mail');
    expect(r.status, r.body).toBe(200);
    const [m] = await s.mail();
    expect(m?.from).toBe('gatehouse@example.test');
    expect(m?.to).toEqual(['ops@example.test', 'oncall@example.test']);
    expect(String(m?.data)).toContain('Subject: Gatehouse test message');
    expect(mailText(String(m?.data))).toContain('test message from Gatehouse');
  });

  it('email: STARTTLS then AUTH against aiosmtpd requiring both; a wrong password is refused by name', async () => {
    const dir = await testDir('smtp-tls-');
    const ca = makeCa(dir);
    const leaf = ca.issue(['127.0.0.1']);
    await writeFile(join(dir, 'smtp.crt'), leaf.cert);
    await writeFile(join(dir, 'smtp.key'), leaf.key);
    const s = await smtpd([join(dir, 'smtp.crt'), join(dir, 'smtp.key')]);
    procs.push(s.proc);
    const base = {
      host: '127.0.0.1',
      port: s.port,
      starttls: true,
      username: 'alerts',
      from: 'gatehouse@example.test',
      to: ['ops@example.test'],
      subject: 'Gatehouse test message',
      text: 'über TLS',
      ca: ca.ca,
    };
    await sendMail({ ...base, password: 'smtp-pass-1', signal: AbortSignal.timeout(10_000) });
    const [m] = await s.mail();
    expect(m).toMatchObject({ tls: true, login: true, to: ['ops@example.test'] });
    expect(mailText(String(m?.data))).toBe('über TLS');
    await expect(
      sendMail({ ...base, password: 'wrong-pass', signal: AbortSignal.timeout(10_000) }),
    ).rejects.toThrow(/AUTH PLAIN: the server answered 535/);
    // Without the CA the server's certificate is not trusted: nothing is sent in the clear.
    await expect(
      sendMail({
        ...base,
        ca: undefined as unknown as string,
        password: 'smtp-pass-1',
        signal: AbortSignal.timeout(10_000),
      }),
    ).rejects.toThrow(/TLS: /);
  });

  it('a receiver answering 500 → 502 naming the channel and the status; one that hangs → 502 within the limit', async () => {
    const broken = await http(() => ({ status: 500, body: 'upstream exploded' }));
    await add({ name: 'broken', type: 'webhook', url: broken.url });
    const r = await test('broken');
    expect(r.status).toBe(502);
    expect(r.json).toMatchObject({ error: { code: 'alert_failed' } });
    expect(r.body).toContain('alert channel broken (webhook)');
    expect(r.body).toContain('500');
    expect(r.body).toContain('upstream exploded');

    const hang = await http(() => 'hang');
    await add({ name: 'slow', type: 'slack', url: `${hang.url}/services/T/B/SECRETPART` });
    const t0 = Date.now();
    // The test helper's own limit is 10 s too: this call waits longer.
    const h = await httpJson(t.apiPort, '127.0.0.1', '/api/v1/alert-channels/slow/test', {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
      timeoutMs: 20_000,
    });
    const took = Date.now() - t0;
    expect(h.status).toBe(502);
    expect(h.body).toContain('alert channel slow (slack): no answer within 10 s');
    expect(h.body).not.toContain('SECRETPART');
    expect(took).toBeGreaterThanOrEqual(9_500);
    expect(took).toBeLessThan(12_000);

    const closed = await freePort();
    await add({
      name: 'nobody',
      type: 'gotify',
      server: `http://127.0.0.1:${closed}`,
      token: 'AbCdEf0123456',
    });
    const n = await test('nobody');
    expect(n.status).toBe(502);
    expect(n.body).toContain('alert channel nobody (gotify): could not reach it: ECONNREFUSED');
  }, 30_000);

  it('never shows a secret: GET lists settings and which secret fields are set, not their values', async () => {
    const r = await t.api('GET', '/api/v1/alert-channels');
    expect(r.status).toBe(200);
    for (const secret of [
      'hook-secret-0123456789',
      'tk_ntfy_0123456789',
      'AbCdEf0123456',
      'AAbbCCddEEffGGhhIIjjKKll',
      '/services/T0/B0/XXXX',
      '/in/abc',
    ])
      expect(r.body).not.toContain(secret);
    const channels = (
      r.json as { channels: { name: string; sealed: string[]; config: Record<string, unknown> }[] }
    ).channels;
    const hook = channels.find((c) => c.name === 'hook');
    expect(hook?.sealed.sort()).toEqual(['secret', 'url']);
    expect(hook?.config.url_origin).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(channels.find((c) => c.name === 'phone')?.config).toMatchObject({ topic: 'gatehouse-alerts' });
    expect(channels.find((c) => c.name === 'mail')?.config).toMatchObject({
      port: expect.any(Number),
      to: ['ops@example.test', 'oncall@example.test'],
    });
  });

  it('CLI: alert channel add (secrets on standard input) | ls | rm, alert test; bad input names the field', async () => {
    const hook = await http();
    const run = (args: string[], input?: string) => cli(t.dataDir, args, input);
    const add = await run(
      ['alert', 'channel', 'add', 'cli-hook', '--type', 'webhook', '--secrets-stdin'],
      JSON.stringify({ url: `${hook.url}/cli/SECRETPATH`, secret: 'cli-secret-0123' }),
    );
    expect(add.out).toContain('added alert channel cli-hook (webhook)');
    expect(add.code).toBe(0);
    const ls = await run(['alert', 'channel', 'ls']);
    expect(ls.out).toMatch(/cli-hook\s+webhook\s+http:\/\/127\.0\.0\.1:\d+\s+url,secret/);
    expect(ls.out).not.toContain('SECRETPATH');
    expect(ls.out).not.toContain('cli-secret-0123');
    const ok = await run(['alert', 'test', 'cli-hook']);
    expect(ok.out).toContain('test message delivered to cli-hook');
    expect(ok.code).toBe(0);
    expect(hook.got[0]?.path).toBe('/cli/SECRETPATH');
    const bad = await run([
      'alert',
      'channel',
      'add',
      'cli-mail',
      '--type',
      'email',
      '--host',
      'smtp.example.com',
      '--from',
      'nope',
      '--to',
      'ops@example.com',
    ]);
    expect(bad.code).not.toBe(0);
    expect(bad.out).toContain('from');
    const failing = await run(['alert', 'test', 'broken']);
    expect(failing.code).not.toBe(0);
    expect(failing.out).toContain('alert channel broken (webhook): it answered 500');
    const rm = await run(['alert', 'channel', 'rm', 'cli-hook']);
    expect(rm.out).toContain('removed alert channel cli-hook');
  });

  it('bad input names the field; a second channel of the same name is a conflict; rm then test is 404', async () => {
    const bad = await t.api('POST', '/api/v1/alert-channels', {
      name: 'x',
      type: 'ntfy',
      topic: 'has space',
    });
    expect(bad.status).toBe(400);
    expect(bad.body).toContain('topic');
    const dup = await t.api('POST', '/api/v1/alert-channels', {
      name: 'hook',
      type: 'slack',
      url: 'https://hooks.slack.com/x',
    });
    expect(dup.status).toBe(409);
    expect((await t.api('DELETE', '/api/v1/alert-channels/hook')).status).toBe(200);
    expect((await test('hook')).status).toBe(404);
    expect((await t.api('DELETE', '/api/v1/alert-channels/hook')).status).toBe(404);
  });
});
