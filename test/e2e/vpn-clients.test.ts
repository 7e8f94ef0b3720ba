import { spawnSync } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { VpnClientAdded, VpnClientList } from '../../src/api/views/index.js';
import { publicKeyOf } from '../../src/vpn/keys.js';
import { ADMIN_TOKEN, startTestGatehouse, type TestGatehouse } from '../helpers/gatehouse.js';
import { freePort, json } from '../helpers/net.js';
import { runCli, sleep } from '../helpers/netns.js';
import {
  requireSitePrerequisites,
  setVpnClientConfig,
  SiteLab,
  startVpnClient,
  startVpsEdge,
  WG_PORT,
} from '../helpers/site-lab.js';
import { testDir } from '../helpers/tmp.js';

/** A TCP connect from the client's namespace: 'connected', 'timeout' or 'error CODE'. */
const CONNECT = `const [h,p,t]=process.argv.slice(1);const s=require('net').connect({host:h,port:+p});
s.setTimeout(+t,()=>{console.log('timeout');process.exit(0)});
s.on('connect',()=>{console.log('connected');process.exit(0)});
s.on('error',(e)=>{console.log('error '+e.code);process.exit(0)});`;

/** Connects every 50 ms (200 ms timeout) until one fails; prints when that attempt began (epoch ms). */
const PROBE = `const [h,p]=process.argv.slice(1);const end=Date.now()+8000;
const once=()=>{const at=Date.now();if(at>end){console.log(0);process.exit(0)}
const s=require('net').connect({host:h,port:+p});const fail=()=>{console.log(at);process.exit(0)};
s.setTimeout(200,fail);s.on('error',fail);s.on('connect',()=>{s.destroy();setTimeout(once,50)})};once();`;

/**
 * Issue 16, client VPN: a device from `vpn client add` (its config set up by hand with wireguard-go
 * and `wg setconf` in the "home" namespace) dials the VPS edge's WireGuard server; the server's
 * nftables rules let it reach only what its policy allows, whatever routes it has; revoke cuts it.
 */
describe('VPN clients: policy on the server, revoke', () => {
  let lab: SiteLab;
  let gh: TestGatehouse;
  let apiPort: number;
  const servers: Server[] = [];
  const ports: number[] = [];
  let iface = '';
  const api = (method: string, path: string, body?: unknown) =>
    json(apiPort, method, path, body, { authorization: `Bearer ${ADMIN_TOKEN}` });
  const connect = async (port: number, timeoutMs = 1500) =>
    (
      await lab.exec('home', process.execPath, ['-e', CONNECT, lab.rootIp, String(port), String(timeoutMs)])
    ).stdout.trim();
  /** Everything to the upstreams' host goes into the tunnel, git's port too: only the server stops it. */
  const routeIntoTunnel = async () => {
    await lab.exec('home', 'ip', ['route', 'replace', `${lab.rootIp}/32`, 'dev', iface]);
    await lab.exec('home', 'ip', ['route', 'replace', '100.96.0.0/24', 'dev', iface]);
  };
  /** Connects to wiki until it answers (the first tries wait for the handshake): the last result. */
  const firstWiki = async () => {
    let first = '';
    for (let i = 0; i < 40 && first !== 'connected'; i++) first = await connect(ports[0] ?? 0, 1000);
    return first;
  };

  beforeAll(async () => {
    requireSitePrerequisites();
    lab = await SiteLab.create();
    apiPort = await freePort();
    gh = await startTestGatehouse({ api_listen: `0.0.0.0:${apiPort}` });
    // Two upstreams in the root namespace, reached from the VPS: services "wiki" and "git".
    for (const name of ['wiki', 'git']) {
      const port = await freePort();
      const s = createServer((_q, r) => r.end(name));
      await new Promise<void>((r) => s.listen(port, lab.rootIp, r));
      servers.push(s);
      ports.push(port);
      const put = await api('PUT', `/api/v1/services/${name}`, {
        hosts: [`${name}.vpn.test`],
        routes: [{ upstreams: [`${lab.rootIp}:${port}`] }],
      });
      expect(put.status, JSON.stringify(put.json)).toBe(201);
    }
    const node = await api('POST', '/api/v1/nodes', { name: 'vps', role: 'public' });
    expect(node.status).toBe(201);
    startVpsEdge(lab, { apiPort, token: String(node.json.token), dir: await testDir('gh-vpnc-edge-') });
  }, 90_000);

  afterAll(async () => {
    await lab?.destroy();
    for (const s of servers) s.close();
    await gh?.close();
  }, 30_000);

  it('bad input is refused with 4xx naming the field', async () => {
    const cases: [unknown, number, string][] = [
      [{ name: 'x', policy: 'everything' }, 400, 'policy'],
      [{ name: 'x', policy: 'ports:0' }, 400, 'policy'],
      [{ name: 'x', expires: 'soon' }, 400, 'expires'],
      [{ name: 'Bad Name' }, 400, 'name'],
    ];
    for (const [body, status, field] of cases) {
      const r = await api('POST', '/api/v1/vpn/clients', body);
      expect(r.status, JSON.stringify(r.json)).toBe(status);
      expect(JSON.stringify(r.json)).toContain(field);
    }
  });

  it('a services:wiki client reaches wiki and nothing else (even routed there); revoke cuts it within 1 s', async () => {
    // The VPS registers its tunnel end at start: until then no server can be named (409).
    let added: VpnClientAdded | undefined;
    const deadline = Date.now() + 30_000;
    while (!added && Date.now() < deadline) {
      const add = await runCli([
        ...['vpn', 'client', 'add', 'laptop', '--policy', 'services:wiki', '--expires', '30d'],
        ...['--api', `http://127.0.0.1:${apiPort}`, '--token', ADMIN_TOKEN, '--json'],
      ]);
      if (add.status === 0) added = JSON.parse(add.stdout) as VpnClientAdded;
      else if (/no WireGuard server/.test(add.stderr)) await sleep(300);
      else throw new Error(add.stderr);
    }
    if (!added) throw new Error(`no server registered\n${lab.tail('edge-inet.log')}`);
    expect(added.config).toMatch(/^\[Interface\]\nPrivateKey = \S+\nAddress = 100\.96\.0\.\d+\/32\n/);
    expect(added.config).toContain(`Endpoint = ${lab.vpsWan}:${WG_PORT}`);
    expect(added.config).toContain(`${lab.rootIp}/32`);

    // The client, set up by hand from the config text (wg setconf reads no Address line).
    iface = await startVpnClient(lab, 'home', { config: added.config, address: added.client.address });
    await routeIntoTunnel();

    const [wiki = 0, git = 0] = ports;
    expect(await firstWiki(), lab.tail('edge-inet.log')).toBe('connected');
    expect(await connect(git)).not.toBe('connected');
    expect(await connect(wiki)).toBe('connected');

    const list = await api('GET', '/api/v1/vpn/clients');
    const seen = (list.json as unknown as VpnClientList).clients.find((c) => c.name === 'laptop');
    expect(seen).toMatchObject({ policy: 'services:wiki', expired: false });

    // A prober in the client's namespace connects every 50 ms; it prints when the first one failed.
    const prober = lab.exec('home', process.execPath, ['-e', PROBE, lab.rootIp, String(wiki)]);
    await sleep(1000);
    const t0 = Date.now();
    const revoke = await api('DELETE', '/api/v1/vpn/clients/laptop');
    expect(revoke.status).toBe(200);
    const cutAt = Number((await prober).stdout.trim());
    const ms = cutAt - t0;
    console.log(`vpn client revoke → cut: ${ms} ms`);
    expect(cutAt).toBeGreaterThan(0);
    expect(ms).toBeLessThan(1000);
    const ls = await runCli([
      ...['vpn', 'client', 'ls', '--api', `http://127.0.0.1:${apiPort}`, '--token', ADMIN_TOKEN],
    ]);
    expect(ls.status, ls.stderr).toBe(0);
    expect(ls.stdout).not.toContain('laptop');
  }, 90_000);

  it("a device group's policy: its member follows it, and a change reaches the server's rules at once", async () => {
    const cli = (...args: string[]) =>
      runCli([...args, '--api', `http://127.0.0.1:${apiPort}`, '--token', ADMIN_TOKEN]);
    const group = await cli('vpn', 'group', 'add', 'staff', '--policy', 'services:wiki');
    expect(group.status, group.stderr).toBe(0);
    const add = await cli('vpn', 'client', 'add', 'desk', '--group', 'staff', '--json');
    expect(add.status, add.stderr).toBe(0);
    const added = JSON.parse(add.stdout) as VpnClientAdded;
    expect(added.client).toMatchObject({ group: 'staff', policy: 'services:wiki', policy_from: 'group' });
    // The interface of the test before, given this client's key and address.
    await setVpnClientConfig(lab, 'home', iface, { config: added.config, address: added.client.address });
    await routeIntoTunnel();

    const [wiki = 0, git = 0] = ports;
    expect(await firstWiki(), lab.tail('edge-inet.log')).toBe('connected');
    expect(await connect(git)).not.toBe('connected');

    const t0 = Date.now();
    const set = await api('PUT', '/api/v1/vpn/groups/staff', { policy: 'services:git' });
    expect(set.status, JSON.stringify(set.json)).toBe(200);
    let now = '';
    while (now !== 'connected' && Date.now() - t0 < 5000) now = await connect(git, 300);
    console.log(`vpn group set → member's rules changed: ${Date.now() - t0} ms`);
    expect(now).toBe('connected');
    expect(await connect(wiki)).not.toBe('connected');
    const ls = await cli('vpn', 'group', 'ls');
    expect(ls.stdout).toMatch(/staff\s+services:git\s+1/);
    const rm = await cli('vpn', 'group', 'rm', 'staff');
    expect(rm.status).not.toBe(0);
    expect(rm.stderr).toContain('group');
    expect((await api('DELETE', '/api/v1/vpn/clients/desk')).status).toBe(200);
    expect((await cli('vpn', 'group', 'rm', 'staff')).status).toBe(0);
  }, 60_000);

  it('the QR codes (CLI --png, API ?format=png) decode to the config (zbarimg)', async () => {
    const dir = await testDir('gh-vpnc-qr-');
    const png = join(dir, 'phone.png');
    const add = await runCli([
      ...['vpn', 'client', 'add', 'phone', '--png', png, '--json'],
      ...['--api', `http://127.0.0.1:${apiPort}`, '--token', ADMIN_TOKEN],
    ]);
    expect(add.status, add.stderr).toBe(0);
    const added = JSON.parse(add.stdout) as VpnClientAdded;
    const zbar = (file: string) => spawnSync('zbarimg', ['--raw', '-q', file]).stdout.toString();
    expect(zbar(png).trimEnd()).toBe(added.config.trimEnd());

    const res = await fetch(`http://127.0.0.1:${apiPort}/api/v1/vpn/clients?format=png`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'tablet', policy: 'ports:443' }),
    });
    expect(res.status).toBe(201);
    expect(res.headers.get('content-type')).toBe('image/png');
    const file = join(dir, 'tablet.png');
    await writeFile(file, Buffer.from(await res.arrayBuffer()));
    const text = zbar(file);
    const list = (await api('GET', '/api/v1/vpn/clients')).json as unknown as VpnClientList;
    const tablet = list.clients.find((c) => c.name === 'tablet');
    expect(tablet?.policy).toBe('ports:443');
    const key = /^PrivateKey = (\S+)$/m.exec(text)?.[1] ?? '';
    expect(publicKeyOf(key)).toBe(tablet?.public_key);
    expect(text).toContain(`Address = ${tablet?.address}/32`);
  }, 30_000);
});
