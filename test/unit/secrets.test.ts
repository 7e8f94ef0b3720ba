import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { generatedSecret, Sealer } from '../../src/store/secrets.js';
import { openSqlite } from '../../src/store/db.js';

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

  it('refuses a database restored without its data.key, or with another one, saying what to put back', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'gh-sealer-'));
    const db = await openSqlite(join(dir, 'gatehouse.db'));
    try {
      const secret = await generatedSecret(db, await Sealer.load(dir, undefined, db), 'session-key');
      const key = await readFile(join(dir, 'data.key'), 'utf8');
      await rm(join(dir, 'data.key'));
      await expect(Sealer.load(dir, undefined, db)).rejects.toMatchObject({
        code: 'data_key_missing',
        message: expect.stringContaining('put back the data.key'),
      });
      // No new key was written beside the sealed secrets.
      await expect(stat(join(dir, 'data.key'))).rejects.toThrow();
      await writeFile(join(dir, 'data.key'), Buffer.alloc(32, 7).toString('base64'));
      await expect(Sealer.load(dir, undefined, db)).rejects.toMatchObject({ code: 'data_key_mismatch' });
      await expect(Sealer.load(dir, 'some passphrase', db)).rejects.toMatchObject({
        code: 'data_key_mismatch',
      });
      await writeFile(join(dir, 'data.key'), key);
      expect(await generatedSecret(db, await Sealer.load(dir, undefined, db), 'session-key')).toBe(secret);
    } finally {
      await db.destroy();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
