import { describe, expect, it } from 'vitest';
import { closestKey, fromZod } from '../../src/model/errors.js';
import { serviceSchema } from '../../src/model/service.js';
import { userCreateSchema } from '../../src/model/identity.js';

const issuesOf = (schema: { safeParse(v: unknown): { success: boolean; error?: unknown } }, v: unknown) => {
  const r = schema.safeParse(v);
  expect(r.success).toBe(false);
  return fromZod(r.error as Parameters<typeof fromZod>[0]);
};

const base = { name: 'app', hosts: ['app.test'], access: { public: true } };

describe('validation messages', () => {
  it('suggests the known key an unknown one was probably meant to be, and names it as the field', () => {
    const e = issuesOf(serviceSchema, { ...base, routes: [{ path: '/', upstream: ['127.0.0.1:80'] }] });
    const issue = e.issues.find((i) => i.field === 'routes.0.upstream');
    expect(issue?.message).toBe('unknown field "upstream" (did you mean "upstreams"?)');
    const top = issuesOf(serviceSchema, {
      ...base,
      host: ['x.test'],
      routes: [{ upstreams: ['127.0.0.1:80'] }],
    });
    expect(top.message).toBe('host: unknown field "host" (did you mean "hosts"?)');
    const deep = issuesOf(serviceSchema, {
      ...base,
      access: { login: { group: ['staff'] } },
      routes: [{ upstreams: ['127.0.0.1:80'] }],
    });
    expect(deep.issues[0]).toEqual({
      field: 'access.login.group',
      message: 'unknown field "group" (did you mean "groups"?)',
    });
    const user = issuesOf(userCreateSchema, { username: 'ann', mail: 'a@b.test' });
    expect(user.message).toBe('mail: unknown field "mail" (did you mean "email"?)');
  });

  it('suggests nothing for a key that is not close to any', () => {
    const e = issuesOf(serviceSchema, { ...base, colour: 'red', routes: [{ upstreams: ['127.0.0.1:80'] }] });
    expect(e.message).toBe('colour: unknown field "colour"');
    expect(closestKey('xyz', ['hosts', 'routes'])).toBeUndefined();
    expect(closestKey('Upstream', ['upstreams', 'path'])).toBe('upstreams');
  });

  it('accepts login: true as login: {} (any signed-in user), and nothing else in its place', () => {
    const s = serviceSchema.parse({
      name: 'app',
      hosts: ['app.test'],
      routes: [{ upstreams: ['127.0.0.1:80'] }],
      access: { login: true },
    });
    expect(s.access?.login).toEqual({ groups: [] });
    for (const login of [false, 'yes', 1, null]) {
      const e = issuesOf(serviceSchema, {
        ...base,
        access: { login },
        routes: [{ upstreams: ['127.0.0.1:80'] }],
      });
      expect(e.issues[0]?.field).toBe('access.login');
    }
  });
});
