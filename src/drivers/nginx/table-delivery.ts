import type { Logger } from '../../observe/log.js';
import { fastLaneDelta, type FastLaneDelta } from './fast-lane-delta.js';
import { FAST_LANE_STATE, stateVersion, tableOf, type FastTable, type TableChanges } from './fast-lane.js';
import { callFastLane, liveStateVersion, sendFastLane } from './live-state.js';
import type { RenderedFiles } from './render.js';
import type { StateJournal } from './state-journal.js';

/** How a table reached nginx's memory: a patch of the lines that changed, or the whole table. */
export type TableSent = 'patch' | 'table';

/**
 * Sends fast-lane tables to the running nginx (fast-lane-lua.ts, M.serve): a PATCH of the lines
 * that changed since the table nginx is known to hold, else the whole table (PUT). nginx checks the
 * patch's base against the version it holds: 409 when another (a reload's "+kept" table, a failed
 * patch's "+partial", one written behind Gatehouse) means the whole table goes instead, as it does
 * when a patch is refused for any other reason.
 */
export class TableDelivery {
  /** The table nginx holds as far as Gatehouse knows (what it last sent and nginx took). */
  private held: { version: string; table: FastTable } | undefined;

  constructor(
    private readonly socket: string,
    private readonly log: Logger,
    /** The live generation's files: its state file is the table nginx should hold. */
    private readonly live: () => RenderedFiles | undefined,
    /** The version the live state file reaches (its journal's last section, see state-journal.ts). */
    private readonly fileVersion: () => string | undefined = () => stateVersion(live()?.get(FAST_LANE_STATE)),
  ) {}

  /** The fast-lane version in nginx's shared memory and in the live state file. */
  async versions(): Promise<{ memory?: string; file?: string }> {
    return {
      memory: await liveStateVersion(this.socket),
      file: this.fileVersion(),
    };
  }

  /**
   * After a reload, nginx's table still holds the hosts the old workers may have needed (see
   * fast-lane-lua.ts, load): once the new generation answers, the exact table replaces it.
   */
  async sync(): Promise<void> {
    const { memory, file } = await this.versions();
    if (memory === file && file !== undefined) {
      const table = tableOf(this.live());
      this.held = table ? { version: file, table } : undefined;
      return;
    }
    await this.putLive().catch((err: unknown) =>
      this.log.warn({ err: String(err) }, 'could not send the fast lane table after a reload'),
    );
  }

  /** The live state file's whole table to nginx's memory. */
  async putLive(): Promise<void> {
    const files = this.live();
    const state = files?.get(FAST_LANE_STATE);
    if (!state) return this.forget();
    await this.put(stateVersion(state) as string, tableOf(files), state);
  }

  /** What nginx holds is not known (a rollback, an error): the next delivery sends the whole table. */
  forget(): void {
    this.held = undefined;
  }

  /**
   * The PATCH that takes nginx from the table it holds (as far as Gatehouse knows) to `table`, or
   * undefined when none should be sent (nothing known held, most of the table changed).
   */
  delta(version: string, table: FastTable | undefined, changes?: TableChanges): FastLaneDelta | undefined {
    const held = this.held;
    return held && table ? fastLaneDelta(held.table, table, held.version, version, changes) : undefined;
  }

  /**
   * Sends a patch made by delta(); whether nginx took it. When it did not (409: it holds another
   * table; anything else), the caller sends the whole table.
   */
  async patch(delta: FastLaneDelta, version: string, table: FastTable): Promise<boolean> {
    const res = await callFastLane(this.socket, 'PATCH', delta.text).catch((err: unknown) => ({
      status: 0,
      body: String(err),
    }));
    if (res.status === 200) {
      this.held = { version, table };
      return true;
    }
    // 409 (another base) is expected after a reload; anything else is worth a line in the log.
    const level = res.status === 409 ? 'debug' : 'warn';
    this.log[level](
      { status: res.status, body: res.body },
      'fast lane patch not taken; sending the whole table',
    );
    return false;
  }

  /**
   * The live state file first, then nginx. The file: the patch appended (state-journal.ts), else
   * (no patch, past the journal's bound, an append that failed) the whole table written atomically.
   * nginx: the patch, else (no patch, one nginx did not take) the whole table. Either file describes
   * the new table, whatever nginx took. `written` runs once the file holds the new table. How it
   * was sent, and the ms spent on the file.
   */
  async update(
    journal: StateJournal,
    t: { path: string; version: string; table: FastTable | undefined; state: string; changes?: TableChanges },
    written: () => void,
  ): Promise<{ sent: TableSent; file: number }> {
    const delta = t.table && this.delta(t.version, t.table, t.changes);
    const tf = performance.now();
    let appended = false;
    if (delta && journal.fits(delta.text)) {
      try {
        journal.append(t.path, delta.text);
        appended = true;
      } catch (err) {
        this.log.warn({ err: String(err) }, 'could not append to the fast lane state file; rewriting it');
      }
    }
    if (!appended) await journal.rewrite(t.path, t.state);
    const file = performance.now() - tf;
    written();
    if (delta && t.table && (await this.patch(delta, t.version, t.table))) return { sent: 'patch', file };
    await this.put(t.version, t.table, t.state);
    return { sent: 'table', file };
  }

  /** The whole table (PUT): a new generation in nginx's memory. */
  async put(version: string, table: FastTable | undefined, text: string): Promise<void> {
    this.held = undefined;
    await sendFastLane(this.socket, text);
    if (table) this.held = { version, table };
  }
}
