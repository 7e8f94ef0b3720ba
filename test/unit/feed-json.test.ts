import { describe, expect, it } from 'vitest';
import { compile } from '../../src/compile/compile.js';
import { configJson, feedBodyJson } from '../../src/edge/feed-json.js';
import type { EdgeFeedBody } from '../../src/edge/feed.js';
import { serviceSchema } from '../../src/model/service.js';

const svc = (name: string, port: number) =>
  serviceSchema.parse({
    name,
    hosts: [`${name}.test`],
    routes: [{ path: '/', upstreams: [`10.0.0.1:${port}`] }],
  });

describe('feed body JSON', () => {
  it('parses back to the body, whatever parts it kept from an earlier config', () => {
    const a = svc('a', 1);
    const first = compile({ services: [a, svc('b', 2)], listeners: { http: 80, https: 443 } });
    configJson(first);
    const config = compile({ services: [a, svc('b', 3), svc('c', 4)], listeners: { http: 80, https: 0 } });
    const body: EdgeFeedBody = {
      version: 7,
      hash: 'h',
      config,
      gate: { cookie: 'gh', state: { epoch: 'e', seq: 1, hash: 's', files: [['r/x', 'y']] } },
      sealed: 'zz',
    };
    expect(JSON.parse(feedBodyJson(body))).toEqual(JSON.parse(JSON.stringify(body)));
    expect(JSON.parse(configJson(config))).toEqual(JSON.parse(JSON.stringify(config)));
  });
});
