import type Dockerode from 'dockerode';

/**
 * What the label parser needs to know about one running container, taken from the Engine API's
 * container list (one call gives every container's labels, networks and ports). Kept apart from
 * dockerode's types so the parser is pure and tested without a daemon.
 */
export interface ContainerFacts {
  id: string;
  /** Without the leading "/": stable across a compose recreate, so it owns the services. */
  name: string;
  labels: Record<string, string>;
  /** "host", "bridge", "none", "container:<id>" or a network name. */
  networkMode: string;
  /** Networks with the container's IPv4 address on each (empty while it has none). */
  networks: { name: string; ip: string }[];
  /** Ports the image exposes, and where the host publishes them (publicPort set). */
  ports: { privatePort: number; publicPort?: number; ip?: string; type: string }[];
}

export function factsFromInfo(info: Dockerode.ContainerInfo): ContainerFacts {
  // A linked container also appears as "/other/alias"; its own name has a single slash.
  const raw = info.Names.find((n) => n.lastIndexOf('/') === 0) ?? info.Names[0] ?? info.Id;
  return {
    id: info.Id,
    name: raw.replace(/^\//, ''),
    labels: info.Labels ?? {},
    networkMode: info.HostConfig?.NetworkMode ?? '',
    networks: Object.entries(info.NetworkSettings?.Networks ?? {}).map(([name, n]) => ({
      name,
      ip: n.IPAddress ?? '',
    })),
    ports: (info.Ports ?? []).map((p) => ({
      privatePort: p.PrivatePort,
      ...(p.PublicPort ? { publicPort: p.PublicPort } : {}),
      ...(p.IP ? { ip: p.IP } : {}),
      type: p.Type,
    })),
  };
}

/** Whether a container carries labels this source reads (and so is worth looking at). */
export function hasOurLabels(labels: Record<string, string>): boolean {
  return Object.keys(labels).some((k) => /^(gatehouse|traefik)\./i.test(k));
}

/** The container ports an image exposes (TCP), for when no label names the port. */
export function exposedPorts(f: ContainerFacts): number[] {
  return [...new Set(f.ports.filter((p) => p.type === 'tcp').map((p) => p.privatePort))].sort(
    (a, b) => a - b,
  );
}

export type UpstreamChoice = { address: string } | { error: string };

/**
 * Where the proxy reaches a container port. The container's own IP wins (no docker-proxy hop, and
 * it works when Gatehouse runs in a container on that network): on `network` if given, else on its
 * only network. Otherwise the port the host publishes (127.0.0.1 when bound to all addresses).
 * With host networking the container's ports are the host's.
 */
export function chooseUpstream(f: ContainerFacts, port: number, network: string | undefined): UpstreamChoice {
  if (f.networkMode === 'host') return { address: `127.0.0.1:${port}` };
  const withIp = f.networks.filter((n) => n.ip !== '');
  let why: string;
  if (network) {
    const on = withIp.find((n) => n.name === network);
    if (on) return { address: `${on.ip}:${port}` };
    why = `not on network ${network} (on: ${withIp.map((n) => n.name).join(', ') || 'none'})`;
  } else if (withIp.length === 1) {
    return { address: `${(withIp[0] as { ip: string }).ip}:${port}` };
  } else if (withIp.length > 1) {
    why = `on several networks (${withIp.map((n) => n.name).join(', ')}): set docker_network or the gatehouse.network label`;
  } else {
    why = 'it has no IP address on any network';
  }
  const published = f.ports.find((p) => p.type === 'tcp' && p.privatePort === port && p.publicPort);
  if (published?.publicPort) {
    const ip = published.ip ?? '';
    if (ip === '' || ip === '0.0.0.0' || ip === '::') return { address: `127.0.0.1:${published.publicPort}` };
    return {
      address: ip.includes(':') ? `[${ip}]:${published.publicPort}` : `${ip}:${published.publicPort}`,
    };
  }
  return { error: `no address for port ${port}: ${why}, and the port is not published on the host` };
}
