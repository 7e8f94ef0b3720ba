import { chmod, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBind, type Bind } from '../helpers/bind.js';
import { startTestGatehouse, type TestGatehouse } from '../helpers/gatehouse.js';
import { freePort, until } from '../helpers/net.js';
import { fakeOvhApi, type OvhFake } from '../helpers/ovh-fake.js';
import { startPebble, type Pebble } from '../helpers/pebble.js';
import { testDir } from '../helpers/tmp.js';

interface Listing {
  certificates: { names: string[] }[];
}

/** lego's exec contract: `present|cleanup <fqdn.> <value>`; this one sends nsupdate to the BIND. */
const HOOK = `#!/bin/sh
set -eu
if [ "$1" = present ]; then line="update add $2 60 TXT \\"$3\\""; else line="update delete $2 TXT \\"$3\\""; fi
printf 'key hmac-sha256:%s %s\\nserver 127.0.0.1 %s\\nzone acme.test.\\n%s\\nsend\\n' \\
  "$TSIG_NAME" "$TSIG_SECRET" "$DNS_PORT" "$line" | nsupdate -t 5
echo "$1 $2 $GATEHOUSE_ACME" >> "$CALLS"
`;

/**
 * DNS-01 through the OVH provider (against a FAKE of its API that checks signatures and publishes
 * into a real BIND) and through an exec hook script (nsupdate to that BIND), with a real CA (Pebble)
 * resolving against the BIND.
 */
describe('tls: DNS-01 through OVH (fake) and an exec hook', () => {
  let t: TestGatehouse;
  let bind: Bind;
  let pebble: Pebble;
  let ovh: OvhFake;
  let calls: string;
  const certFor = (name: string) =>
    until(async () => {
      const l = (await t.api('GET', '/api/v1/certificates')).json as unknown as Listing;
      return l.certificates.some((c) => c.names.includes(name)) ? true : undefined;
    }, 40_000);
  const service = (name: string, host: string) =>
    t.api('PUT', `/api/v1/services/${name}?wait=true`, {
      hosts: [host],
      routes: [{ upstreams: ['127.0.0.1:9'] }],
    });

  beforeAll(async () => {
    bind = await startBind('acme.test');
    const keys = { applicationKey: 'appKey0123', applicationSecret: 'ovh-secret-1', consumerKey: 'ovh-ck-1' };
    ovh = await fakeOvhApi({ ...keys, zone: 'ovh.acme.test', bind, bindZone: 'acme.test', skewS: -45 });
    const dir = await testDir('gh-hook-');
    calls = join(dir, 'calls.log');
    await writeFile(join(dir, 'hook.sh'), HOOK);
    await chmod(join(dir, 'hook.sh'), 0o700);
    const httpPort = await freePort();
    pebble = await startPebble(httpPort, { dnsServer: bind.server });
    t = await startTestGatehouse({
      http_port: httpPort,
      https_port: await freePort(),
      acme_directory: pebble.directory,
      acme_ca_file: pebble.apiCaFile,
    });
    for (const body of [
      {
        name: 'ovh',
        type: 'ovh',
        zone: 'ovh.acme.test',
        endpoint: ovh.endpoint,
        application_key: keys.applicationKey,
        application_secret: keys.applicationSecret,
        consumer_key: keys.consumerKey,
        propagation_servers: [bind.server],
      },
      {
        name: 'hook',
        type: 'exec',
        zone: 'ex.acme.test',
        command: join(dir, 'hook.sh'),
        check_server: bind.server,
        env: {
          TSIG_NAME: bind.tsigName,
          TSIG_SECRET: bind.tsigSecret,
          DNS_PORT: bind.server.split(':')[1] as string,
          CALLS: calls,
        },
      },
    ]) {
      const r = await t.api('POST', '/api/v1/dns-providers', body);
      expect(r.status, JSON.stringify(r.json)).toBe(201);
    }
  });
  afterAll(async () => {
    await t?.close();
    await pebble?.close();
    await ovh?.close();
    await bind?.close();
  });

  it('OVH: the TXT record is created, refreshed, seen by the CA, then deleted', async () => {
    await service('ovhapps', '*.w.ovh.acme.test');
    await certFor('*.w.ovh.acme.test');
    expect(ovh.refused).toEqual([]);
    expect(ovh.calls).toContain('POST /1.0/domain/zone/ovh.acme.test/record');
    expect(ovh.calls).toContain('POST /1.0/domain/zone/ovh.acme.test/refresh');
    expect(ovh.calls.some((c) => c.startsWith('DELETE /1.0/domain/zone/ovh.acme.test/record/'))).toBe(true);
    await until(async () =>
      (await bind.txt('_acme-challenge.w.ovh.acme.test')).length === 0 ? true : undefined,
    );
  });

  it('exec hook: present, then cleanup with the same value, as lego calls it', async () => {
    await service('hookapps', '*.w.ex.acme.test');
    await certFor('*.w.ex.acme.test');
    const log = (await readFile(calls, 'utf8')).trim().split('\n');
    expect(log).toEqual([
      'present _acme-challenge.w.ex.acme.test. 1',
      'cleanup _acme-challenge.w.ex.acme.test. 1',
    ]);
    expect(await bind.txt('_acme-challenge.w.ex.acme.test')).toEqual([]);
  });
});
