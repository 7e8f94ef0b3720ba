import { spawn, type ChildProcess } from 'node:child_process';
import { Resolver } from 'node:dns/promises';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { freePort, until } from './net.js';
import { testDir } from './tmp.js';

/** A LAN resolver a test started: where it answers, and what it answers for a name. */
export interface LanResolverProcess {
  /** IP:port it answers on. */
  server: string;
  /** A and AAAA addresses for `name` ([] for NXDOMAIN, NODATA or REFUSED). */
  ask(name: string): Promise<string[]>;
  close(): Promise<void>;
}

export interface TestUnbound extends LanResolverProcess {
  /** Its remote control's unix socket. */
  control: string;
  /** Stops it and starts it again on the same config: its local data is gone. */
  restart(): Promise<void>;
}

export interface TestDnsmasq extends LanResolverProcess {
  /** The directory it reads with --hostsdir. */
  hostsDir: string;
}

function asker(server: string): (name: string) => Promise<string[]> {
  const r = new Resolver({ timeout: 500, tries: 1 });
  r.setServers([server]);
  const none = () => [] as string[];
  return async (name) => [...(await r.resolve4(name).catch(none)), ...(await r.resolve6(name).catch(none))];
}

function stop(p: ChildProcess): Promise<void> {
  if (p.exitCode !== null || p.signalCode !== null) return Promise.resolve();
  const exited = new Promise<void>((r) => p.once('exit', () => r()));
  p.kill('SIGTERM');
  return exited;
}

/**
 * A real Unbound (Debian's) on a loopback port, answering nothing it was not told (`local-zone: "."
 * refuse`: no query leaves the machine), its remote control on a unix socket without certificates.
 */
export async function startUnbound(): Promise<TestUnbound> {
  const dir = await testDir('gh-unbound-');
  const port = await freePort();
  const control = join(dir, 'control.sock');
  const conf = join(dir, 'unbound.conf');
  await writeFile(
    conf,
    [
      'server:',
      `  interface: 127.0.0.1@${port}`,
      `  port: ${port}`,
      '  do-ip6: no',
      '  username: ""',
      '  chroot: ""',
      `  directory: "${dir}"`,
      '  pidfile: ""',
      '  use-syslog: no',
      `  logfile: "${join(dir, 'unbound.log')}"`,
      '  local-zone: "." refuse',
      'remote-control:',
      '  control-enable: yes',
      '  control-use-cert: no',
      `  control-interface: "${control}"`,
      '',
    ].join('\n'),
  );
  const ask = asker(`127.0.0.1:${port}`);
  let proc: ChildProcess;
  const run = async () => {
    proc = spawn('unbound', ['-d', '-c', conf], { stdio: 'ignore' });
    // Up once its control answers (a fresh Unbound holds only its own default zones).
    await until(
      () =>
        new Promise<boolean | undefined>((resolve) => {
          const c = spawn('unbound-control', ['-c', conf, 'status'], { stdio: 'ignore' });
          c.on('exit', (code) => resolve(code === 0 ? true : undefined));
        }),
      15_000,
      50,
    );
  };
  await run();
  return {
    server: `127.0.0.1:${port}`,
    control,
    ask,
    restart: async () => {
      await stop(proc);
      await run();
    },
    close: () => stop(proc),
  };
}

/** A real dnsmasq on a loopback port with no upstream, reading the hosts files of its --hostsdir. */
export async function startDnsmasq(): Promise<TestDnsmasq> {
  const dir = await testDir('gh-dnsmasq-');
  const hostsDir = join(dir, 'hosts.d');
  await mkdir(hostsDir);
  const port = await freePort();
  const proc = spawn(
    'dnsmasq',
    [
      '--keep-in-foreground',
      '--conf-file=/dev/null',
      '--listen-address=127.0.0.1',
      '--bind-interfaces',
      `--port=${port}`,
      '--no-resolv',
      '--no-hosts',
      '--user=root',
      '--pid-file=',
      `--hostsdir=${hostsDir}`,
      '--address=/probe.upstream.example/127.0.0.9',
    ],
    { stdio: 'ignore' },
  );
  const ask = asker(`127.0.0.1:${port}`);
  await until(async () => ((await ask('probe.upstream.example')).length > 0 ? true : undefined), 15_000, 50);
  return { server: `127.0.0.1:${port}`, hostsDir, ask, close: () => stop(proc) };
}
