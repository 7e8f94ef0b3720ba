import { isIP } from 'node:net';
import { isAbsolute, join } from 'node:path';
import { z } from 'zod';
import { fromZod } from '../model/errors.js';

/**
 * Two edges sharing a floating IP (VIP): keepalived's configuration for one of them. Both run the
 * same VRRPv3 instance over unicast (clouds drop multicast); the one with the higher priority whose
 * local nginx answers holds the VIP, the other takes it over within a few advert intervals.
 */

/** "required" for an absent option, "a number" for text that is not one; zod's own words otherwise. */
export const missingOr = (expected: string) => ({
  error: (iss: { input?: unknown; code?: string }) =>
    iss.input === undefined ? 'required' : iss.code === 'invalid_type' ? expected : undefined,
});

/** Commander hands over text; the schema accepts a number or the text of one. */
const numeric = (schema: z.ZodNumber) =>
  z.preprocess(
    (v) => (typeof v === 'string' && /^\s*[0-9]+(?:\.[0-9]+)?\s*$/.test(v) ? Number(v) : v),
    schema,
  );

const ipSchema = z
  .string()
  .trim()
  .refine((s) => isIP(s) !== 0 && !s.includes('%'), 'not an IP address (v4 or v6, no zone)');

const vipSchema = z
  .string(missingOr('an address/prefix'))
  .trim()
  .superRefine((s, ctx) => {
    const [addr = '', bits, extra] = s.split('/');
    const family = isIP(addr);
    if (family === 0 || addr.includes('%') || extra !== undefined || bits === undefined) {
      ctx.addIssue({ code: 'custom', message: 'an address with its prefix length, e.g. 203.0.113.10/32' });
      return;
    }
    const max = family === 4 ? 32 : 128;
    if (!/^[0-9]{1,3}$/.test(bits) || Number(bits) < 1 || Number(bits) > max) {
      ctx.addIssue({ code: 'custom', message: `prefix length must be 1-${max}` });
    }
  });

/** The check runs through bash's /dev/tcp: plain HTTP to an IP literal, no quotes or spaces. */
const checkUrlSchema = z.string().superRefine((s, ctx) => {
  let u: URL;
  try {
    u = new URL(s);
  } catch {
    ctx.addIssue({ code: 'custom', message: 'not a URL' });
    return;
  }
  const host = u.hostname.replace(/^\[(.*)\]$/, '$1');
  if (u.protocol !== 'http:') ctx.addIssue({ code: 'custom', message: 'only http:// (the local nginx)' });
  else if (isIP(host) === 0) ctx.addIssue({ code: 'custom', message: 'the host must be an IP address' });
  else if (u.username || u.password || u.hash) {
    ctx.addIssue({ code: 'custom', message: 'no user, password or #fragment' });
  } else if (!/^[A-Za-z0-9\-._~!&()*+,=:@/%?]*$/.test(u.pathname + u.search)) {
    ctx.addIssue({ code: 'custom', message: 'the path uses URL characters only' });
  }
});

/** Paths go into keepalived.conf and scripts unquoted-safe: no spaces, quotes or shell characters. */
const outSchema = z
  .string(missingOr('a path'))
  .regex(/^\/[A-Za-z0-9._/-]*$/, 'an absolute path of letters, digits, ".", "_", "-" and "/"')
  .refine((p) => isAbsolute(p) && !/(?:^|\/)\.\.?(?:\/|$)/.test(p), 'no "." or ".." segments');

const interfaceSchema = z
  .string(missingOr('an interface name'))
  .regex(/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,14}$/, 'an interface name: 1-15 letters, digits, "_", "." or "-"');

export const keepalivedOptionsSchema = z
  .strictObject({
    /** Directory the files are written to (and the scripts run from). */
    out: outSchema,
    /** Where the adverts go (a private network, typically). */
    interface: interfaceSchema,
    vip: vipSchema,
    /** Where the VIP goes, when not on `interface` (a cloud's public interface, say). */
    vipInterface: interfaceSchema.optional(),
    peers: z
      .array(ipSchema)
      .min(1, 'at least one peer (the other edge)')
      .max(16)
      .refine((p) => new Set(p).size === p.length, 'a peer is listed twice'),
    sourceIp: ipSchema.optional(),
    // 255 means "address owner" in VRRP and cannot be lowered by a failed check.
    priority: numeric(z.number(missingOr('a number')).int().min(1).max(254)),
    routerId: numeric(z.number(missingOr('a number')).int().min(1).max(255)).default(51),
    checkUrl: checkUrlSchema.default('http://127.0.0.1:80/'),
    checkInterval: numeric(z.number(missingOr('a number')).int().min(1).max(60)).default(1),
    onMaster: z
      .string()
      .min(1)
      .max(4096)
      .refine((c) => ![...c].some((ch) => ch < ' ' || ch === '\x7f'), 'one line, without control characters')
      .optional(),
    // VRRPv3 counts in centiseconds, 12 bits: 0.01-40.95 s.
    advert: numeric(
      z
        .number(missingOr('a number of seconds, e.g. 0.1'))
        .min(0.01)
        .max(40.95)
        .refine((a) => Math.abs(a * 100 - Math.round(a * 100)) < 1e-9, 'a multiple of 0.01 s'),
    ).default(0.1),
    preempt: z.boolean().default(true),
  })
  .superRefine((o, ctx) => {
    // One VRRP instance speaks one address family: peers, source and VIP must agree.
    const family = isIP(o.vip.split('/')[0] ?? '');
    const check = (ip: string | undefined, path: (string | number)[]) => {
      if (ip !== undefined && family !== 0 && isIP(ip) !== 0 && isIP(ip) !== family) {
        ctx.addIssue({ code: 'custom', path, message: `IPv${isIP(ip)}, but the VIP is IPv${family}` });
      }
    };
    o.peers.forEach((p, i) => check(p, ['peers', i]));
    check(o.sourceIp, ['sourceIp']);
    const vipAddr = o.vip.split('/')[0];
    o.peers.forEach((p, i) => {
      if (p === o.sourceIp)
        ctx.addIssue({ code: 'custom', path: ['peers', i], message: 'this is --source-ip' });
      if (p === vipAddr) ctx.addIssue({ code: 'custom', path: ['peers', i], message: 'this is the VIP' });
    });
    if (o.sourceIp !== undefined && o.sourceIp === vipAddr) {
      ctx.addIssue({
        code: 'custom',
        path: ['sourceIp'],
        message: "the VIP cannot be this edge's own address",
      });
    }
  });

export type KeepalivedInput = z.input<typeof keepalivedOptionsSchema>;
export type KeepalivedOptions = z.output<typeof keepalivedOptionsSchema>;

export interface GeneratedFile {
  path: string;
  mode: number;
  content: string;
}

export const FILES = {
  config: 'keepalived.conf',
  check: 'check-edge.sh',
  notify: 'notify.sh',
  /** Written by notify.sh at run time: one line per state change and per on-master run. */
  log: 'notify.log',
} as const;

/** Validates with the one schema; a failure names the field (`routerId: …`, `peers.1: …`). */
export function parseKeepalivedOptions(input: unknown): KeepalivedOptions {
  const r = keepalivedOptionsSchema.safeParse(input);
  if (!r.success) throw fromZod(r.error);
  return r.data;
}

/** A bash single-quoted word: safe for any text without NUL. */
export function shellQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

function checkScript(o: KeepalivedOptions): string {
  const u = new URL(o.checkUrl);
  const host = u.hostname.replace(/^\[(.*)\]$/, '$1');
  const port = u.port === '' ? '80' : u.port;
  return `#!/bin/bash
# Generated by \`gatehouse ha keepalived\`. keepalived runs it every ${o.checkInterval} s: is this
# edge's nginx serving? Any HTTP answer counts (a 404 too: nginx is up, the path is just not
# routed); a refused, reset or silent connection does not.
set -u
exec 3<>/dev/tcp/${host}/${port} || exit 1
printf '%s\\r\\n' ${shellQuote(`GET ${u.pathname}${u.search} HTTP/1.0`)} ${shellQuote(`Host: ${u.host}`)} \\
  'User-Agent: gatehouse-ha-check' 'Connection: close' '' >&3 || exit 1
IFS= read -r -t ${o.checkInterval} line <&3 || exit 1
[[ $line =~ ^HTTP/[0-9.]+\\ [0-9]{3} ]]
`;
}

function notifyScript(o: KeepalivedOptions): string {
  const log = join(o.out, FILES.log);
  return `#!/bin/bash
# Generated by \`gatehouse ha keepalived\`. keepalived runs it on every state change with
# TYPE NAME STATE PRIORITY, and with STATE MASTER_RX_LOWER_PRI when this master hears another,
# lower-priority master (two masters after a network split: the other is about to step down).
# keepalived discards its output, so it is logged to ${log}.
set -u
on_master=${shellQuote(o.onMaster ?? '')}
log() { printf '%s %s\\n' "$(date -u +%Y-%m-%dT%H:%M:%S.%3NZ)" "$*" >>${shellQuote(log)}; }
case \${3:-} in
  MASTER) log "\${2:-?} is now MASTER (priority \${4:-?})" ;;
  # Whichever master ran its command last holds the cloud's floating IP: claim it again.
  MASTER_RX_LOWER_PRI) log "\${2:-?} is master and heard a lower-priority master: running on-master again" ;;
  *) log "\${2:-?} is now \${3:-?} (priority \${4:-?})"; exit 0 ;;
esac
if [[ -n $on_master ]]; then
  # E.g. point the cloud's floating IP at this server; keepalived does not wait for it.
  if out=$(sh -c "$on_master" 2>&1); then
    log "on-master command succeeded\${out:+: \${out//$'\\n'/ | }}"
  else
    code=$?
    log "on-master command failed (exit $code)\${out:+: \${out//$'\\n'/ | }}"
  fi
fi
exit 0
`;
}

function keepalivedConf(o: KeepalivedOptions): string {
  const lines = [
    '# Generated by `gatehouse ha keepalived`: regenerate it rather than editing it.',
    `# The other edge runs the same file but for its own --priority, --source-ip and --peer.`,
    'global_defs {',
    '  # The scripts run as root; keepalived refuses them if a non-root user could change them.',
    '  script_user root',
    '  enable_script_security',
    '  vrrp_version 3',
    // Sub-second adverts: a keepalived starved of CPU for a few intervals would hand the VIP over
    // for nothing, so it may raise itself to realtime priority once it runs that late.
    '  max_auto_priority',
    `  min_auto_priority_delay ${Math.round(o.advert * 1_000_000)}`,
    '}',
    '',
    'vrrp_script gatehouse_edge {',
    `  script "${join(o.out, FILES.check)}"`,
    `  interval ${o.checkInterval}`,
    `  timeout ${o.checkInterval + 1}`,
    '  rise 2',
    '  fall 2',
    // Starting up, this edge does not claim the VIP until its nginx has answered twice.
    '  init_fail',
    '}',
    '',
    'vrrp_instance gatehouse {',
    // Both start as BACKUP: the election (priority, then the check) decides, not the start order.
    '  state BACKUP',
    `  interface ${o.interface}`,
    `  virtual_router_id ${o.routerId}`,
    `  priority ${o.priority}`,
    `  advert_int ${o.advert}`,
    ...(o.preempt ? [] : ['  nopreempt']),
    ...(o.sourceIp ? [`  unicast_src_ip ${o.sourceIp}`] : []),
    '  unicast_peer {',
    ...o.peers.map((p) => `    ${p}`),
    '  }',
    // Adverts from anyone but the listed peers are ignored.
    '  check_unicast_src',
    // After a split, two masters: the one stepping down sends one last (lower) advert, so that the
    // one staying hears it and runs notify_master_rx_lower_pri (reclaiming the floating IP) and
    // re-sends its gratuitous ARPs, whichever of them heard the other first.
    '  higher_prio_send_advert',
    '  virtual_ipaddress {',
    `    ${o.vip} dev ${o.vipInterface ?? o.interface}`,
    '  }',
    '  track_script {',
    '    gatehouse_edge',
    '  }',
    `  notify "${join(o.out, FILES.notify)}"`,
    `  notify_master_rx_lower_pri "${join(o.out, FILES.notify)} INSTANCE gatehouse MASTER_RX_LOWER_PRI"`,
    '}',
    '',
  ];
  return lines.join('\n');
}

/**
 * keepalived's configuration for one edge of an HA pair, with its check and notify scripts. Pure:
 * validates `input` with the one schema (throwing an error that names the field) and returns the
 * files to write, each with its absolute path and mode.
 */
export function keepalivedConfig(input: KeepalivedInput): {
  options: KeepalivedOptions;
  files: GeneratedFile[];
} {
  const o = parseKeepalivedOptions(input);
  return {
    options: o,
    files: [
      { path: join(o.out, FILES.config), mode: 0o644, content: keepalivedConf(o) },
      { path: join(o.out, FILES.check), mode: 0o755, content: checkScript(o) },
      // Holds the on-master command: readable by root only.
      { path: join(o.out, FILES.notify), mode: 0o700, content: notifyScript(o) },
    ],
  };
}
