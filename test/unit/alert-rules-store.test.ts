import { describe, expect, it } from 'vitest';
import { AlertStore } from '../../src/alerts/store.js';
import { GatehouseError } from '../../src/model/errors.js';
import { openTestDb } from '../helpers/postgres.js';

const channels = async () => ['ops', 'mail'];

/** Rules keep only the fields an operator changed; the rest follow the defaults. */
describe('alert rules in the store', () => {
  it('changes some fields, keeps the others, null puts one default back, reset all of them', async () => {
    const store = new AlertStore(await openTestDb('sqlite'));
    expect((await store.rules()).upstream_down).toEqual({
      enabled: true,
      channels: 'all',
      hold_s: 30,
      repeat_s: 3600,
      resolved: true,
    });
    await store.update('upstream_down', { hold_s: 5, channels: ['ops'] }, channels);
    await store.update('upstream_down', { repeat_s: 0 }, channels);
    expect((await store.rules()).upstream_down).toMatchObject({ hold_s: 5, channels: ['ops'], repeat_s: 0 });
    expect((await store.overrides()).upstream_down).toEqual({ hold_s: 5, channels: ['ops'], repeat_s: 0 });
    await store.update('upstream_down', { hold_s: null }, channels);
    expect((await store.rules()).upstream_down.hold_s).toBe(30);
    await store.reset('upstream_down');
    expect(await store.overrides()).toEqual({});
  });

  it('refuses a bad value, a field the rule lacks, an unknown channel: naming the field, nothing changed', async () => {
    const store = new AlertStore(await openTestDb('sqlite'));
    await store.update('sign_in_failures', { count: 3 }, channels);
    const refused = async (patch: unknown) => {
      const err = await store.update('sign_in_failures', patch, channels).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(GatehouseError);
      expect((err as GatehouseError).status).toBe(400);
      return (err as GatehouseError).issues?.map((i) => i.field) ?? [];
    };
    expect(await refused({ count: 0, window_min: 2 })).toEqual(['count']);
    expect(await refused({ days: 3 })).toEqual(['days']);
    expect(await refused({ days: null })).toEqual(['days']);
    expect(await refused({ channels: ['pager'] })).toEqual(['channels']);
    expect(await refused({ repeat_s: 5 })).toEqual(['repeat_s']);
    expect(await refused(['count'])).toEqual(['']);
    expect((await store.rules()).sign_in_failures).toMatchObject({ count: 3, window_min: 5, repeat_s: 3600 });
  });
});
