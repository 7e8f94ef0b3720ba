import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { alertChannelSchema } from '../model/alert-channel.js';
import { slugSchema } from '../model/values.js';
import type { AlertChannels } from '../alerts/channels.js';
import type { AlertStore } from '../alerts/store.js';
import { TEST_MESSAGE } from '../observe/alert-channels.js';
import { parse } from './http-errors.js';
import type { AlertChannelList, AlertTest } from './views/index.js';

const params = z.strictObject({ name: slugSchema });

/** Alert channels under /api/v1/alert-channels (secrets go in, never out). */
export async function alertRoutes(
  app: FastifyInstance,
  channels: AlertChannels,
  store: AlertStore,
): Promise<void> {
  // Each channel with what the alert engine (on the leader) last saw sending to it.
  app.get('/alert-channels', async () => {
    const [list, state] = await Promise.all([channels.list(), store.state()]);
    return {
      channels: list.map((c) => {
        const delivery = state.channels[c.name];
        return delivery ? { ...c, delivery } : c;
      }),
    } satisfies AlertChannelList;
  });
  app.post('/alert-channels', async (req, reply) => {
    const input = parse(alertChannelSchema, req.body, '');
    return reply.code(201).send(await channels.create(input));
  });
  app.delete('/alert-channels/:name', async (req) => {
    const { name } = parse(params, req.params, 'params');
    await channels.remove(name);
    return { deleted: name };
  });
  app.post('/alert-channels/:name/test', async (req) => {
    const { name } = parse(params, req.params, 'params');
    await channels.send(name, TEST_MESSAGE);
    return { ok: true, channel: name } satisfies AlertTest;
  });
}
