import { Command } from 'commander';
import type { DnsDoctorReport } from '../../api/views/index.js';
import { cliContext } from '../context.js';
import { table } from '../format.js';

type Sets = DnsDoctorReport['hosts'][number]['public']['expected'];

const sets = (xs: Sets): string => xs.map((s) => `${s.type} ${s.values.join(',')}`).join('; ') || '-';

/** The doctor's answer for a terminal: a row per host, what is wrong and why, then the providers. */
export function doctorText(r: DnsDoctorReport): string {
  const lines = [
    `public answers:   ${r.public_resolver ?? "each zone's server (rfc2136; an exec hook's check_server), else the system resolver"}`,
    `external records: ${r.external_records ? 'on' : 'off'}`,
    `LAN DNS:          ${r.lan_dns}`,
    `CAA checked for:  ${r.caa_issuer ?? 'no known CA (set dns_doctor_caa_issuer)'}`,
    '',
  ];
  lines.push(
    r.hosts.length
      ? table(
          ['HOST', 'STATE', 'PUBLIC', 'SHOULD BE', 'IS', 'LAN', 'CAA'],
          r.hosts.map((h) => [
            h.host,
            h.state === 'ok' ? 'ok' : h.state.toUpperCase(),
            h.public.state + (h.public.managed ? '' : h.public.state === 'not_public' ? '' : ' (unmanaged)'),
            sets(h.public.expected),
            sets(h.public.actual),
            h.lan.state === 'ok' || h.lan.state === 'off' || h.lan.state === 'skipped'
              ? h.lan.state
              : `${h.lan.state}: ${h.lan.actual.join(' ') || 'nothing'} (should be ${h.lan.expected.join(' ')})`,
            h.caa.state + (h.caa.at ? ` (${h.caa.issuers.join(',') || 'none'} at ${h.caa.at})` : ''),
          ]),
        )
      : 'no hosts served',
  );
  const why = r.hosts.flatMap((h) => [
    ...(['missing', 'wrong', 'error', 'unknown'].includes(h.public.state)
      ? [`${h.host}: public: ${h.public.message}`]
      : []),
    ...(['missing', 'wrong', 'error'].includes(h.lan.state) ? [`${h.host}: LAN: ${h.lan.message}`] : []),
    ...(h.caa.state === 'denied' || h.caa.state === 'error' ? [`${h.host}: CAA: ${h.caa.message}`] : []),
  ]);
  if (why.length) lines.push('', ...why);
  lines.push(
    '',
    r.providers.length
      ? table(
          ['PROVIDER', 'TYPE', 'ZONE', 'STATE', 'MS', 'MESSAGE'],
          r.providers.map((p) => [p.name, p.type, p.zone, p.state, p.ms, p.message]),
        )
      : 'no DNS providers',
    '',
    r.ok
      ? `ok: ${r.summary.hosts} host(s), nothing wrong`
      : `NOT OK: ${r.summary.problem} host(s) with a problem, ${r.summary.providers_failing} provider(s) failing`,
  );
  return lines.join('\n');
}

/**
 * `gatehouse dns doctor` (and `gatehouse doctor dns`): asks the running Gatehouse to check DNS now;
 * exits 1 when anything is wrong (the report is printed first).
 */
export function dnsDoctorCommand(name = 'doctor'): Command {
  return new Command(name)
    .description(
      'DNS diagnostics: per host, public and LAN answers against what they should be, CAA, provider reachability',
    )
    .action(async (_o, c: Command) => {
      const ctx = cliContext(c);
      const r = await ctx.client.call<DnsDoctorReport>('GET', '/api/v1/dns/doctor');
      ctx.print(doctorText(r), r);
      if (!r.ok) process.exitCode = 1;
    });
}
