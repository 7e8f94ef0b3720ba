import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/observe/log.js';
import { WgLink } from '../../src/vpn/wg.js';
import { testDir } from '../helpers/tmp.js';

const run = promisify(execFile);

/** Whether this kernel makes WireGuard interfaces (Debian's does; this CI machine's VM does not). */
async function kernelHasWireguard(name: string): Promise<boolean> {
  const ok = await run('ip', ['link', 'add', 'dev', name, 'type', 'wireguard']).then(
    () => true,
    () => false,
  );
  if (ok) await run('ip', ['link', 'del', 'dev', name]);
  return ok;
}

/**
 * A WireGuard interface is the kernel's where the kernel has the module, and wireguard-go's where it
 * does not; either way `wg` drives it the same and down() leaves no interface behind.
 */
describe('WgLink: kernel WireGuard where present, wireguard-go where not', () => {
  const links: WgLink[] = [];
  afterEach(async () => {
    for (const l of links.splice(0)) await l.down();
  });
  const link = async (name: string, userspace?: boolean) => {
    const l = new WgLink({
      name,
      dir: await testDir('wg-link-'),
      log: createLogger('silent'),
      ...(userspace === undefined ? {} : { userspace }),
    });
    links.push(l);
    return l;
  };
  const exists = (name: string) =>
    run('ip', ['link', 'show', 'dev', name]).then(
      () => true,
      () => false,
    );

  it('picks what the kernel offers, answers `wg`, and is gone after down()', async () => {
    const name = `ghk${process.pid % 100000}`;
    const kernel = await kernelHasWireguard(name);
    const l = await link(name);
    await l.up();
    expect(l.mode).toBe(kernel ? 'kernel' : 'userspace');
    expect(l.running).toBe(true);
    await l.address('100.127.250.1/30');
    const { stdout } = await run('wg', ['show', name, 'listen-port']);
    expect(stdout.trim()).toMatch(/^\d+$/);
    await l.down();
    expect(l.running).toBe(false);
    expect(await exists(name)).toBe(false);
  });

  it('userspace when asked, even where the kernel has it', async () => {
    const name = `ghu${process.pid % 100000}`;
    const l = await link(name, true);
    await l.up();
    expect(l.mode).toBe('userspace');
    const { stdout } = await run('ps', ['-o', 'args=', '-C', 'wireguard-go']);
    expect(stdout).toContain(name);
    await l.down();
    expect(await exists(name)).toBe(false);
  });
});
