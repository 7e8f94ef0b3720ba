import { createServer } from 'node:http';
import { launchChromium } from '../../test/helpers/chromium.js';
import { freePort } from '../../test/helpers/net.js';
import type { BenchContext } from '../lib/context.js';
import { ADMIN_TOKEN, startBenchGatehouse } from '../lib/gatehouse.js';
import type { CaseResult } from '../lib/report.js';
import { percentile, round, sleep } from '../lib/stats.js';

const ROUNDS = 10;
const HEALTH_INTERVAL_MS = 200;

/**
 * P12: an upstream stops answering its health check → the web UI's dashboard (Debian's Chromium,
 * signed in, no reload) shows it down. The figure is what an operator sees: the health check's
 * interval and failure, the edge's settled status, the event stream, React's render.
 */
export async function p12(_ctx: BenchContext): Promise<CaseResult> {
  let healthy = true;
  const backend = createServer((req, res) => {
    res.writeHead(req.url === '/health' && !healthy ? 503 : 200);
    res.end('ok');
  });
  const backendPort = await freePort();
  await new Promise<void>((r) => backend.listen(backendPort, '127.0.0.1', r));
  const apiPort = await freePort();
  const bg = await startBenchGatehouse({ api_listen: `127.0.0.1:${apiPort}` });
  const browser = await launchChromium();
  const downMs: number[] = [];
  const upMs: number[] = [];
  try {
    const base = `http://127.0.0.1:${apiPort}`;
    const api = (method: string, path: string, body: unknown) =>
      fetch(`${base}/api/v1${path}`, {
        method,
        headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
    await api('POST', '/users', { username: 'bench', password: 'bench password 1', role: 'admin' });
    await api('PUT', '/services/watched?wait=true', {
      hosts: ['watched.bench.test'],
      routes: [
        {
          upstreams: [`127.0.0.1:${backendPort}`],
          health: { path: '/health', interval: `${HEALTH_INTERVAL_MS}ms`, timeout: '500ms' },
        },
      ],
      access: { public: true },
    });
    const page = await browser.newPage();
    await page.goto(`${base}/`);
    await page.getByLabel('Username').fill('bench');
    await page.getByLabel('Password').fill('bench password 1');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByTestId('live').filter({ hasText: 'live' }).waitFor({ timeout: 10_000 });
    const shows = (n: number) =>
      page.waitForFunction(
        (want) => document.querySelector('[data-testid="count-down"] p:nth-child(2)')?.textContent === want,
        String(n),
        { timeout: 10_000, polling: 'raf' },
      );
    await shows(0);
    for (let i = 0; i < ROUNDS; i++) {
      // Start at a random point of the check's interval, as an outage would.
      await sleep(Math.random() * HEALTH_INTERVAL_MS + 300);
      healthy = false;
      let t0 = Date.now();
      await shows(1);
      downMs.push(Date.now() - t0);
      await sleep(300);
      healthy = true;
      t0 = Date.now();
      await shows(0);
      upMs.push(Date.now() - t0);
    }
  } finally {
    await browser.close();
    await bg.close();
    backend.close();
  }
  return {
    rows: [
      {
        id: 'P12',
        measure: 'web UI: upstream fails its health check → dashboard shows it down, max',
        value: round(Math.max(...downMs)),
        unit: 'ms',
        goal: { op: '<=', value: 1000 },
        detail: `p50 ${round(percentile(downMs, 50))} ms over ${ROUNDS} outages, health check every ${HEALTH_INTERVAL_MS} ms; back up: p50 ${round(percentile(upMs, 50))} ms, max ${round(Math.max(...upMs))} ms`,
      },
    ],
    notes: [],
    data: { downMs, upMs },
  };
}
