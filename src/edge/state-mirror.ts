import type { NginxDriver } from '../drivers/nginx/driver.js';
import type { Logger } from '../observe/log.js';
import { writeFileAtomic } from '../store/files.js';
import type { GateState } from './feed.js';
import { mirrorState } from './gate-state.js';

/**
 * An edge node's copy of what the control plane's feed carries besides the config: the gate's state
 * files (revocations among them sent to nginx's memory at once) and CrowdSec's decisions (the file
 * nginx reads at start, and its memory). Each is written only when it changed.
 */
export class EdgeStateMirror {
  /** The gate state last mirrored and sent (epoch, seq, hash). */
  private mirrored = '';
  /** The decisions list last written and sent. */
  private decisions: string | undefined;

  constructor(
    private readonly o: {
      stateDir: string;
      decisionsFile: string;
      driver: Pick<NginxDriver, 'revocations' | 'decisions'>;
      log: Logger;
    },
  ) {}

  async gate(st: GateState): Promise<void> {
    const key = `${st.epoch} ${st.seq} ${st.hash}`;
    // Most bodies change only the config: the state on disk and in nginx is left as it is then.
    if (key === this.mirrored) return;
    await mirrorState(this.o.stateDir, st.files);
    // Revocations among them reach nginx's shared memory now, not at the next drift check.
    const sent = await this.o.driver.revocations.sync().then(
      () => true,
      (err: unknown) => {
        this.o.log.warn({ err: String(err) }, 'could not send revocations to nginx');
        return false;
      },
    );
    this.mirrored = sent ? key : '';
  }

  /** Before the config: a reload that starts enforcing them reads the file. Whether it changed. */
  async writeDecisions(text: string | undefined): Promise<boolean> {
    if (text === undefined || text === this.decisions) return false;
    await writeFileAtomic(this.o.decisionsFile, text, 0o644);
    return true;
  }

  /** After the config: into nginx's memory (a reload kept the old list there). */
  async sendDecisions(text: string): Promise<void> {
    await this.o.driver.decisions.sync().then(
      () => (this.decisions = text),
      (err: unknown) => this.o.log.warn({ err: String(err) }, 'could not send the decisions to nginx'),
    );
  }
}
