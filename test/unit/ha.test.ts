import { describe, expect, it } from 'vitest';
import { haCommand } from '../../src/cli/commands/ha.js';
import { keepalivedConfig, shellQuote, type KeepalivedInput } from '../../src/edge/ha.js';
import { GatehouseError } from '../../src/model/errors.js';

const base: KeepalivedInput = {
  out: '/etc/keepalived',
  interface: 'eth0',
  vip: '10.0.0.100/24',
  peers: ['10.0.0.12'],
  sourceIp: '10.0.0.11',
  priority: 150,
};

const file = (input: KeepalivedInput, name: string) => {
  const f = keepalivedConfig(input).files.find((x) => x.path.endsWith(`/${name}`));
  if (!f) throw new Error(`no ${name}`);
  return f;
};

describe('keepalivedConfig (HA pair, issue 5)', () => {
  it('writes a VRRPv3 unicast instance with sub-second adverts, a check and a notify hook', () => {
    const { files } = keepalivedConfig(base);
    expect(files.map((f) => [f.path, f.mode.toString(8)])).toEqual([
      ['/etc/keepalived/keepalived.conf', '644'],
      ['/etc/keepalived/check-edge.sh', '755'],
      ['/etc/keepalived/notify.sh', '700'],
    ]);
    const conf = file(base, 'keepalived.conf').content;
    for (const line of [
      'vrrp_version 3',
      'enable_script_security',
      'state BACKUP',
      'interface eth0',
      'virtual_router_id 51',
      'priority 150',
      'advert_int 0.1',
      'unicast_src_ip 10.0.0.11',
      '10.0.0.100/24 dev eth0',
      'script "/etc/keepalived/check-edge.sh"',
      'notify "/etc/keepalived/notify.sh"',
      'notify_master_rx_lower_pri "/etc/keepalived/notify.sh INSTANCE gatehouse MASTER_RX_LOWER_PRI"',
      'init_fail',
      'higher_prio_send_advert',
    ]) {
      expect(conf).toContain(line);
    }
    expect(conf).toMatch(/unicast_peer \{\n\s+10\.0\.0\.12\n\s+\}/);
    expect(conf).not.toContain('nopreempt');
    // The check: plain HTTP to the local nginx through bash, any status line counts.
    const check = file(base, 'check-edge.sh').content;
    expect(check).toContain('exec 3<>/dev/tcp/127.0.0.1/80');
    expect(check).toContain(`'GET / HTTP/1.0'`);
  });

  it('takes each option into account', () => {
    const input: KeepalivedInput = {
      ...base,
      out: '/run/ha',
      interface: 'ens10',
      vip: 'fd00::100/64',
      peers: ['fd00::12', 'fd00::13'],
      sourceIp: 'fd00::11',
      priority: '90',
      routerId: '7',
      advert: '0.25',
      checkUrl: 'http://[::1]:8080/healthz?x=1',
      checkInterval: '3',
      vipInterface: 'eth0',
      onMaster: `echo it's me`,
      preempt: false,
    };
    const conf = file(input, 'keepalived.conf').content;
    for (const line of [
      'priority 90',
      'virtual_router_id 7',
      'advert_int 0.25',
      'nopreempt',
      'fd00::100/64 dev eth0',
      'interface ens10',
      'interval 3',
    ]) {
      expect(conf).toContain(line);
    }
    expect(conf).toMatch(/unicast_peer \{\n\s+fd00::12\n\s+fd00::13\n\s+\}/);
    const check = file(input, 'check-edge.sh').content;
    expect(check).toContain('/dev/tcp/::1/8080');
    expect(check).toContain(`'GET /healthz?x=1 HTTP/1.0' 'Host: [::1]:8080'`);
    // The command is one quoted word in the script, whatever it holds.
    expect(file(input, 'notify.sh').content).toContain(`on_master=${shellQuote(`echo it's me`)}`);
    expect(shellQuote(`it's`)).toBe(`'it'\\''s'`);
  });

  it('refuses bad input, naming the field', () => {
    const bad: [Partial<Record<keyof KeepalivedInput, unknown>>, RegExp][] = [
      [{ vip: '10.0.0.100' }, /^vip: an address with its prefix length/],
      [{ peers: [] }, /^peers: at least one peer/],
      [{ peers: ['10.0.0.300'] }, /^peers\.0: not an IP address/],
      [{ peers: ['fd00::2'] }, /^peers\.0: IPv6, but the VIP is IPv4/],
      [{ peers: ['10.0.0.11'] }, /^peers\.0: this is --source-ip/],
      [{ priority: 255 }, /^priority: /],
      [{ priority: 'high' }, /^priority: /],
      [{ routerId: 0 }, /^routerId: /],
      [{ advert: 0.005 }, /^advert: /],
      [{ advert: 0.123 }, /^advert: a multiple of 0\.01/],
      [{ checkUrl: 'https://127.0.0.1/' }, /^checkUrl: only http/],
      [{ checkUrl: 'http://localhost/' }, /^checkUrl: the host must be an IP/],
      [{ out: 'relative/dir' }, /^out: an absolute path/],
      [{ out: '/etc/keep alived' }, /^out: /],
      [{ interface: 'eth0; rm -rf /' }, /^interface: /],
      [{ vipInterface: 'a b' }, /^vipInterface: /],
      [{ onMaster: 'a\nb' }, /^onMaster: one line/],
      [{ priority: undefined }, /^priority: /],
    ];
    for (const [change, message] of bad) {
      expect(
        () => keepalivedConfig({ ...base, ...change } as KeepalivedInput),
        JSON.stringify(change),
      ).toThrow(message);
    }
  });
});

describe('gatehouse ha keepalived (CLI)', () => {
  const run = (args: string[]) =>
    haCommand()
      .exitOverride()
      .parseAsync(['keepalived', ...args], { from: 'user' });

  it('names the flag at fault and writes nothing', async () => {
    const err = await run([
      '--out',
      '/nonexistent-dir/x',
      '--interface',
      'eth0',
      '--vip',
      '10.0.0.1/24',
    ]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(GatehouseError);
    expect((err as GatehouseError).message).toMatch(/^--peer: at least one peer/);
    expect((err as GatehouseError).issues.map((i) => i.field)).toEqual(['--peer', '--priority']);
    const err2 = await run([
      '--out',
      '/nonexistent-dir/x',
      '--interface',
      'eth0',
      '--vip',
      '10.0.0.1/24',
      '--peer',
      '10.0.0.2',
      '--peer',
      'nope',
      '--priority',
      '100',
      '--router-id',
      '300',
    ]).catch((e: unknown) => e);
    expect((err2 as GatehouseError).issues.map((i) => i.field)).toEqual(['--peer #2', '--router-id']);
  });
});
