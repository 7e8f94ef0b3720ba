import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Rfc2136Provider } from '../../src/dns/rfc2136.js';
import { startBind, type Bind } from '../helpers/bind.js';

const ZONE = 'records.test';
let bind: Bind;
let p: Rfc2136Provider;

beforeAll(async () => {
  bind = await startBind(ZONE);
  p = new Rfc2136Provider({
    zone: ZONE,
    server: bind.server,
    tsigName: bind.tsigName,
    tsigAlgorithm: 'hmac-sha256',
    tsigSecret: bind.tsigSecret,
  });
}, 30_000);
afterAll(async () => {
  await bind?.close();
});

describe('record sets through RFC 2136 on a real BIND', () => {
  it('puts, replaces and removes A, CNAME and TXT sets, read back from the server', async () => {
    await p.put({ name: `app.${ZONE}`, type: 'A', ttl: 120, values: ['192.0.2.10', '192.0.2.11'] });
    let sets = await p.get(`app.${ZONE}`);
    expect(sets).toEqual([
      { name: `app.${ZONE}`, type: 'A', ttl: 120, values: ['192.0.2.10', '192.0.2.11'] },
    ]);
    // Replaced whole, not merged.
    await p.put({ name: `app.${ZONE}`, type: 'A', ttl: 60, values: ['198.51.100.7'] });
    sets = await p.get(`app.${ZONE}`);
    expect(sets.find((s) => s.type === 'A')?.values).toEqual(['198.51.100.7']);
    await p.put({ name: `owner.${ZONE}`, type: 'TXT', ttl: 60, values: ['heritage=gatehouse,owner=a b'] });
    expect((await p.get(`owner.${ZONE}`)).find((s) => s.type === 'TXT')?.values).toEqual([
      'heritage=gatehouse,owner=a b',
    ]);
    await p.put({ name: `alias.${ZONE}`, type: 'CNAME', ttl: 60, values: [`app.${ZONE}`] });
    expect(await p.get(`alias.${ZONE}`)).toEqual([
      { name: `alias.${ZONE}`, type: 'CNAME', ttl: 60, values: [`app.${ZONE}`] },
    ]);
    await p.remove(`app.${ZONE}`, 'A');
    // The zone's wildcard answers for a name without records of its own.
    expect((await p.get(`app.${ZONE}`)).find((s) => s.type === 'A')?.values).toEqual(['127.0.0.1']);
  });

  it('refuses names outside the zone and values that do not fit their type, writing nothing', async () => {
    await expect(
      p.put({ name: 'app.other.test', type: 'A', ttl: 60, values: ['192.0.2.1'] }),
    ).rejects.toThrow(/not inside the zone records.test/);
    await expect(p.put({ name: `x.${ZONE}`, type: 'A', ttl: 60, values: ['not-an-ip'] })).rejects.toThrow(
      /unsafe record/,
    );
    await expect(
      p.put({ name: `x.${ZONE}`, type: 'TXT', ttl: 60, values: ['a"\nupdate add evil. 60 A 1.2.3.4'] }),
    ).rejects.toThrow(/unsafe record/);
    await expect(p.remove('x.other.test', 'A')).rejects.toThrow(/not inside the zone/);
    expect((await p.get(`x.${ZONE}`)).find((s) => s.type === 'TXT')).toBeUndefined();
  });
});
