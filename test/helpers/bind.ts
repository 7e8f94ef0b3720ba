import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { Resolver } from 'node:dns/promises';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { freePort, until } from './net.js';
import { testDir } from './tmp.js';

export interface Bind {
  server: string;
  tsigName: string;
  tsigSecret: string;
  txt(name: string): Promise<string[]>;
  close(): Promise<void>;
}

/**
 * A real BIND (Debian's bind9) authoritative for `zone`, on a loopback port, taking RFC 2136
 * updates signed with a TSIG key. Every name in the zone resolves to 127.0.0.1.
 */
export async function startBind(zone: string): Promise<Bind> {
  const dir = await testDir('gh-bind-');
  const port = await freePort();
  const secret = randomBytes(32).toString('base64');
  await writeFile(
    join(dir, 'named.conf'),
    [
      `options { directory "${dir}"; listen-on port ${port} { 127.0.0.1; }; listen-on-v6 { none; };`,
      `  pid-file "${dir}/named.pid"; session-keyfile "${dir}/session.key"; recursion no; dnssec-validation no; };`,
      `key "gatehouse" { algorithm hmac-sha256; secret "${secret}"; };`,
      `zone "${zone}" { type master; file "${dir}/zone"; allow-update { key "gatehouse"; }; };`,
    ].join('\n'),
  );
  await writeFile(
    join(dir, 'zone'),
    [
      '$TTL 60',
      `@ IN SOA ns.${zone}. admin.${zone}. 1 60 60 600 60`,
      `@ IN NS ns.${zone}.`,
      'ns IN A 127.0.0.1',
      '@ IN A 127.0.0.1',
      '* IN A 127.0.0.1',
      '',
    ].join('\n'),
  );
  const named: ChildProcess = spawn('named', ['-g', '-c', join(dir, 'named.conf'), '-u', 'root'], {
    stdio: 'ignore',
  });
  const resolver = new Resolver({ timeout: 500, tries: 1 });
  resolver.setServers([`127.0.0.1:${port}`]);
  await until(
    async () => ((await resolver.resolve4(`ns.${zone}`).catch(() => [])).length > 0 ? true : undefined),
    15_000,
  );
  return {
    server: `127.0.0.1:${port}`,
    tsigName: 'gatehouse',
    tsigSecret: secret,
    txt: async (name) =>
      (await resolver.resolveTxt(name).catch(() => [] as string[][])).map((r) => r.join('')),
    close: async () => {
      if (named.exitCode !== null || named.signalCode !== null) return;
      const exited = new Promise((r) => named.once('exit', r));
      named.kill('SIGTERM');
      await exited;
    },
  };
}
