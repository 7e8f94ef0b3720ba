import { spawn, type ChildProcess } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { freePort, until } from './net.js';
import { https } from './tls.js';
import { makeCa } from './tls.js';
import { testDir } from './tmp.js';

export interface Pebble {
  directory: string;
  /** CA file to trust for Pebble's own HTTPS (setting acme_ca_file). */
  apiCaFile: string;
  /** The root that signs what Pebble issues (it changes at every start). */
  root(): Promise<string>;
  close(): Promise<void>;
}

/**
 * Let's Encrypt's test CA (Debian's `pebble`), with `pebble-challtestsrv` as its DNS server answering
 * 127.0.0.1 for every name, so HTTP-01 validation connects to our nginx on `httpPort`.
 */
export async function startPebble(
  httpPort: number,
  opts: { dnsServer?: string; eab?: { kid: string; key: string }; validitySeconds?: number } = {},
): Promise<Pebble> {
  const dir = await testDir('gh-pebble-');
  const ca = makeCa(dir);
  const leaf = ca.issue(['localhost', '127.0.0.1']);
  await writeFile(join(dir, 'cert.pem'), leaf.cert);
  await writeFile(join(dir, 'key.pem'), leaf.key);
  const [api, mgmt, tls, dns, dnsMgmt] = [
    await freePort(),
    await freePort(),
    await freePort(),
    await freePort(),
    await freePort(),
  ];
  await writeFile(
    join(dir, 'pebble.json'),
    JSON.stringify({
      pebble: {
        listenAddress: `127.0.0.1:${api}`,
        managementListenAddress: `127.0.0.1:${mgmt}`,
        certificate: join(dir, 'cert.pem'),
        privateKey: join(dir, 'key.pem'),
        httpPort,
        tlsPort: tls,
        ...(opts.eab
          ? { externalAccountBindingRequired: true, externalAccountMACKeys: { [opts.eab.kid]: opts.eab.key } }
          : {}),
        ...(opts.validitySeconds ? { certificateValidityPeriod: opts.validitySeconds } : {}),
      },
    }),
  );
  const procs: ChildProcess[] = [];
  const run = (cmd: string, args: string[], env: Record<string, string> = {}) => {
    const p = spawn(cmd, args, { cwd: dir, stdio: 'ignore', env: { ...process.env, ...env } });
    procs.push(p);
    return p;
  };
  // Names resolve through the given DNS server (BIND, for DNS-01), or a stub answering 127.0.0.1.
  if (!opts.dnsServer) {
    run('pebble-challtestsrv', [
      '-defaultIPv4',
      '127.0.0.1',
      '-defaultIPv6',
      '',
      '-dns01',
      `127.0.0.1:${dns}`,
      '-http01',
      '',
      '-https01',
      '',
      '-tlsalpn01',
      '',
      '-management',
      `127.0.0.1:${dnsMgmt}`,
    ]);
  }
  run('pebble', ['-config', join(dir, 'pebble.json'), '-dnsserver', opts.dnsServer ?? `127.0.0.1:${dns}`], {
    PEBBLE_VA_NOSLEEP: '1',
    PEBBLE_WFE_NONCEREJECT: '0',
    PEBBLE_AUTHZREUSE: '0',
  });
  const directory = `https://127.0.0.1:${api}/dir`;
  await until(
    async () => (await https(api, '127.0.0.1', '/dir', ca.ca).catch(() => undefined))?.status === 200,
    15_000,
  );
  return {
    directory,
    apiCaFile: ca.caFile,
    root: async () => (await https(mgmt, '127.0.0.1', '/roots/0', ca.ca)).body,
    close: async () => {
      for (const p of procs) {
        if (p.exitCode !== null || p.signalCode !== null) continue;
        const exited = new Promise((r) => p.once('exit', r));
        p.kill('SIGTERM');
        await exited;
      }
    },
  };
}
