import { describe, expect, it } from 'vitest';
import { Compiler } from '../../src/compile/incremental.js';
import { PassiveHealth } from '../../src/edge/passive-health.js';
import { serviceSchema } from '../../src/model/service.js';
import { createLogger } from '../../src/observe/log.js';

const svc = (name: string, upstream: string) =>
  serviceSchema.parse({ name, hosts: [`${name}.test`], routes: [{ upstreams: [upstream] }] });

describe('passive health after incremental applies', () => {
  it('indexes the config it last learnt when a failure comes, and drops failures of servers gone', () => {
    const compiler = new Compiler();
    const listeners = { http: 80, https: 0 };
    const p = new PassiveHealth(() => undefined, createLogger('silent'));
    const tag = (p as unknown as { tag: string }).tag;
    const send = (line: string) => p.receive(`<190>Dec  4 17:43:07 ${tag}: ${line}`);

    const a = svc('a', '10.0.0.1:80');
    const b = svc('b', '10.0.0.2:80');
    p.update(compiler.compile({ services: [a, b], listeners }));
    send('a.test|10.0.0.1:80|502');
    expect(p.failing().map((f) => f.server)).toEqual(['a-r0 10.0.0.1:80']);

    // a goes, c comes (with a's old address): a's failures are dropped, c's are c's.
    const c = svc('c', '10.0.0.1:80');
    p.update(compiler.compile({ services: [b, c], listeners }));
    expect(p.failing()).toEqual([]);
    send('c.test|10.0.0.1:80|504');
    send('b.test|10.0.0.2:80|502');
    expect(p.failing().map((f) => f.server)).toEqual(['b-r0 10.0.0.2:80', 'c-r0 10.0.0.1:80']);

    // Several applies without a failure in between: the next failure sees the latest.
    const d = svc('d', '10.0.0.1:80');
    p.update(compiler.compile({ services: [b, d], listeners }));
    p.update(compiler.compile({ services: [b, c, d], listeners }));
    p.update(compiler.compile({ services: [d], listeners }));
    send('d.test|10.0.0.1:80|502');
    expect(p.failing().map((f) => f.server)).toEqual(['d-r0 10.0.0.1:80']);
    p.stop();
  });
});
