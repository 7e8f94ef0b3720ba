import Fastify from 'fastify';
import { describe, expect, it } from 'vitest';
import { auditChanges, socketActor, type AuditEntry, type AuditLog } from '../../src/api/audit-log.js';

describe('audit of changes', () => {
  it('hands a change it could not record to onError with the entry, never drops it silently', async () => {
    const app = Fastify();
    const lost: { err: unknown; entry: Omit<AuditEntry, 'id'> }[] = [];
    const failing = {
      record: async () => {
        throw new Error('database is locked');
      },
    } as unknown as AuditLog;
    auditChanges(app, failing, (err, entry) => lost.push({ err, entry }));
    app.addHook('onRequest', async (req) => {
      req.via = 'socket';
      req.actor = socketActor('1000');
    });
    app.put('/api/v1/services/x', async () => ({ ok: true }));
    const r = await app.inject({ method: 'PUT', url: '/api/v1/services/x?wait=true', payload: {} });
    expect(r.statusCode).toBe(200);
    await new Promise((res) => setTimeout(res, 20));
    expect(lost).toHaveLength(1);
    expect((lost[0]?.err as Error).message).toBe('database is locked');
    expect(lost[0]?.entry).toMatchObject({
      actor: 'cli:uid1000',
      via: 'socket',
      ip: 'local',
      method: 'PUT',
      path: '/api/v1/services/x',
      status: 200,
    });
    await app.close();
  });

  it('names a socket change by the uid the CLI states, or plain "cli"', () => {
    expect(socketActor('0')).toBe('cli:uid0');
    expect(socketActor('root; drop')).toBe('cli');
    expect(socketActor(undefined)).toBe('cli');
    expect(socketActor(['1', '2'])).toBe('cli');
  });
});
