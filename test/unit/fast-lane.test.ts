import { describe, expect, it } from 'vitest';
import { UnsafeValueError } from '../../src/drivers/nginx/escape.js';
import { fastLaneState, stateVersion } from '../../src/drivers/nginx/fast-lane.js';
import type { FastEntry } from '../../src/drivers/nginx/lanes.js';

const entry = (over: Partial<FastEntry> = {}): FastEntry => ({
  host: 'a.example.com',
  scheme: 'http',
  address: '10.0.0.1:80',
  offline: { title: 'a' },
  ...over,
});

describe('fast lane state file', () => {
  it('renders a version line and one tab-separated line per host, page text HTML-escaped', () => {
    const state = fastLaneState(
      [
        entry(),
        entry({
          host: 'b.example.com',
          scheme: 'https',
          address: '[fd00::5]:443',
          offline: { title: 'B <&> "$"', message: "it's down" },
        }),
      ],
      'abc123',
    );
    expect(state).toBe(
      '# gatehouse fast lane abc123\n' +
        'a.example.com\thttp\t10.0.0.1:80\ta\t\n' +
        'b.example.com\thttps\t[fd00::5]:443\tB &lt;&amp;&gt; &quot;&#36;&quot;\tit&#39;s down\n',
    );
    expect(stateVersion(state)).toBe('abc123');
    expect(fastLaneState([], 'ff')).toBe('# gatehouse fast lane ff\n');
  });

  it('refuses values that could break a line or reach Lua unchecked', () => {
    expect(() => fastLaneState([entry({ host: 'A.example.com' })], 'ab')).toThrow(UnsafeValueError);
    expect(() => fastLaneState([entry({ host: 'a\tb' })], 'ab')).toThrow(UnsafeValueError);
    expect(() => fastLaneState([entry({ address: '10.0.0.1:80\nx' })], 'ab')).toThrow(UnsafeValueError);
    expect(() => fastLaneState([entry({ offline: { title: 'a\tb' } })], 'ab')).toThrow(UnsafeValueError);
    expect(() => fastLaneState([entry({ offline: { title: 'a', message: 'x\ny' } })], 'ab')).toThrow(
      UnsafeValueError,
    );
    expect(() => fastLaneState([entry()], 'not hex')).toThrow(UnsafeValueError);
  });
});
