import { describe, expect, it } from 'vitest';
import {
  channelBodyOf,
  channelFieldOf,
  checkChannel,
  EMPTY_CHANNEL,
  type ChannelValues,
} from '../../web/src/pages/alerts/channelForm.js';

const email = (over: Partial<ChannelValues> = {}): ChannelValues => ({
  ...EMPTY_CHANNEL,
  type: 'email',
  name: 'mail',
  host: ' smtp.example.com ',
  from: 'gatehouse@example.com',
  to: 'ops@example.com\n admin@example.com ,',
  url: 'left over from another type',
  ...over,
});

/** The "Add channel" form: what it sends per type, and the model's schema's complaints per field. */
describe('web: the alert channel form', () => {
  it('sends the chosen type’s fields only: recipients one a line, port as a number, STARTTLS as set', () => {
    expect(channelBodyOf(email({ port: '2525', username: 'alerts', password: ' p w ' }))).toEqual({
      ok: true,
      body: {
        name: 'mail',
        type: 'email',
        host: 'smtp.example.com',
        port: 2525,
        username: 'alerts',
        password: ' p w ',
        from: 'gatehouse@example.com',
        to: ['ops@example.com', 'admin@example.com'],
        starttls: true,
      },
    });
    expect(checkChannel(email())).toBeUndefined();
    expect(channelBodyOf({ ...EMPTY_CHANNEL, name: 'n', type: 'ntfy', topic: 'alerts', host: 'x' })).toEqual({
      ok: true,
      body: { name: 'n', type: 'ntfy', topic: 'alerts' },
    });
  });

  it('puts the schema’s complaints on the fields they name', () => {
    expect(checkChannel(email({ port: 'smtp' }))).toEqual({ port: 'a port number' });
    expect(checkChannel(email({ to: 'ops@example.com\nnot-an-address' }))).toEqual({
      to: 'an email address',
    });
    expect(checkChannel(email({ password: 'secret-1' }))?.password).toBe('username and password go together');
    expect(checkChannel(email({ username: 'u', password: 'secret-1', starttls: false }))).toEqual({
      starttls: 'a password is only sent over STARTTLS',
    });
    expect(checkChannel({ ...EMPTY_CHANNEL, name: 'hook', url: 'ftp://x.example' })).toEqual({
      url: 'the webhook URL, http(s)',
    });
    expect(
      checkChannel({ ...EMPTY_CHANNEL, name: 'Bad Name', url: 'https://x.example/h' })?.name,
    ).toBeTruthy();
    expect(channelFieldOf('to.1')).toBe('to');
    expect(channelFieldOf('nothing')).toBeUndefined();
  });
});
