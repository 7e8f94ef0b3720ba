import { spawn, type ChildProcess } from 'node:child_process';
import { chmod, writeFile } from 'node:fs/promises';
import { Resolver } from 'node:dns/promises';
import { join } from 'node:path';
import { freePort, until } from './net.js';
import { testDir } from './tmp.js';

export interface Dnsmasq {
  /** `127.0.0.1:port`, for upstream_resolver. */
  server: string;
  port: number;
  /** Replaces every record (name → IPv4 addresses) and has dnsmasq read them again (SIGHUP). */
  setRecords(records: Record<string, string[]>): Promise<void>;
  /** Stops answering (SIGSTOP): queries time out. `resume` undoes it. */
  pause(): void;
  resume(): void;
  close(): Promise<void>;
}

/**
 * A real dnsmasq (Debian's) on a loopback port, answering for `zone` from a hosts file only (names
 * not in it: NXDOMAIN; nothing is forwarded anywhere), with answers of TTL `ttl` seconds.
 */
export async function startDnsmasq(
  zone: string,
  records: Record<string, string[]>,
  ttl = 1,
): Promise<Dnsmasq> {
  const dir = await testDir('gh-dnsmasq-');
  await chmod(dir, 0o755);
  const hosts = join(dir, 'hosts');
  const write = (r: Record<string, string[]>) =>
    writeFile(
      hosts,
      Object.entries(r)
        .flatMap(([name, ips]) => ips.map((ip) => `${ip} ${name}\n`))
        .join(''),
      {
        mode: 0o644,
      },
    );
  await write(records);
  const port = await freePort();
  const child: ChildProcess = spawn(
    'dnsmasq',
    [
      '--keep-in-foreground',
      '--conf-file=/dev/null',
      '--listen-address=127.0.0.1',
      '--bind-interfaces',
      `--port=${port}`,
      '--no-resolv',
      '--no-hosts',
      `--addn-hosts=${hosts}`,
      `--local=/${zone}/`,
      `--local-ttl=${ttl}`,
      '--pid-file=',
      '--user=root',
      '--cache-size=0',
    ],
    { stdio: 'ignore' },
  );
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const resolver = new Resolver({ timeout: 300, tries: 1 });
  resolver.setServers([`127.0.0.1:${port}`]);
  // Any answer (NXDOMAIN included) means it listens.
  await until(
    async () =>
      resolver.resolve4(`probe.${zone}`).then(
        () => true,
        (err: { code?: string }) => (err.code === 'ENOTFOUND' ? true : undefined),
      ),
    10_000,
  );
  return {
    server: `127.0.0.1:${port}`,
    port,
    async setRecords(r) {
      await write(r);
      child.kill('SIGHUP');
      // The reread is done when the answer is the file's.
      const [name, ips] = Object.entries(r)[0] ?? [];
      await until(async () => {
        if (name === undefined) return true;
        const got = await resolver.resolve4(name).catch(() => [] as string[]);
        return got.sort().join(',') === [...(ips ?? [])].sort().join(',') ? true : undefined;
      }, 5000);
    },
    pause: () => child.kill('SIGSTOP'),
    resume: () => child.kill('SIGCONT'),
    async close() {
      if (child.exitCode !== null) return;
      child.kill('SIGCONT');
      child.kill('SIGTERM');
      await exited;
    },
  };
}
