import Docker from 'dockerode';
import { z } from 'zod';
import { factsFromInfo, type ContainerFacts } from './facts.js';

/** The Engine API calls the source makes, on top of dockerode. */

/** `unix:///var/run/docker.sock` or `tcp://host:port` → dockerode's connection options. */
export function dockerOptions(endpoint: string): Docker.DockerOptions {
  if (endpoint.startsWith('unix://')) return { socketPath: endpoint.slice('unix://'.length) };
  const m = /^tcp:\/\/(\[[0-9a-fA-F:.]+\]|[^:/]+):([0-9]{1,5})$/.exec(endpoint);
  if (!m) throw new Error(`docker_endpoint ${endpoint}: expected unix:///path or tcp://host:port`);
  return { host: (m[1] as string).replace(/^\[|\]$/g, ''), port: Number(m[2]), protocol: 'http' };
}

/** Container events that may change what a container publishes. */
export const WATCHED_EVENTS = ['start', 'die', 'stop', 'destroy', 'rename'];

const eventSchema = z.object({
  Type: z.string().optional(),
  Action: z.string(),
  Actor: z.object({ ID: z.string(), Attributes: z.record(z.string(), z.string()).default({}) }),
});

export interface ContainerEvent {
  action: string;
  id: string;
  /** Without the leading "/". */
  name: string;
  /** On rename: the name before. */
  oldName?: string;
  /** The container's labels (Docker puts them among the attributes). */
  attributes: Record<string, string>;
}

/** One line of the /events stream, or undefined when it is not a container event we understand. */
export function parseEvent(line: string): ContainerEvent | undefined {
  let raw: unknown;
  try {
    raw = JSON.parse(line);
  } catch {
    return undefined;
  }
  const e = eventSchema.safeParse(raw);
  if (!e.success || (e.data.Type !== undefined && e.data.Type !== 'container')) return undefined;
  const attrs = e.data.Actor.Attributes;
  const name = (attrs.name ?? '').replace(/^\//, '');
  if (!name) return undefined;
  return {
    action: e.data.Action,
    id: e.data.Actor.ID,
    name,
    ...(attrs.oldName ? { oldName: attrs.oldName.replace(/^\//, '') } : {}),
    attributes: attrs,
  };
}

function escapeRegex(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** The running container called `name`, or undefined when none runs under that name. */
export async function readRunning(docker: Docker, name: string): Promise<ContainerFacts | undefined> {
  // Docker's name filter is a regular expression over "/name".
  const infos = await docker.listContainers({ filters: { name: [`^/${escapeRegex(name)}$`] } });
  return infos.map(factsFromInfo).find((f) => f.name === name);
}

export async function listRunning(docker: Docker): Promise<ContainerFacts[]> {
  return (await docker.listContainers()).map(factsFromInfo);
}
