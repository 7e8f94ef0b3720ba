import { mkdir, mkdtemp, readdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { mirrorState, readState } from '../../src/edge/gate-state.js';
import { endToEnd, openAsNode, sealForNode, tokenHash } from '../../src/edge/transit.js';

describe('edge transit: sealed secrets', () => {
  const token = 'node-token-abcdefghijklmnop';

  it('opens with the node token only', () => {
    const sealed = sealForNode(tokenHash(token), { sessionKey: 'k', certs: {} });
    expect(openAsNode(token, sealed)).toEqual({ sessionKey: 'k', certs: {} });
    expect(() => openAsNode('another-node-token-0000000', sealed)).toThrow();
  });

  it('refuses an altered or truncated box', () => {
    const sealed = Buffer.from(sealForNode(tokenHash(token), { a: 1 }), 'base64');
    const altered = Buffer.from(sealed);
    altered[altered.length - 1] = (altered[altered.length - 1] ?? 0) ^ 1;
    expect(() => openAsNode(token, altered.toString('base64'))).toThrow();
    expect(() => openAsNode(token, sealed.subarray(0, 20).toString('base64'))).toThrow();
  });

  it('never relays hop-by-hop headers, nor those Connection names', () => {
    expect(
      endToEnd({
        host: 'a.test',
        connection: 'keep-alive, x-secret',
        'keep-alive': 'timeout=5',
        'transfer-encoding': 'chunked',
        upgrade: 'h2c',
        'x-secret': '1',
        cookie: 'c=1',
      }),
    ).toEqual({ host: 'a.test', cookie: 'c=1' });
  });
});

describe('edge gate state', () => {
  const dir = () => mkdtemp(join(tmpdir(), 'gh-state-'));

  it('reads every file, and refuses (rather than cuts short) a list over the limit', async () => {
    const d = await dir();
    await mkdir(join(d, 'r'));
    for (const n of ['a', 'b', 'c']) await writeFile(join(d, 'r', n), '1');
    await writeFile(join(d, 'r', 'x.1234.tmp'), 'half');
    expect(await readState(d)).toEqual([
      ['r/a', '1'],
      ['r/b', '1'],
      ['r/c', '1'],
    ]);
    await expect(readState(d, 2)).rejects.toThrow(/more than 2/);
  });

  it('mirrors exactly the list, and never writes outside its directory', async () => {
    const d = await dir();
    await mkdir(join(d, 'r'));
    await writeFile(join(d, 'r', 'old'), '1');
    await mirrorState(join(d, 'state'), [
      ['r/new', '5'],
      ['../escape', '1'],
      ['r/../../escape2', '1'],
      ['/abs', '1'],
    ]);
    expect(await readState(join(d, 'state'))).toEqual([['r/new', '5']]);
    expect((await readdir(d)).sort()).toEqual(['r', 'state']);
    await mirrorState(join(d, 'state'), [['u/x', '9']]);
    expect(await readState(join(d, 'state'))).toEqual([['u/x', '9']]);
  });
});
