import { z } from 'zod';
import { durationSchema } from './values.js';

/** Docker discovery settings (src/sources/docker; docs/docker.md). */
export const dockerSettings = {
  /** The Docker Engine API whose container labels publish services; empty: Docker is not watched. */
  docker_endpoint: z
    .string()
    .regex(
      /^(?:unix:\/\/\/.+|tcp:\/\/(?:\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):[0-9]{1,5})?$/,
      'unix:///path/to/docker.sock or tcp://host:port',
    )
    .default(''),
  /** Which Docker network's container address is the upstream (for containers on several). */
  docker_network: z
    .string()
    .regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/, 'a Docker network name')
    .optional(),
  /** How often every container is looked at again (events may be missed). */
  docker_resync_interval: durationSchema.default('5m'),
};
