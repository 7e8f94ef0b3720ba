import { z } from 'zod';
import { securityEventLiveView } from './gate.js';
import { edgeEventView } from './status.js';

/** GET /stream (server-sent events for the web UI): each event's data, by event name. */
export const streamEventViews = {
  /** First, once: the registry version the stream starts at. */
  hello: z.strictObject({ version: z.number() }),
  /** A registry change: the new version and the services it changed. */
  version: z.strictObject({ version: z.number(), names: z.array(z.string()) }),
  edge: edgeEventView,
  security: securityEventLiveView,
  /** An edge node reported what it applied. */
  node: z.strictObject({ name: z.string() }),
};

export type StreamEventName = keyof typeof streamEventViews;
export type StreamEvent<K extends StreamEventName> = z.infer<(typeof streamEventViews)[K]>;
