// The proxy's state as the dashboard has it, and the rule that names an edge key's service: shared
// by the counts (dashboard/Counts.tsx) and the upstreams list (Dashboard.tsx).
import type { StreamEvent } from '../../../../src/api/views';

/** The proxy's state as the stream's `edge` event gives it (the dashboard starts from /status's). */
export type EdgeEvent = StreamEvent<'edge'>;

/**
 * The service an edge key (`<service>-r<n> address`) belongs to. The same rule as src/model/summary.ts's
 * serviceOfKey, written out here so that the dashboard does not pull the model (and zod) into the
 * main bundle.
 */
export const serviceOfKey = (key: string) => key.split(' ')[0]?.replace(/-[rt][0-9]+$/, '') ?? key;
