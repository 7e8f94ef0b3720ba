import { spawn, type ChildProcess } from 'node:child_process';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { VpnClientAdded } from '../../src/api/views/index.js';
import { generateKeyPair } from '../../src/vpn/keys.js';
import { ADMIN_TOKEN, startTestGatehouse, type TestGatehouse } from '../helpers/gatehouse.js';
import { json } from '../helpers/net.js';
import { kill, run, sleep, vethArgs } from '../helpers/netns.js';
import { testDir } from '../helpers/tmp.js';

/** A TCP connect: 'connected', 'timeout' or 'error CODE'. */
const CONNECT = `const [h,p,t]=process.argv.slice(1);const s=require('net').connect({host:h,port:+p});
s.setTimeout(+t,()=>{console.log('timeout');process.exit(0)});
s.on('connect',()=>{console.log('connected');process.exit(0)});
s.on('error',(e)=>{console.log('error '+e.code);process.exit(0)});`;

/**
 * `vpn client add --kill-switch` (issue 16): the config from the API, brought up with wg-quick in a
 * "client" namespace whose WireGuard server never answers (the tunnel is down). An "internet"
 * namespace beside it answers TCP. The client reaches it before, not while the interface is up, and
 * again after `wg-quick down`. Both namespaces are this test's; nothing leaves them.
 */
describe('VPN client kill switch', () => {
  const pid = process.pid;
  const client = `ghkc${pid}`;
  const internet = `ghki${pid}`;
  const iface = `ghk${pid}`.slice(0, 15);
  const net = `10.219.${(pid % 200) + 20}`;
  let dir = '';
  let conf = '';
  let gh: TestGatehouse | undefined;
  let server: ChildProcess | undefined;
  let up = false;

  const inNs = (ns: string, cmd: string, args: string[]) => run('ip', ['netns', 'exec', ns, cmd, ...args]);
  const connect = async () =>
    (await inNs(client, process.execPath, ['-e', CONNECT, `${net}.1`, '8080', '1000'])).stdout.trim();

  beforeAll(async () => {
    dir = await testDir('killswitch-');
    await run('ip', ['netns', 'add', client]);
    await run('ip', ['netns', 'add', internet]);
    await run('ip', vethArgs(client, 'eth0', 'eth0', internet));
    await run('ip', ['-n', client, 'addr', 'add', `${net}.2/24`, 'dev', 'eth0']);
    await run('ip', ['-n', internet, 'addr', 'add', `${net}.1/24`, 'dev', 'eth0']);
    for (const ns of [client, internet])
      for (const dev of ['lo', 'eth0']) await run('ip', ['-n', ns, 'link', 'set', dev, 'up']);
    server = spawn(
      'ip',
      [
        'netns',
        'exec',
        internet,
        process.execPath,
        '-e',
        // A client that connects and exits at once resets the socket: that error must not stop it.
        `require('net').createServer((s)=>{s.on('error',()=>{});s.end('hi')}).listen(8080,'${net}.1')`,
      ],
      { stdio: 'ignore' },
    );
    // The config, as an operator gets it: a public edge's WireGuard server (in the internet
    // namespace, where nothing listens on UDP 51820) and a client added with --kill-switch.
    gh = await startTestGatehouse();
    const api = (method: string, path: string, body?: unknown, token = ADMIN_TOKEN) =>
      json(gh?.apiPort ?? 0, method, path, body, { authorization: `Bearer ${token}` });
    const vps = await api('POST', '/api/v1/nodes', { name: 'vps', role: 'public' });
    expect(vps.status).toBe(201);
    const reg = await api(
      'POST',
      '/edge/v1/tunnel',
      { public_key: generateKeyPair().publicKey, endpoint: `${net}.1:51820`, port: 51820 },
      String(vps.json.token),
    );
    expect(reg.status, JSON.stringify(reg.json)).toBe(200);
    const added = await api('POST', '/api/v1/vpn/clients', { name: 'laptop', kill_switch: true });
    expect(added.status, JSON.stringify(added.json)).toBe(201);
    conf = join(dir, `${iface}.conf`);
    await writeFile(conf, (added.json as unknown as VpnClientAdded).config, { mode: 0o600 });
  }, 60_000);

  afterAll(async () => {
    if (up) await inNs(client, 'wg-quick', ['down', conf]).catch(() => undefined);
    kill(server?.pid, 'SIGTERM');
    await gh?.close();
    await run('ip', ['netns', 'del', client]).catch(() => undefined);
    await run('ip', ['netns', 'del', internet]).catch(() => undefined);
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('with the tunnel down, nothing leaves outside it; wg-quick down lifts that', async () => {
    let before = '';
    for (let i = 0; i < 50 && before !== 'connected'; i++) {
      before = await connect();
      if (before !== 'connected') await sleep(100);
    }
    expect(before).toBe('connected');
    await inNs(client, 'wg-quick', ['up', conf]);
    up = true;
    const rules = (await inNs(client, 'nft', ['list', 'table', 'inet', 'gatehouse_killswitch'])).stdout;
    expect(rules).toContain('policy drop;');
    expect(await connect()).not.toBe('connected');
    await inNs(client, 'wg-quick', ['down', conf]);
    up = false;
    expect(await connect()).toBe('connected');
    await expect(inNs(client, 'nft', ['list', 'table', 'inet', 'gatehouse_killswitch'])).rejects.toThrow();
  }, 60_000);
});
