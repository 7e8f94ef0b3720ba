import { describe, expect, it } from 'vitest';
import { decisionList, listVersion, networkKey } from '../../src/drivers/nginx/decisions.js';
import { goDurationMs } from '../../src/gate/crowdsec.js';
import { loadSettings } from '../../src/model/settings.js';

describe('CrowdSec decisions as nginx takes them', () => {
  it('keys an address or range by family, prefix length and masked network bytes', () => {
    expect(networkKey('192.0.2.7')).toBe('4 32 c0000207');
    expect(networkKey('192.0.2.77/24')).toBe('4 24 c00002');
    expect(networkKey('10.9.0.0/12')).toBe('4 12 0a00');
    expect(networkKey('0.0.0.0/0')).toBe('4 0 ');
    expect(networkKey('2001:db8::1')).toBe('6 128 20010db8000000000000000000000001');
    expect(networkKey('2001:db8:ff00::/40')).toBe('6 40 20010db8ff');
    // An IPv4-mapped address is the IPv4 one (nginx sees that).
    expect(networkKey('::ffff:192.0.2.7')).toBe('4 32 c0000207');
    expect(networkKey('::ffff:192.0.2.0/120')).toBe('4 24 c00002');
    for (const bad of ['', 'example.com', '192.0.2.1/33', '2001:db8::/129', '192.0.2.1/x', '1.2.3']) {
      expect(networkKey(bad), bad).toBeUndefined();
    }
  });

  it('makes a sorted list with a version that changes with its content, leaving out what is no network', () => {
    const a = decisionList([
      { value: '192.0.2.7', type: 'ban', until: 2_000_000_000 },
      { value: '198.51.100.0/24', type: 'captcha', until: 2_000_000_000 },
      { value: 'FR', type: 'ban', until: 2_000_000_000 },
    ]);
    expect(a.text).toBe(
      `# gatehouse decisions ${a.version}\n4 24 c63364 captcha 2000000000\n4 32 c0000207 ban 2000000000\n`,
    );
    expect(listVersion(a.text)).toBe(a.version);
    const b = decisionList([{ value: '192.0.2.7', type: 'ban', until: 2_000_000_000 }]);
    expect(b.version).not.toBe(a.version);
  });

  it("reads the Local API's Go durations", () => {
    expect(goDurationMs('3h59m58.5s')).toBe(14_398_500);
    expect(goDurationMs('-1.5s')).toBe(-1500);
    expect(goDurationMs('250ms')).toBe(250);
    expect(goDurationMs('soon')).toBeNaN();
  });

  it('refuses a Local API without its key, and the reverse, naming the setting', () => {
    expect(() => loadSettings({ data_dir: '/tmp/x', crowdsec_url: 'http://127.0.0.1:8080' }, {})).toThrow(
      /crowdsec_api_key/,
    );
    expect(() => loadSettings({ data_dir: '/tmp/x', crowdsec_api_key: 'k'.repeat(32) }, {})).toThrow(
      /crowdsec.url/,
    );
    expect(() =>
      loadSettings({ data_dir: '/tmp/x', crowdsec_url: 'ftp://x', crowdsec_api_key: 'k'.repeat(32) }, {}),
    ).toThrow(/crowdsec.url/);
    const s = loadSettings(
      { data_dir: '/tmp/x', crowdsec_url: 'http://127.0.0.1:8080', crowdsec_api_key: 'k'.repeat(32) },
      {},
    );
    expect(s.crowdsec_poll_interval).toBe('2s');
  });
});
