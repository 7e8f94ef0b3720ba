import { describe, expect, it } from 'vitest';
import { GatehouseError } from '../../src/model/errors.js';
import { loadSettings } from '../../src/model/settings.js';

const noFile = () => {
  throw new Error('no file expected');
};

function failure(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(GatehouseError);
    return (err as GatehouseError).message;
  }
  throw new Error('expected a failure');
}

describe('DNS doctor settings', () => {
  it('defaults: the zone servers, the CA from acme_directory, 3 s a query', () => {
    const s = loadSettings({}, {}, noFile);
    expect(s.dns_doctor_resolver).toBeUndefined();
    expect(s.dns_doctor_caa_issuer).toBeUndefined();
    expect(s.dns_doctor_timeout).toBe('3s');
  });

  it('takes an IP:PORT resolver, an issuer domain and a time limit from the environment', () => {
    const s = loadSettings(
      {},
      {
        GATEHOUSE_DNS_DOCTOR_RESOLVER: '192.0.2.53:53',
        GATEHOUSE_DNS_DOCTOR_CAA_ISSUER: 'LetsEncrypt.org',
        GATEHOUSE_DNS_DOCTOR_TIMEOUT: '500ms',
      },
      noFile,
    );
    expect(s).toMatchObject({
      dns_doctor_resolver: '192.0.2.53:53',
      dns_doctor_caa_issuer: 'letsencrypt.org',
      dns_doctor_timeout: '500ms',
    });
    expect(loadSettings({ dns_doctor_resolver: '[2001:db8::53]:5353' }, {}, noFile).dns_doctor_resolver).toBe(
      '[2001:db8::53]:5353',
    );
  });

  it('refuses a host name for the resolver, a bad issuer and a limit out of range, naming the setting', () => {
    expect(failure(() => loadSettings({ dns_doctor_resolver: 'ns1.example.com:53' }, {}, noFile))).toMatch(
      /--dns-doctor-resolver: .*IP:PORT/,
    );
    expect(
      failure(() => loadSettings({}, { GATEHOUSE_DNS_DOCTOR_CAA_ISSUER: 'not a domain' }, noFile)),
    ).toContain('GATEHOUSE_DNS_DOCTOR_CAA_ISSUER');
    expect(failure(() => loadSettings({ dns_doctor_timeout: '2m' }, {}, noFile))).toMatch(
      /--dns-doctor-timeout: .*from 100ms to 60s/,
    );
    expect(failure(() => loadSettings({ dns_doctor_timeout: '50ms' }, {}, noFile))).toContain(
      'dns-doctor-timeout',
    );
  });
});
