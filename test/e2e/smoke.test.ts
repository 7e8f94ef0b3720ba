import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestGatehouse, type TestGatehouse } from '../helpers/gatehouse.js';
import { echoBackend, http, type TestServer } from '../helpers/net.js';

describe('smoke', () => {
  let t: TestGatehouse;
  let a: TestServer;
  beforeAll(async () => {
    t = await startTestGatehouse();
    a = await echoBackend('a');
  });
  afterAll(async () => {
    await t?.close();
    await a?.close();
  });

  it('serves a service created over the API', async () => {
    const r = await t.api('POST', '/api/v1/services?wait=true', {
      name: 'app',
      hosts: ['app.test'],
      routes: [{ path: '/', upstreams: [`127.0.0.1:${a.port}`] }],
    });
    expect(r.status, JSON.stringify(r.json)).toBe(201);
    const res = await t.get('app.test', '/hello');
    expect(res.status).toBe(200);
    expect(JSON.parse(res.body).backend).toBe('a');
    // Over IPv6 too, where the machine has it.
    const v6 = await http(t.httpPort, 'app.test', '/', { address: '::1' });
    expect(v6.status).toBe(200);
    const unknown = await t.get('nope.test');
    expect(unknown.status).toBe(404);
    expect(unknown.body).toContain('Gatehouse');
  });
});
