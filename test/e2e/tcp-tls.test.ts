import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { connect as netConnect } from 'node:net';
import { connect, createServer, type Server } from 'node:tls';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestGatehouse, type TestGatehouse } from '../helpers/gatehouse.js';
import { freePort, until } from '../helpers/net.js';
import { makeCa } from '../helpers/tls.js';
import { testDir } from '../helpers/tmp.js';

/** TLS on TCP routes: MQTT with TLS ended by nginx in front of a plain broker; passthrough by SNI. */
describe('tls: TCP routes', () => {
  let t: TestGatehouse;
  let dir: string;
  let ca: ReturnType<typeof makeCa>;
  let broker: ChildProcess;
  let brokerPort: number;
  const servers: Server[] = [];

  const run = (cmd: string, args: string[]) =>
    new Promise<{ code: number | null; stdout: string }>((resolve) => {
      execFile(cmd, args, { timeout: 15_000 }, (err, stdout) =>
        resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout }),
      );
    });

  /** A TLS backend that greets with its name. */
  const tlsBackend = async (name: string) => {
    const leaf = ca.issue([`${name}.tls.test`]);
    const s = createServer({ cert: leaf.cert, key: leaf.key }, (sock) => sock.end(`hello from ${name}\n`));
    servers.push(s);
    const port = await freePort();
    await new Promise<void>((r) => s.listen(port, '127.0.0.1', () => r()));
    return port;
  };

  /** What a TLS client with SNI `name` reads from 127.0.0.1:port (empty when refused). */
  const readVia = (port: number, name: string) =>
    new Promise<string>((resolve) => {
      let data = '';
      const sock = connect({ host: '127.0.0.1', port, servername: name, ca: ca.ca }, () => undefined);
      sock.setEncoding('utf8');
      sock.on('data', (d: string) => (data += d));
      sock.on('end', () => resolve(data));
      sock.on('error', () => resolve(data));
      sock.setTimeout(5000, () => sock.destroy());
      sock.on('close', () => resolve(data));
    });

  beforeAll(async () => {
    t = await startTestGatehouse();
    dir = await testDir('gh-mqtt-');
    ca = makeCa(dir);
    const wildcard = ca.issue(['*.tls.test']);
    expect((await t.api('POST', '/api/v1/certificates?wait=true', wildcard)).status).toBe(201);
    brokerPort = await freePort();
    await writeFile(join(dir, 'mosquitto.conf'), `listener ${brokerPort} 127.0.0.1\nallow_anonymous true\n`);
    broker = spawn('mosquitto', ['-c', join(dir, 'mosquitto.conf')], { stdio: 'ignore' });
    await until(
      () =>
        new Promise<boolean | undefined>((r) => {
          const s = netConnect(brokerPort, '127.0.0.1', () => (s.destroy(), r(true)));
          s.on('error', () => r(undefined));
        }),
      10_000,
    );
  });
  afterAll(async () => {
    await t?.close();
    for (const s of servers) s.close();
    if (broker?.pid && broker.exitCode === null) {
      const exited = new Promise((r) => broker.once('exit', r));
      broker.kill('SIGTERM');
      await exited;
    }
  });

  it('MQTT over TLS to a plain broker: nginx ends TLS with the certificate of the route’s name', async () => {
    const port = await freePort();
    const put = await t.api('PUT', '/api/v1/services/mqtt?wait=true', {
      tcp: [{ port, upstreams: [`127.0.0.1:${brokerPort}`], tls: 'terminate', sni: ['mqtt.tls.test'] }],
    });
    expect(put.status, JSON.stringify(put.json)).toBe(201);
    const tlsArgs = ['-h', '127.0.0.1', '-p', String(port), '--cafile', ca.caFile, '--insecure'];
    const sub = run('mosquitto_sub', [...tlsArgs, '-t', 'gh/test', '-C', '1', '-W', '10']);
    await new Promise((r) => setTimeout(r, 500));
    const pub = await run('mosquitto_pub', [...tlsArgs, '-t', 'gh/test', '-m', 'hello over tls']);
    expect(pub.code).toBe(0);
    expect((await sub).stdout.trim()).toBe('hello over tls');
    // Plain MQTT to the TLS port is refused.
    const plain = await run('mosquitto_pub', ['-h', '127.0.0.1', '-p', String(port), '-t', 'x', '-m', 'y']);
    expect(plain.code).not.toBe(0);
  });

  it('passes TLS through by SNI: two services share a port, an unknown name gets nothing', async () => {
    const port = await freePort();
    const [a, b] = [await tlsBackend('a'), await tlsBackend('b')];
    const put = (name: string, sni: string, backend: number) =>
      t.api('PUT', `/api/v1/services/${name}?wait=true`, {
        tcp: [{ port, upstreams: [`127.0.0.1:${backend}`], tls: 'passthrough', sni: [sni] }],
      });
    expect((await put('pa', 'a.tls.test', a)).status).toBe(201);
    expect((await put('pb', 'b.tls.test', b)).status).toBe(201);
    expect(await readVia(port, 'a.tls.test')).toBe('hello from a\n');
    expect(await readVia(port, 'b.tls.test')).toBe('hello from b\n');
    expect(await readVia(port, 'c.tls.test')).toBe('');
    // A wildcard name matches any one label under it.
    const w = await tlsBackend('x.w');
    expect((await put('pw', '*.w.tls.test', w)).status).toBe(201);
    expect(await readVia(port, 'x.w.tls.test')).toBe('hello from x.w\n');
    // The same name on the same port for another service is a conflict naming the field.
    const clash = await put('pc', 'a.tls.test', a);
    expect(clash.status).toBe(409);
    expect(clash.json.error?.message).toMatch(/^tcp\.0\.sni\.0: /);
    // Ending TLS with another service's name (its certificate, in front of a different upstream).
    await t.api('PUT', '/api/v1/services/site?wait=true', {
      hosts: ['owned.tls.test'],
      routes: [{ upstreams: ['127.0.0.1:9'] }],
    });
    const steal = await t.api('PUT', '/api/v1/services/steal', {
      tcp: [
        { port: await freePort(), upstreams: ['127.0.0.1:9'], tls: 'terminate', sni: ['owned.tls.test'] },
      ],
    });
    expect(steal.status).toBe(409);
    expect(steal.json.error?.message).toMatch(/^tcp\.0\.sni\.0: /);
    const noSni = await t.api('PUT', '/api/v1/services/pd', {
      tcp: [{ port: await freePort(), upstreams: ['127.0.0.1:9'], tls: 'terminate' }],
    });
    expect(noSni.status).toBe(400);
    expect(noSni.json.error?.message).toMatch(/^tcp\.0\.sni: /);
  });
});
