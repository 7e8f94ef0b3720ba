import { execFile } from 'node:child_process';
import { MODULE_PACKAGES } from '../drivers/nginx/live-state.js';
import { accessSync, constants, existsSync, statSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { parseListen, type Settings } from '../model/settings.js';
import {
  dbFile,
  emptiedMessage,
  reachMessage,
  readMarker,
  runningInstance,
  workerReach,
  type InstanceInfo,
} from '../store/data-dir.js';
import { checkDb, openSqliteReadOnly } from '../store/db.js';
import { openPostgresForCheck, redactUrl } from '../store/postgres.js';
import { octal, tooOpen } from '../store/permissions.js';

export interface Check {
  name: string;
  ok: boolean;
  detail: string;
}

/**
 * Diagnostics for the instance on `s.data_dir`: nginx and its modules, its ports, the data dir
 * (reachable by nginx's workers, modes, an emptied registry) and the database. When Gatehouse runs
 * on that data dir, its own ports and nginx are checked (it records them in run/instance.json).
 * Reads only: it creates no directory, file or database.
 */
export async function runDoctor(settings: Settings): Promise<Check[]> {
  const dataDir = resolve(settings.data_dir);
  const running = runningInstance(dataDir);
  const s: Settings | (Settings & InstanceInfo) = running ? { ...settings, ...running } : settings;
  const checks: Check[] = [];
  checks.push({
    name: 'instance',
    ok: true,
    detail: running
      ? `Gatehouse is running on ${dataDir} (pid ${running.pid}): checking its ports`
      : `Gatehouse is not running on ${dataDir}: checking the ports it would use`,
  });
  const version = await new Promise<string | undefined>((done) =>
    execFile(s.nginx_bin, ['-v'], (err, _out, stderr) => done(err ? undefined : stderr.trim())),
  );
  checks.push({
    name: 'nginx',
    ok: !!version,
    detail: version ?? `${s.nginx_bin} not found: run the quick-start installer`,
  });
  for (const [mod, pkg] of Object.entries(MODULE_PACKAGES)) {
    const path = join(s.nginx_modules_dir, mod);
    checks.push({
      name: `module ${mod}`,
      ok: existsSync(path),
      detail: existsSync(path) ? path : `${path} missing: install the Debian package ${pkg}`,
    });
  }
  const ports: [string, number | undefined, string | undefined][] = [
    ['HTTP port', s.http_port, undefined],
    ['HTTPS port', s.https_port || undefined, undefined],
    ['API listener', parseListen(s.api_listen).port, parseListen(s.api_listen).host],
    ['registration listener', parseListen(s.register_listen).port, parseListen(s.register_listen).host],
  ];
  for (const [name, port, host] of ports) {
    if (!port) continue;
    const free = await portFree(port, host);
    checks.push({
      name,
      ok: free || !!running,
      detail: free
        ? `${port} free`
        : running
          ? `${port} in use (by Gatehouse, pid ${running.pid})`
          : `${port} is in use by another program`,
    });
  }
  checks.push(...dataDirChecks(dataDir));
  checks.push(
    settings.database_url === undefined
      ? await databaseCheck(dataDir)
      : await postgresCheck(settings.database_url),
  );
  return checks;
}

function dataDirChecks(dataDir: string): Check[] {
  if (!existsSync(dataDir)) {
    // Where it would be created: can the workers get there?
    let parent = dirname(dataDir);
    while (!existsSync(parent) && parent !== dirname(parent)) parent = dirname(parent);
    const reach = workerReach(parent);
    return [
      { name: 'data dir', ok: true, detail: `no data dir at ${dataDir} (gatehouse up creates it)` },
      reach.ok
        ? { name: 'worker access', ok: true, detail: `nginx workers can reach ${parent}` }
        : { name: 'worker access', ok: false, detail: reachMessage(dataDir, reach) },
    ];
  }
  const checks: Check[] = [];
  try {
    accessSync(dataDir, constants.W_OK);
    checks.push({ name: 'data dir', ok: true, detail: `${dataDir} writable` });
  } catch (err) {
    checks.push({ name: 'data dir', ok: false, detail: `${dataDir}: ${(err as Error).message}` });
  }
  // The data dir itself may be 0700 until `up` opens it to the workers: ask about its parent then.
  const mode = statSync(dataDir).mode;
  const reach = workerReach((mode & 0o001) === 0 ? dirname(dataDir) : dataDir);
  checks.push(
    reach.ok
      ? { name: 'worker access', ok: true, detail: 'nginx workers can reach the data dir' }
      : { name: 'worker access', ok: false, detail: reachMessage(dataDir, reach) },
  );
  const open = tooOpen(dataDir);
  checks.push(
    open.length
      ? {
          name: 'permissions',
          ok: false,
          detail:
            `readable or writable by others: ` +
            open
              .slice(0, 10)
              .map((f) => `${f.path} ${octal(f.mode)} (at most ${octal(f.max)})`)
              .join(', ') +
            `${open.length > 10 ? `, and ${open.length - 10} more` : ''}; gatehouse up narrows them at start`,
        }
      : { name: 'permissions', ok: true, detail: 'state is readable by its owner only' },
  );
  return checks;
}

async function postgresCheck(url: string): Promise<Check> {
  try {
    const db = await openPostgresForCheck(url);
    try {
      return { name: 'database', ok: true, detail: `${await checkDb(db)}, PostgreSQL ${redactUrl(url)}` };
    } finally {
      await db.destroy();
    }
  } catch (err) {
    return { name: 'database', ok: false, detail: `PostgreSQL: ${(err as Error).message}` };
  }
}

async function databaseCheck(dataDir: string): Promise<Check> {
  const file = dbFile(dataDir);
  const marked = readMarker(dataDir) !== undefined;
  const size = existsSync(file) ? statSync(file).size : undefined;
  if (size === undefined || size === 0) {
    if (marked)
      return {
        name: 'database',
        ok: false,
        detail: emptiedMessage(dataDir, size === undefined ? 'is missing' : 'is empty (0 bytes)'),
      };
    return { name: 'database', ok: true, detail: `none yet at ${file} (gatehouse up creates it)` };
  }
  try {
    const db = openSqliteReadOnly(file);
    try {
      const detail = await checkDb(db);
      if (marked && detail.startsWith('ok (version 0,'))
        return {
          name: 'database',
          ok: false,
          detail: emptiedMessage(dataDir, 'holds no registry (version 0)'),
        };
      return { name: 'database', ok: true, detail: `${detail}, SQLite ${file}` };
    } finally {
      await db.destroy();
    }
  } catch (err) {
    return { name: 'database', ok: false, detail: `${file}: ${(err as Error).message}` };
  }
}

function portFree(port: number, host = '0.0.0.0'): Promise<boolean> {
  return new Promise((done) => {
    const srv = createServer();
    srv.once('error', () => done(false));
    srv.listen(port, host, () => srv.close(() => done(true)));
  });
}
