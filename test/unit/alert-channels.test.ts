import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { parse } from '../../src/api/http-errors.js';
import { alertChannelSchema } from '../../src/model/alert-channel.js';
import { GatehouseError } from '../../src/model/errors.js';
import { ntfyRequest, signature, webhookRequest } from '../../src/observe/alert-http.js';

/** The fields a 400 names for `body` (none when it parses). */
function fieldsOf(body: unknown): string[] {
  try {
    parse(alertChannelSchema, body, '');
  } catch (err) {
    if (err instanceof GatehouseError) {
      expect(err.status).toBe(400);
      return err.issues.map((i) => i.field);
    }
    throw err;
  }
  return [];
}

const email = {
  name: 'mail',
  type: 'email',
  host: 'smtp.example.com',
  from: 'gatehouse@example.com',
  to: ['ops@example.com'],
};

describe('alert channel schema: bad input names the field', () => {
  it('accepts each type with its required fields, and fills the defaults', () => {
    expect(fieldsOf({ name: 'h', type: 'webhook', url: 'https://example.com/hook' })).toEqual([]);
    expect(fieldsOf({ name: 's', type: 'slack', url: 'https://hooks.slack.com/services/T/B/X' })).toEqual([]);
    expect(fieldsOf({ name: 'n', type: 'ntfy', topic: 'alerts' })).toEqual([]);
    expect(
      fieldsOf({ name: 'g', type: 'gotify', server: 'https://push.example.com', token: 'AbCdEf0123' }),
    ).toEqual([]);
    expect(
      fieldsOf({ name: 't', type: 'telegram', bot_token: '123:AAbbCCddEEffGGhhIIjjKK', chat_id: '-1001' }),
    ).toEqual([]);
    const m = parse(alertChannelSchema, email, '');
    expect(m).toMatchObject({ port: 587, starttls: true });
    expect(parse(alertChannelSchema, { name: 'n', type: 'ntfy', topic: 'a' }, '')).toMatchObject({
      server: 'https://ntfy.sh',
    });
  });

  it('names the field at fault', () => {
    expect(fieldsOf({ name: 'h', type: 'webhook', url: 'ftp://example.com' })).toEqual(['url']);
    expect(fieldsOf({ name: 'h', type: 'webhook', url: 'https://e.com', secret: 'short' })).toEqual([
      'secret',
    ]);
    expect(fieldsOf({ name: 'Bad Name', type: 'slack', url: 'https://e.com' })).toEqual(['name']);
    expect(fieldsOf({ name: 'x', type: 'pager', url: 'https://e.com' })).toEqual(['type']);
    expect(fieldsOf({ name: 'n', type: 'ntfy', topic: 'a/b' })).toEqual(['topic']);
    expect(fieldsOf({ name: 'g', type: 'gotify', server: 'https://e.com' })).toEqual(['token']);
    expect(fieldsOf({ name: 't', type: 'telegram', bot_token: 'nope', chat_id: '1' })).toEqual(['bot_token']);
    expect(
      fieldsOf({ name: 't', type: 'telegram', bot_token: '123:AAbbCCddEEffGGhhIIjjKK', chat_id: 'x y' }),
    ).toEqual(['chat_id']);
    expect(fieldsOf({ ...email, to: [] })).toEqual(['to']);
    expect(fieldsOf({ ...email, to: ['not-an-address'] })).toEqual(['to.0']);
    expect(fieldsOf({ ...email, port: 70000 })).toEqual(['port']);
    expect(fieldsOf({ ...email, username: 'u' })).toEqual(['password']);
    expect(fieldsOf({ ...email, username: 'u', password: 'p', starttls: false })).toEqual(['starttls']);
    expect(fieldsOf({ name: 's', type: 'slack', url: 'https://e.com', extra: 1 })).toEqual(['extra']);
  });
});

describe('alert requests', () => {
  it('signs the webhook body with HMAC-SHA256 over "<timestamp>.<body>"', () => {
    const now = new Date('2026-01-02T03:04:05Z');
    const r = webhookRequest('https://e.com/h', 's3cret-s3cret', 'ops', { title: 'T', text: 'x' }, now);
    expect(r.headers['x-gatehouse-timestamp']).toBe('1767323045');
    const want = createHmac('sha256', 's3cret-s3cret').update(`1767323045.${r.body}`).digest('hex');
    expect(r.headers['x-gatehouse-signature']).toBe(`sha256=${want}`);
    expect(signature('s3cret-s3cret', '1767323045', r.body)).toBe(want);
    // Without a secret: no signature headers.
    expect(
      webhookRequest('https://e.com/h', undefined, 'ops', { title: 'T', text: 'x' }).headers,
    ).not.toHaveProperty('x-gatehouse-signature');
  });

  it('ntfy: a title that is not ASCII goes RFC 2047-encoded', () => {
    const r = ntfyRequest('https://ntfy.sh/', 'a', undefined, { title: 'Zertifikat läuft ab', text: 'x' });
    expect(r.url).toBe('https://ntfy.sh/a');
    expect(r.headers.title).toBe(`=?UTF-8?B?${Buffer.from('Zertifikat läuft ab').toString('base64')}?=`);
  });
});
