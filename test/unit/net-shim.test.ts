import { isIPv4, isIPv6 } from 'node:net';
import { describe, expect, it } from 'vitest';
import * as shim from '../../web/src/shims/net.js';

/** The web UI validates addresses with a shim of node:net: it must agree with Node's own checks. */
describe('web UI node:net shim', () => {
  const samples = [
    '127.0.0.1',
    '10.0.0.255',
    '255.255.255.255',
    '256.1.1.1',
    '01.2.3.4',
    '1.2.3',
    '1.2.3.4.5',
    '0x7f.0.0.1',
    ' 1.2.3.4',
    '',
    '::1',
    '::',
    'fe80::1',
    'fe80::1%eth0',
    '2001:db8::8a2e:370:7334',
    '2001:db8:0:0:0:0:2:1',
    '::ffff:192.0.2.1',
    '1::2::3',
    '12345::1',
    'gggg::1',
    '[::1]',
    'localhost',
    '1.2.3.4:80',
  ];
  it.each(samples)('%j', (s) => {
    expect([shim.isIPv4(s), shim.isIPv6(s)]).toEqual([isIPv4(s), isIPv6(s)]);
  });
});
