import { TOKEN } from '../../src/model/session.js';

/**
 * A session token with its signature changed, which therefore never verifies. The first character
 * is the one replaced: it carries six whole bits of the MAC, so a different character is always a
 * different MAC. The last one carries only four bits beside two padding bits, and overwriting the
 * tail with fixed characters gave back the very same token whenever the MAC already ended in them
 * (about 1 token in 1024), a valid session the test then saw admitted (or refused a group: 403).
 */
export function tamperSignature(token: string): string {
  const dot = token.indexOf(TOKEN.separator);
  if (dot <= 0 || dot === token.length - 1) throw new Error(`not a signed token: ${token.slice(0, 20)}`);
  const mac = token.slice(dot + 1);
  return `${token.slice(0, dot + 1)}${mac[0] === 'A' ? 'B' : 'A'}${mac.slice(1)}`;
}
