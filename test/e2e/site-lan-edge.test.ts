import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildHomeLab, type HomeLab } from '../helpers/home-lab.js';
import { until } from '../helpers/net.js';
import { GATEHOUSE_BIN } from '../helpers/netns.js';
import { EDGE_HTTP, HOMES } from '../helpers/site-lab.js';
import { testDir } from '../helpers/tmp.js';

const HOST = 'nas.home.test';
const BODY = 'hello from the nas';
/** A GET from inside a namespace: prints "STATUS BODY" ("0 CODE" when nothing answered). */
const GET = `const [h,p,host]=process.argv.slice(1);
const q=require('http').get({host:h,port:+p,headers:{host},timeout:2000},(r)=>{let b='';r.on('data',(d)=>b+=d);r.on('end',()=>console.log(r.statusCode+' '+b.trim()))});
q.on('timeout',()=>q.destroy(new Error('timeout')));q.on('error',(e)=>console.log('0 '+(e.code||e.message)));`;

/**
 * Issue 16: a service that says which site it lives at (`site: home`) is proxied by the public
 * edge through the tunnel, and a LAN edge at home (an edge agent with a `lan` node's token, on a
 * machine of the home LAN) serves the same service itself, straight to the LAN address: it keeps
 * answering LAN clients while the home's internet link is down.
 */
describe('sites: the public edge through the tunnel, a LAN edge at home directly', () => {
  let hl: HomeLab;
  const home = HOMES.home;
  /** A LAN client (the NAS's machine) asking the LAN edge at home. */
  const viaLanEdge = async () => {
    const r = await hl.lab.exec(home.nas, process.execPath, [
      '-e',
      GET,
      `${home.net}.10`,
      String(EDGE_HTTP),
      HOST,
    ]);
    return r.stdout.trim();
  };

  beforeAll(async () => {
    hl = await buildHomeLab();
    const added = await hl.addSite('home', { subnets: [home.subnet] });
    await hl.connect('home', added.command);
    const put = await hl.api('PUT', '/api/v1/services/nas', {
      hosts: [HOST],
      routes: [{ upstreams: [`${home.net}.20:8080`] }],
      site: 'home',
    });
    expect(put.status, JSON.stringify(put.json)).toBe(201);
  }, 90_000);

  afterAll(async () => {
    await hl?.close();
  }, 30_000);

  it('both serve it; with the home link cut, the LAN edge still does and the public one cannot', async () => {
    await until(
      async () => ((await hl.via('inet', HOST, 1000)).status === 200 ? true : undefined),
      30_000,
      100,
    );
    expect((await hl.via('inet', HOST)).body).toBe(BODY);

    const node = await hl.api('POST', '/api/v1/nodes', { name: 'home-lan', role: 'lan' });
    expect(node.status).toBe(201);
    hl.lab.spawn(
      home.lan,
      process.execPath,
      [
        GATEHOUSE_BIN,
        'edge',
        ...['--control', hl.control, '--insecure-control', '--node-token', String(node.json.token)],
        ...['--edge-dir', await testDir('gh-site-lan-edge-'), '--edge-http-port', String(EDGE_HTTP)],
        ...['--edge-https-port', '0', '--log-level', 'info'],
      ],
      'edge-lan.log',
    );
    const first = await until(
      async () => {
        const r = await viaLanEdge();
        return r.startsWith('200 ') ? r : undefined;
      },
      30_000,
      200,
    ).catch((err: unknown) => {
      throw new Error(`${String(err)}\nedge-lan.log:\n${hl.lab.tail('edge-lan.log')}`);
    });
    expect(first).toBe(`200 ${BODY}`);

    // The home's internet link down: the public edge cannot reach the site; the LAN edge does not
    // need the tunnel (nor the control plane: it serves what it holds).
    await hl.lab.cutHome();
    try {
      await until(
        async () => ((await hl.via('inet', HOST, 1000)).status !== 200 ? true : undefined),
        15_000,
        200,
      );
      for (let i = 0; i < 5; i++) expect(await viaLanEdge()).toBe(`200 ${BODY}`);
    } finally {
      await hl.lab.restoreHome();
    }
    await until(
      async () => ((await hl.via('inet', HOST, 1000)).status === 200 ? true : undefined),
      15_000,
      100,
    );
  }, 90_000);
});
