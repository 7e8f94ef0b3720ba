import { execFile } from 'node:child_process';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { BenchContext } from '../lib/context.js';
import { disownDir, ownDir } from '../lib/cleanup.js';
import { startConfigCopy, type ConfigCopy } from '../lib/config-copy.js';
import { BASE_DOMAIN, startBenchGatehouse } from '../lib/gatehouse.js';
import type { CaseResult, Row } from '../lib/report.js';
import { alternate, errorCount, type WrkResult, ratioRow as sharedRatioRow } from '../lib/wrk.js';
import { addServices, checkLanes, FAST_HOST } from './p1.js';

const ROUNDS = 8;
const SECONDS = 3;
const GOAL = 0.95;
const RANGES = 10_000;
const GEO_HOST = `p21-geo.${BASE_DOMAIN}`;
const RULE_HOST = `p21-rule.${BASE_DOMAIN}`;

/**
 * A country database of RANGES networks (10.0.0.0/24 upwards, countries in turn) plus loopback in
 * Germany, written with Debian's MaxMind::DB::Writer as the tests' databases are.
 */
async function writeDb(dir: string): Promise<string> {
  const file = join(dir, 'country.mmdb');
  const script = `
use MaxMind::DB::Writer::Tree;
my $tree = MaxMind::DB::Writer::Tree->new(
  ip_version => 6, record_size => 24, database_type => 'GeoLite2-Country', languages => ['en'],
  description => { en => 'Gatehouse P21' }, remove_reserved_networks => 0,
  map_key_type_callback => sub { { country => 'map', iso_code => 'utf8_string' }->{$_[0]} },
);
my @cc = ('US', 'FR', 'CN', 'BR', 'IN', 'RU', 'JP', 'NL');
for my $i (0 .. ${RANGES - 1}) {
  my $net = sprintf('10.%d.%d.0/24', int($i / 256), $i % 256);
  $tree->insert_network($net, { country => { iso_code => $cc[$i % 8] } });
}
$tree->insert_network('127.0.0.0/8', { country => { iso_code => 'DE' } });
open my $fh, '>:raw', $ARGV[0] or die; $tree->write_tree($fh); close $fh;
`;
  await promisify(execFile)('perl', ['-e', script, file]);
  await chmod(file, 0o644);
  return file;
}

/** The live config without GeoIP: no module, no lookups, no country in the log. */
function withoutGeoip(text: string): string {
  return text
    .replace(/^load_module \S+ngx_http_geoip2_module\.so;\n/m, '')
    .replace(/^ *geoip2 [^{]*\{[^}]*\}\n/gm, '')
    .replace(',"country":"$gh_country"', '');
}

function ratioRow(
  id: string,
  measure: string,
  runs: Map<string, WrkResult[]>,
  num: string,
  den: string,
): Row {
  return sharedRatioRow(id, measure, runs, num, den, GOAL, { rounds: ROUNDS, seconds: SECONDS });
}

/**
 * P21 (issue 19), its GeoIP half: a public route's req/s with a GeoIP database of 10,000 ranges
 * loaded ÷ the same config without GeoIP, side by side (the fast lane: the lookup the access log's
 * country costs). P21b: a route whose rule asks the client's country ÷ one whose rule asks a path
 * (both through the gate's Lua check). CrowdSec, the other half of the P21, is not built yet.
 */
export async function p21(ctx: BenchContext): Promise<CaseResult> {
  const backend = await ctx.backend();
  const dir = await mkdtemp(join(tmpdir(), 'gh-p21-'));
  ownDir(dir);
  await chmod(dir, 0o755);
  try {
    const db = await writeDb(dir);
    const bg = await startBenchGatehouse({ geoip_db: db });
    const copies: ConfigCopy[] = [];
    try {
      await addServices(bg, backend.port);
      await checkLanes(bg);
      const upstreams = [`127.0.0.1:${backend.port}`];
      const meta = { actor: 'bench', source: 'api' } as const;
      for (const [name, host, rule] of [
        ['p21-geo', GEO_HOST, { action: 'deny', country_not: ['DE'] }],
        ['p21-rule', RULE_HOST, { action: 'deny', path: '/never/' }],
      ] as const)
        await bg.gh.registry.put(
          {
            name,
            hosts: [host],
            routes: [{ path: '/', upstreams }],
            access: { public: true, rules: [rule] },
          },
          meta,
        );
      await bg.settle();
      const off = await startConfigCopy(bg, 'p21-off', FAST_HOST, withoutGeoip);
      copies.push(off);
      const runs = await alternate(
        [
          { name: 'fast-geoip', port: bg.httpPort, host: FAST_HOST },
          { name: 'fast-plain', port: off.port, host: FAST_HOST },
          { name: 'rule-country', port: bg.httpPort, host: GEO_HOST },
          { name: 'rule-path', port: bg.httpPort, host: RULE_HOST },
        ],
        ROUNDS,
        SECONDS,
      );
      const notes = [...runs]
        .map(([name, r]) => [name, errorCount(r)] as const)
        .filter(([, n]) => n > 0)
        .map(([name, n]) => `P21: ${name} saw ${n} errors (non-2xx or socket) under load`);
      return {
        rows: [
          ratioRow(
            'P21',
            `public route (fast lane): GeoIP on (${RANGES} ranges) ÷ off; CrowdSec not built yet`,
            runs,
            'fast-geoip',
            'fast-plain',
          ),
          ratioRow(
            'P21b',
            'a rule on the country ÷ a rule on the path (Lua check)',
            runs,
            'rule-country',
            'rule-path',
          ),
        ],
        notes,
        data: { rounds: ROUNDS, seconds: SECONDS, ranges: RANGES, runs: Object.fromEntries(runs) },
      };
    } finally {
      for (const c of copies) await c.stop();
      await bg.close();
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
    disownDir(dir);
  }
}
