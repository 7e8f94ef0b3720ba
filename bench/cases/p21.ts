import { execFile } from 'node:child_process';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
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
import { startCrowdsec, type Crowdsec } from '../../test/helpers/crowdsec.js';
import { request } from 'node:http';
import { sleep } from '../lib/stats.js';

const ROUNDS = 8;
const SECONDS = 3;
const GOAL = 0.95;
const RANGES = 10_000;
const GEO_HOST = `p21-geo.${BASE_DOMAIN}`;
const RULE_HOST = `p21-rule.${BASE_DOMAIN}`;
/** An address CrowdSec bans: refused, the decisions are in nginx's memory. */
const BANNED = '127.0.0.77';

function statusFrom(port: number, from: string): Promise<number> {
  return new Promise((resolve) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        headers: { host: FAST_HOST },
        localAddress: from,
        agent: false,
        timeout: 2000,
      },
      (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      },
    );
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(0));
    req.end();
  });
}

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

/**
 * CrowdSec's decisions for RANGES networks of mixed prefix lengths (/16 to /32: a lookup tries
 * each length the list holds), as `cscli decisions import` reads them.
 */
function decisionsJson(): string {
  const lens = [16, 20, 24, 28, 32];
  const out = [];
  for (let i = 0; i < RANGES; i++) {
    const len = lens[i % lens.length] as number;
    const value = `${11 + ((i >> 8) % 100)}.${i & 255}.${(i * 7) & 255}.${(i * 13) & 255}`;
    out.push({
      duration: '4h',
      scope: len === 32 ? 'ip' : 'range',
      type: 'ban',
      value: len === 32 ? value : `${value}/${len}`,
    });
  }
  return JSON.stringify(out);
}

/** The live config without GeoIP and CrowdSec: no module, no lookups, no country, no second log. */
function withoutGeoipAndCrowdsec(text: string): string {
  return text
    .replace(/^load_module \S+ngx_http_geoip2_module\.so;\n/m, '')
    .replace(/^ *geoip2 [^{]*\{[^}]*\}\n/gm, '')
    .replace(',"country":"$gh_country"', '')
    .replace(/^ *gh_fast\.decisions = gh_decisions\n/m, '')
    .replace(/^ *access_log \S+crowdsec\.log gh_crowdsec[^\n]*\n/gm, '');
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
 * P21 (issue 19): a public route's req/s with CrowdSec on (a real Local API holding 10,000 banned
 * ranges, all in nginx's memory: an address banned on top is refused first) and a GeoIP database of
 * 10,000 ranges ÷ the same config without either, side by side, each a copy of the live config in
 * its own nginx (the fast lane: the decision lookup, CrowdSec's access log and the country lookup
 * are what it costs). P21b: a route whose rule asks the client's country ÷ one whose rule asks a path
 * (both through the gate's Lua check).
 */
export async function p21(ctx: BenchContext): Promise<CaseResult> {
  const backend = await ctx.backend();
  const dir = await mkdtemp(join(tmpdir(), 'gh-p21-'));
  ownDir(dir);
  await chmod(dir, 0o755);
  let cs: Crowdsec | undefined;
  try {
    const db = await writeDb(dir);
    const acquis = join(dir, 'acquis.log');
    await writeFile(acquis, '');
    cs = await startCrowdsec({ logFile: acquis });
    const list = join(dir, 'decisions.json');
    await writeFile(list, decisionsJson());
    await cs.cscli(['decisions', 'import', '-i', list]);
    const bg = await startBenchGatehouse({
      geoip_db: db,
      crowdsec_url: cs.url,
      crowdsec_api_key: cs.bouncerKey,
    });
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
      // Every decision in nginx's memory: one more, for an address the bench can send from, refused.
      await cs.cscli(['decisions', 'add', '--ip', BANNED, '--duration', '1h']);
      const deadline = Date.now() + 30_000;
      while ((await statusFrom(bg.httpPort, BANNED)) !== 403) {
        if (Date.now() > deadline) throw new Error('P21: CrowdSec decisions not enforced within 30 s');
        await sleep(200);
      }
      // Both sides are copies of the live config, each its own nginx (the live one shares the
      // machine's cores with this Gatehouse, which reads its access log: measured here, ~5% slower
      // than an identical copy). The "on" copy holds the decisions too (checked below).
      const on = await startConfigCopy(bg, 'p21-on', FAST_HOST, (t) => t, ['crowdsec/decisions.list']);
      copies.push(on);
      if ((await statusFrom(on.port, BANNED)) !== 403)
        throw new Error('P21: the copy does not enforce the decisions');
      const off = await startConfigCopy(bg, 'p21-off', FAST_HOST, withoutGeoipAndCrowdsec);
      copies.push(off);
      if ((await statusFrom(off.port, BANNED)) !== 200)
        throw new Error('P21: the copy without CrowdSec refuses');
      const runs = await alternate(
        [
          { name: 'fast-on', port: on.port, host: FAST_HOST },
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
            `public route (fast lane): CrowdSec (${RANGES} banned ranges) and GeoIP (${RANGES} ranges) on ÷ off`,
            runs,
            'fast-on',
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
    await cs?.close();
    await rm(dir, { recursive: true, force: true });
    disownDir(dir);
  }
}
