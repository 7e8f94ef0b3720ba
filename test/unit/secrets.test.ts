import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Sealer } from '../../src/gate/secrets.js';

describe('secrets at rest', () => {
  it('seals with a key file created 0600, or with GATEHOUSE_SECRET and no file at all', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'gh-sealer-'));
    try {
      const fromFile = await Sealer.load(dir);
      expect((await stat(join(dir, 'data.key'))).mode & 0o777).toBe(0o600);
      const sealed = fromFile.seal('top secret');
      expect(sealed).not.toContain('top secret');
      expect((await Sealer.load(dir)).open(sealed)).toBe('top secret');

      const other = await mkdtemp(join(tmpdir(), 'gh-sealer-'));
      const a = await Sealer.load(other, 'a long passphrase here');
      await expect(stat(join(other, 'data.key'))).rejects.toThrow();
      const s2 = a.seal('x');
      expect((await Sealer.load(other, 'a long passphrase here')).open(s2)).toBe('x');
      // The wrong secret cannot open it (GCM authenticates).
      expect(() => fromFile.open(s2)).toThrow();
      await rm(other, { recursive: true, force: true });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
