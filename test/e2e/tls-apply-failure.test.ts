import { createServer, type Server } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestGatehouse, type TestGatehouse } from '../helpers/gatehouse.js';
import { echoBackend, freePort, type TestServer } from '../helpers/net.js';
import { https, makeCa } from '../helpers/tls.js';
import { testDir } from '../helpers/tmp.js';

/**
 * A certificate whose apply fails: the first certificate opens the HTTPS listener, and another
 * program already holds that port. `wait=true` must say the change is not live (it used to answer
 * 201 while nginx kept the last good config, without HTTPS), and the last good config keeps serving.
 */
describe('tls: a certificate that cannot be applied', () => {
  let t: TestGatehouse;
  let app: TestServer;
  let squatter: Server;
  let httpsPort: number;

  beforeAll(async () => {
    httpsPort = await freePort();
    t = await startTestGatehouse({ https_port: httpsPort });
    app = await echoBackend('app');
    const put = await t.api('PUT', '/api/v1/services/web?wait=true', {
      hosts: ['web.fail.test'],
      routes: [{ upstreams: [`127.0.0.1:${app.port}`] }],
    });
    expect(put.status).toBe(201);
    // nginx listens on every address (`listen <port>`): a listener on one of them takes the port.
    squatter = createServer();
    await new Promise<void>((resolve) => squatter.listen(httpsPort, '0.0.0.0', resolve));
  });
  afterAll(async () => {
    if (squatter?.listening) await new Promise((r) => squatter.close(r));
    await t?.close();
    await app?.close();
  });

  it('answers 502 naming the cause, keeps HTTP serving, and applies once the port is free', async () => {
    const ca = makeCa(await testDir('gh-ca-fail-'));
    const cert = ca.issue(['web.fail.test']);
    const up = await t.api('POST', '/api/v1/certificates?wait=true', cert);
    expect(up.status, JSON.stringify(up.json)).toBe(502);
    expect(up.json.error?.message).toMatch(/^saved, but not applied .*address already in use/i);
    // The last good config serves: plain HTTP, no redirect to an HTTPS that is not there.
    expect((await t.get('web.fail.test')).status).toBe(200);
    const status = await t.api('GET', '/api/v1/status');
    expect(JSON.stringify(status.json)).toMatch(/address already in use/i);
    // The port freed, the next apply (here: the certificate removed and uploaded again) serves it.
    await new Promise((r) => squatter.close(r));
    const list = (await t.api('GET', '/api/v1/certificates')).json as { certificates: { id: string }[] };
    const id = list.certificates[0]?.id;
    expect((await t.api('DELETE', `/api/v1/certificates/${id}`)).status).toBe(200);
    const again = await t.api('POST', '/api/v1/certificates?wait=true', cert);
    expect(again.status, JSON.stringify(again.json)).toBe(201);
    expect((await https(httpsPort, 'web.fail.test', '/', ca.ca)).status).toBe(200);
  });
});
