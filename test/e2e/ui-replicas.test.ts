import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEdgeAgent, type EdgeProcess } from '../helpers/edge.js';
import { freePort } from '../helpers/net.js';
import { startPostgres, type TestPostgres } from '../helpers/postgres.js';
import { testDir } from '../helpers/tmp.js';
import { startUi, type UiHarness } from '../helpers/ui.js';

/** The Nodes page on PostgreSQL: which replica this is, which one leads, which one each edge follows. */
describe('web UI: replicas on the Nodes page', () => {
  let pgc: TestPostgres;
  let ui: UiHarness;
  let page: Page;
  let agent: EdgeProcess | undefined;

  beforeAll(async () => {
    pgc = await startPostgres();
    ui = await startUi({ database_url: await pgc.createDatabase(), replica_name: 'ui-a' });
    page = ui.page;
    await ui.signIn();
  }, 90_000);
  afterAll(async () => {
    await agent?.stop();
    await ui?.close();
    await pgc?.stop().catch(() => undefined);
  });

  it('shows this replica as the leader, and the replica an edge with a dead first URL follows', async () => {
    const node = await ui.t.api('POST', '/api/v1/nodes', { name: 'vps', role: 'public' });
    expect(node.status).toBe(201);
    agent = startEdgeAgent({
      control: `http://127.0.0.1:${await freePort()},${ui.base}`,
      token: String(node.json.token),
      dir: await testDir('gh-ui-replicas-edge-'),
      httpPort: await freePort(),
    });
    await page.getByRole('link', { name: 'Nodes' }).click();
    await page.getByRole('heading', { name: 'Nodes', exact: true }).waitFor();
    expect(await page.getByTestId('replica').textContent()).toBe('Replica ui-a (the leader)');
    const row = page.getByTestId('nodes').locator('tr[data-node="vps"]');
    await row.getByTestId('follows').waitFor({ timeout: 20_000 });
    expect(await row.getByTestId('follows').textContent()).toBe('follows replica ui-a');
    expect(await row.getByTestId('follows').getAttribute('title')).toBe(ui.base);
    // Its first config applied, the dead URL's error is over.
    await row.getByText('in sync').waitFor({ timeout: 20_000 });
    await row.getByText(/Last error/).waitFor({ state: 'detached' });
    await ui.shot('nodes-replicas');
  });
});
