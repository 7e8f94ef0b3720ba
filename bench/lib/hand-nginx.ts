import { spawn, type ChildProcess } from 'node:child_process';
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PROXY_HEADER_MAPS, PROXY_HEADERS } from '../../src/drivers/nginx/common.js';
import { disownDir, own, ownDir, stopChild } from './cleanup.js';
import { freePort, httpRequest } from './http.js';
import { sleep } from './stats.js';

/** A hand-written nginx, the yardstick for P1: what an operator would write for one backend. */
export interface HandNginx {
  /** `location / { proxy_pass http://127.0.0.1:PORT; }` and nothing else (HTTP/1.0, no pooling). */
  minimalPort: number;
  /** The same through an upstream block with `keepalive 16`, HTTP/1.1 and `Connection ""`. */
  keepalivePort: number;
  /** The minimal one plus the forwarding headers nginx's docs and most hand-written configs set. */
  forwardingPort: number;
  /**
   * The keepalive one with the proxy headers Gatehouse sets on every route (and the maps they
   * read): what is left between it and a Gatehouse route is routing (Lua), not headers.
   */
  headersPort: number;
  pid: number;
  stop(): Promise<void>;
}

export interface HandNginxOptions {
  backendPort: number;
  /** Same worker count as the Gatehouse-managed nginx, so that only the config differs. */
  workers: number;
}

/**
 * Both baselines as two servers in one nginx. The access log is buffered exactly as Gatehouse's is
 * (64k, flush 1s), so that the ratio measures routing and proxying, not a logging policy.
 */
export function handConfig(
  dir: string,
  o: HandNginxOptions & {
    minimalPort: number;
    keepalivePort: number;
    forwardingPort: number;
    headersPort: number;
  },
): string {
  const backend = `127.0.0.1:${o.backendPort}`;
  const maps = PROXY_HEADER_MAPS.map((l) => `    ${l}`).join('\n');
  const headers = PROXY_HEADERS.map((l) => `            ${l}`).join('\n');
  return `worker_processes ${o.workers};
pid ${dir}/nginx.pid;
events { worker_connections 4096; }
http {
    access_log ${dir}/access.log combined buffer=64k flush=1s;
    client_body_temp_path ${dir}/tmp/body;
    proxy_temp_path ${dir}/tmp/proxy;
    fastcgi_temp_path ${dir}/tmp/fastcgi;
    uwsgi_temp_path ${dir}/tmp/uwsgi;
    scgi_temp_path ${dir}/tmp/scgi;
${maps}

    upstream backend {
        server ${backend};
        keepalive 16;
    }
    server {
        listen 127.0.0.1:${o.minimalPort};
        location / { proxy_pass http://${backend}; }
    }
    server {
        listen 127.0.0.1:${o.forwardingPort};
        location / {
            proxy_set_header Host $host;
            proxy_set_header X-Real-IP $remote_addr;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto $scheme;
            proxy_pass http://${backend};
        }
    }
    server {
        listen 127.0.0.1:${o.keepalivePort};
        location / {
            proxy_pass http://backend;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }
    }
    server {
        listen 127.0.0.1:${o.headersPort};
        location / {
            proxy_pass http://backend;
            proxy_http_version 1.1;
${headers}
        }
    }
}
`;
}

/** Writes the config to its own temp prefix and runs nginx in the foreground as our child. */
export async function startHandNginx(o: HandNginxOptions): Promise<HandNginx> {
  const dir = await mkdtemp(join(tmpdir(), 'gh-bench-nginx-'));
  ownDir(dir);
  // Workers run as an unprivileged user: they must be able to reach the temp directories.
  await chmod(dir, 0o755);
  await mkdir(join(dir, 'tmp'), { mode: 0o755 });
  const [minimalPort, keepalivePort, forwardingPort, headersPort] = [
    await freePort(),
    await freePort(),
    await freePort(),
    await freePort(),
  ];
  await writeFile(
    join(dir, 'nginx.conf'),
    handConfig(dir, { ...o, minimalPort, keepalivePort, forwardingPort, headersPort }),
  );
  const child = spawn(
    'nginx',
    ['-p', dir, '-c', join(dir, 'nginx.conf'), '-e', join(dir, 'error.log'), '-g', 'daemon off;'],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  if (child.pid === undefined) throw new Error('nginx did not start');
  own(child.pid);
  const stop = async () => {
    // SIGQUIT: graceful, and the master stops its workers before it exits.
    await stopChild(child, 'SIGQUIT');
    await rm(dir, { recursive: true, force: true });
    disownDir(dir);
  };
  try {
    await untilServing(child, [minimalPort, keepalivePort, forwardingPort, headersPort]);
  } catch (err) {
    await stop();
    throw err;
  }
  return { minimalPort, keepalivePort, forwardingPort, headersPort, pid: child.pid, stop };
}

async function untilServing(child: ChildProcess, ports: number[]): Promise<void> {
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const deadline = Date.now() + 10_000;
  for (const port of ports) {
    for (;;) {
      if (child.exitCode !== null) throw new Error(`hand-written nginx exited: ${stderr}`);
      const ok = await httpRequest(port, { timeoutMs: 1000 }).then(
        (r) => r.status === 200,
        () => false,
      );
      if (ok) break;
      if (Date.now() > deadline) throw new Error(`hand-written nginx not serving on ${port}: ${stderr}`);
      await sleep(20);
    }
  }
}
