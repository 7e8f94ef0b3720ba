import { CRS_SETUP } from './waf.js';
import { callStatus } from './status-call.js';
import { existsSync } from 'node:fs';
import { rename, writeFile } from 'node:fs/promises';
import { basename } from 'node:path';
import { randomBytes } from 'node:crypto';
import { GatehouseError } from '../../model/errors.js';
import { FAST_LANE_PATH, FAST_LANE_STATE } from './fast-lane.js';
import type { RenderedFiles } from './render.js';

/** Whether two renderings differ at most in the fast lane's state file (then no reload is needed). */
export function onlyStateDiffers(next: RenderedFiles, live: RenderedFiles): boolean {
  if (next.size !== live.size) return false;
  for (const [name, content] of next) {
    if (name !== FAST_LANE_STATE && live.get(name) !== content) return false;
  }
  return true;
}

/** Writes a file by renaming a fresh one over it: a reader (nginx starting) sees old or new, whole. */
export async function writeAtomic(path: string, content: string): Promise<void> {
  const tmp = `${path}.${randomBytes(6).toString('hex')}.tmp`;
  await writeFile(tmp, content, { mode: 0o644, flag: 'wx' });
  await rename(tmp, path);
}

export function callFastLane(
  socketPath: string,
  method: 'GET' | 'PUT' | 'PATCH',
  body?: string,
): Promise<{ status: number; body: string }> {
  return callStatus(socketPath, FAST_LANE_PATH, method, {
    what: 'fast lane',
    ...(body !== undefined ? { body } : {}),
  });
}

/** Sends the whole fast-lane table to the running nginx; rejects with nginx's message if refused. */
export async function sendFastLane(socketPath: string, state: string): Promise<void> {
  const res = await callFastLane(socketPath, 'PUT', state);
  if (res.status !== 200)
    throw new GatehouseError('fast_lane_refused', `nginx refused the fast lane table: ${res.body}`, 500);
}

/** The fast-lane version nginx's shared memory holds; undefined when nginx does not answer. */
export async function liveStateVersion(socketPath: string): Promise<string | undefined> {
  const res = await callFastLane(socketPath, 'GET').catch(() => undefined);
  return res?.status === 200 ? res.body : undefined;
}

/** The nginx modules Gatehouse loads, and the Debian package each comes from. */
export const MODULE_PACKAGES: Record<string, string> = {
  'ngx_stream_module.so': 'libnginx-mod-stream',
  'ndk_http_module.so': 'libnginx-mod-http-ndk',
  'ngx_http_lua_module.so': 'libnginx-mod-http-lua',
  'ngx_http_modsecurity_module.so': 'libnginx-mod-http-modsecurity',
  'ngx_http_geoip2_module.so': 'libnginx-mod-http-geoip2',
};

/** A clear error for a module file the config loads and the machine lacks (nginx says only "dlopen"). */
export function checkModules(nginxConf: string): void {
  for (const m of nginxConf.matchAll(/^load_module (\S+);$/gm)) {
    const path = m[1] as string;
    if (existsSync(path)) continue;
    const pkg = MODULE_PACKAGES[basename(path)] ?? 'that provides it';
    throw missing(`nginx module ${path}`, pkg);
  }
  // The Lua module's own library (lua-resty-lrucache comes with it).
  const core = '/usr/share/lua/5.1/resty/core.lua';
  if (nginxConf.includes('require "resty.core"') && !existsSync(core)) throw missing(core, 'lua-resty-core');
  // The WAF's rules (waf.ts).
  if (nginxConf.includes('ngx_http_modsecurity_module') && !existsSync(CRS_SETUP))
    throw missing(`the OWASP Core Rule Set (${CRS_SETUP})`, 'modsecurity-crs');
}

function missing(what: string, pkg: string): GatehouseError {
  return new GatehouseError(
    'nginx_module_missing',
    `${what} is missing: install the Debian package ${pkg} (scripts/install-deps.sh installs it)`,
    500,
  );
}
