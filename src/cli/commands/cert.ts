import { Command } from 'commander';
import type { CertList, CertView, Deleted } from '../../api/views/index.js';
import { readTextFile } from '../../sources/file/read.js';
import { cliContext } from '../context.js';
import { table } from '../format.js';

export function certCommand(): Command {
  const cmd = new Command('cert').description('TLS certificates served on the HTTPS port');
  cmd
    .command('ls')
    .description('list certificates')
    .action(async (_o, c: Command) => {
      const ctx = cliContext(c);
      const r = await ctx.client.call<CertList>('GET', '/api/v1/certificates');
      ctx.print(
        table(
          ['ID', 'NAMES', 'SOURCE', 'EXPIRES'],
          r.certificates.map((x) => [x.id, x.names.join(','), x.source, x.notAfter]),
        ),
        r,
      );
    });
  cmd
    .command('upload')
    .description('bring your own certificate (PEM, chain after the leaf) and its key')
    .requiredOption('--cert <file>', 'certificate (and chain), PEM')
    .requiredOption('--key <file>', 'private key, PEM (unencrypted)')
    .action(async (o: { cert: string; key: string }, c: Command) => {
      const ctx = cliContext(c);
      const body = { cert: await readTextFile(o.cert, 'cert'), key: await readTextFile(o.key, 'key') };
      const r = await ctx.client.call<CertView>('POST', '/api/v1/certificates?wait=true', body);
      ctx.print(`uploaded certificate ${r.id} for ${r.names.join(', ')} (expires ${r.notAfter})`, r);
    });
  cmd
    .command('issue <host...>')
    .description('order a certificate for these hosts now from the ACME CA (HTTP-01)')
    .action(async (hosts: string[], _o, c: Command) => {
      const ctx = cliContext(c);
      if (!ctx.json) process.stderr.write(`ordering a certificate for ${hosts.join(', ')} ...\n`);
      const r = await ctx.client.call<CertView>('POST', '/api/v1/certificates/issue', { names: hosts });
      ctx.print(`issued certificate ${r.id} for ${r.names.join(', ')} (expires ${r.notAfter})`, r);
    });
  cmd
    .command('renew <id>')
    .description('order a successor for a certificate now (the old one serves until it exists)')
    .action(async (id: string, _o, c: Command) => {
      const ctx = cliContext(c);
      if (!ctx.json) process.stderr.write(`renewing ${id} ...\n`);
      const r = await ctx.client.call<CertView>(
        'POST',
        `/api/v1/certificates/${encodeURIComponent(id)}/renew`,
      );
      ctx.print(`issued certificate ${r.id} for ${r.names.join(', ')} (expires ${r.notAfter})`, r);
    });
  cmd
    .command('rm <id>')
    .description('remove a certificate (its hosts fall back to another one, or to HTTP)')
    .option('--revoke', 'also revoke it at its CA')
    .action(async (id: string, o: { revoke?: boolean }, c: Command) => {
      const ctx = cliContext(c);
      const q = `?wait=true${o.revoke ? '&revoke=true' : ''}`;
      const r = await ctx.client.call<Deleted>(
        'DELETE',
        `/api/v1/certificates/${encodeURIComponent(id)}${q}`,
      );
      ctx.print(`${o.revoke ? 'revoked and removed' : 'removed'} certificate ${id}`, r);
    });
  return cmd;
}
