import { describe, expect, it } from 'vitest';
import { bytes, isOnline, policyOf, type VpnClientShape } from '../../web/src/pages/vpn/format.js';

const client = (over: Partial<VpnClientShape>): VpnClientShape => ({
  name: 'laptop',
  group: null,
  policy: 'full',
  policy_from: 'client',
  address: '100.96.0.2',
  public_key: 'k',
  created_at: '2026-01-01T00:00:00.000Z',
  expires_at: null,
  expired: false,
  last_handshake: null,
  rx_bytes: 0,
  tx_bytes: 0,
  ...over,
});

/** The VPN clients page's small rules: the policy string sent, bytes shown, who counts as online. */
describe('web UI: VPN clients format', () => {
  it('writes the policy the API reads from the form', () => {
    expect(policyOf('full', ['wiki'], '22')).toBe('full');
    expect(policyOf('services', ['wiki', 'git'], '')).toBe('services:wiki,git');
    expect(policyOf('ports', [], ' 22, 80,8000-8100 ')).toBe('ports:22,80,8000-8100');
  });

  it('shows bytes in binary units', () => {
    expect(bytes(0)).toBe('0 B');
    expect(bytes(1023)).toBe('1023 B');
    expect(bytes(1536)).toBe('1.5 KiB');
    expect(bytes(5 * 1024 ** 3)).toBe('5.0 GiB');
  });

  it('counts a client online with a handshake in the last 3 minutes, and never an expired one', () => {
    const now = Date.parse('2026-01-01T12:00:00.000Z');
    const ago = (s: number) => new Date(now - s * 1000).toISOString();
    expect(isOnline(client({}), now)).toBe(false);
    expect(isOnline(client({ last_handshake: ago(30) }), now)).toBe(true);
    expect(isOnline(client({ last_handshake: ago(200) }), now)).toBe(false);
    expect(isOnline(client({ last_handshake: ago(30), expired: true }), now)).toBe(false);
  });
});
