import { describe, expect, it } from 'vitest';
import { SessionCodec, sessionClaims, TOKEN } from '../../src/model/session.js';
import type { Identity } from '../../src/model/identity.js';
import { tamperSignature } from '../helpers/tokens.js';

const who: Identity = {
  uid: 'u_amy',
  username: 'amy',
  email: 'amy@example.com',
  name: 'Amy',
  first_name: 'Amy',
  last_name: '',
  groups: ['family'],
};

/** Tokens of one codec, one per issue time, until `want` picked one (at most `limit` tried). */
function findToken(codec: SessionCodec, want: (mac: string) => boolean, limit = 100_000): string {
  for (let i = 0; i < limit; i++) {
    const token = codec.sign(
      sessionClaims(who, 'sid_1', 1_000_000 + i, 2_000_000, 'example.com', 'password'),
    );
    if (want(token.slice(token.indexOf(TOKEN.separator) + 1))) return token;
  }
  throw new Error('no such token found');
}

describe('tamperSignature (tests forge cookies with it)', () => {
  const codec = new SessionCodec('k'.repeat(43));

  it('changes the signature of every token, whatever its MAC begins or ends with', () => {
    // The cases that made the old tail overwrite (`mac.slice(0, -2) + "AA"`) a no-op, or could
    // make a first-character flip one: a MAC ending in "AA", one starting with "A", one with "B".
    const edges = [
      findToken(codec, (mac) => mac.endsWith('AA')),
      findToken(codec, (mac) => mac.startsWith('A')),
      findToken(codec, (mac) => mac.startsWith('B')),
    ];
    for (const token of edges) {
      const forged = tamperSignature(token);
      expect(forged).not.toBe(token);
      expect(forged.length).toBe(token.length);
      expect(codec.verify(token)).toBeDefined();
      expect(codec.verify(forged)).toBeUndefined();
    }
  });

  it('refuses what is no signed token', () => {
    expect(() => tamperSignature('garbage')).toThrow(/not a signed token/);
    expect(() => tamperSignature('body.')).toThrow(/not a signed token/);
  });
});
