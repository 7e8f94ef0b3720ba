import { closeSync, openSync, writeSync } from 'node:fs';
import { UnsafeValueError } from './escape.js';
import { stateVersion } from './fast-lane.js';
import { writeAtomic } from './live-state.js';

/**
 * The fast lane's state file as a journal: the whole table (the base, written atomically), then the
 * patches sent to nginx since, appended in order. Each appended section is the PATCH text itself
 * (`# gatehouse fast lane patch <base> <version>`, lines, `-key` lines) followed by its end line,
 * `# end <version> <bytes>`, written after the section: a section without a whole end line, or
 * whose end line names another version or length, was torn by a crash and is ignored when nginx
 * loads the file (fast-lane-lua.ts, M.load), as is everything after it. Rewriting 1.2 MB at 10,000
 * hosts costs ~13 ms on a slow disk; appending a patch costs one small write.
 *
 * Appended sections are bounded (compactionDue): past the bound the next change rewrites the whole
 * file, which becomes the new base.
 */

export interface JournalLimits {
  /** Appended bytes allowed: this share of the base's bytes… */
  share: number;
  /** …but at least this many (a small table would otherwise be rewritten at every change). */
  minBytes: number;
  /** Appended lines allowed. */
  maxLines: number;
}

export const JOURNAL_LIMITS: JournalLimits = { share: 0.5, minBytes: 8192, maxLines: 10_000 };

const PATCH_HEADER = /^# gatehouse fast lane patch ([0-9a-f]+) ([0-9a-f]+)\n/;

/** A patch framed for the state file: the section (the patch as sent) and its end line. */
export function journalSection(patch: string): {
  base: string;
  version: string;
  section: string;
  end: string;
} {
  const m = PATCH_HEADER.exec(patch);
  if (!m || !patch.endsWith('\n'))
    throw new UnsafeValueError('a fast lane patch must start with its header and end with a newline');
  const [, base, version] = m as unknown as [string, string, string];
  return { base, version, section: patch, end: `# end ${version} ${Buffer.byteLength(patch)}\n` };
}

/** Whether appending `bytes` more (in `lines` lines) passes the bound: the whole file is written then. */
export function compactionDue(
  now: { baseBytes: number; bytes: number; lines: number },
  add: { bytes: number; lines: number },
  limits: JournalLimits = JOURNAL_LIMITS,
): boolean {
  const maxBytes = Math.max(limits.minBytes, Math.floor(now.baseBytes * limits.share));
  return now.bytes + add.bytes > maxBytes || now.lines + add.lines > limits.maxLines;
}

/**
 * The version a state file's text reaches: its base's, then each complete section's in order (a
 * torn or mismatched section ends the walk, as in M.load). Framing only: lines are not checked.
 */
export function journalVersion(text: string | undefined): string | undefined {
  let version = stateVersion(text);
  if (!text || version === undefined) return version;
  let at = text.indexOf('\n# gatehouse fast lane patch ');
  while (at >= 0) {
    const start = at + 1;
    const endAt = text.indexOf('\n# end ', start);
    if (endAt < 0) break;
    const nl = text.indexOf('\n', endAt + 1);
    if (nl < 0) break;
    const section = text.slice(start, endAt + 1);
    const head = PATCH_HEADER.exec(section);
    const end = /^# end ([0-9a-f]+) (\d+)$/.exec(text.slice(endAt + 1, nl));
    if (!head || !end || head[1] !== version || end[1] !== head[2]) break;
    if (Number(end[2]) !== Buffer.byteLength(section)) break;
    version = head[2];
    at = nl < text.length - 1 ? nl : -1;
  }
  return version;
}

/** The live generation's state file as Gatehouse wrote it: what nginx loads when it (re)starts. */
export class StateJournal {
  private base = '';
  private baseBytes = 0;
  private sections: string[] = [];
  private bytes = 0;
  private lines = 0;
  /** The version the file reaches (its last section's, else its base's). */
  version: string | undefined;

  constructor(private readonly limits: JournalLimits = JOURNAL_LIMITS) {}

  /** The file holds `state` alone: a new generation, or a rewrite. */
  reset(state: string | undefined): void {
    this.base = state ?? '';
    this.baseBytes = Buffer.byteLength(this.base);
    this.sections = [];
    this.bytes = 0;
    this.lines = 0;
    this.version = stateVersion(state);
  }

  /** What the file on disk holds: the base, then every section with its end line. */
  text(): string {
    return this.sections.length ? this.base + this.sections.join('') : this.base;
  }

  /** How many sections follow the base. */
  get appended(): number {
    return this.sections.length;
  }

  /** Whether `patch` may be appended: it starts from the version the file reaches, within the bound. */
  fits(patch: string): boolean {
    const { base, end } = journalSection(patch);
    if (this.version === undefined || base !== this.version) return false;
    const add = { bytes: Buffer.byteLength(patch) + end.length, lines: countLines(patch) + 1 };
    return !compactionDue(
      { baseBytes: this.baseBytes, bytes: this.bytes, lines: this.lines },
      add,
      this.limits,
    );
  }

  /**
   * Appends `patch` to the file at `path`: the section in one write, then its end line. Throws on
   * any error; the file may then end with a torn section, which the caller must replace (rewrite).
   */
  append(path: string, patch: string): void {
    const { version, section, end } = journalSection(patch);
    // Synchronous: a few hundred bytes, no fsync, tens of µs; four thread-pool round trips instead
    // each wait for a turn of a busy event loop (ms under load, on the register→200 path).
    const fd = openSync(path, 'a');
    try {
      writeSync(fd, section);
      writeSync(fd, end);
    } finally {
      closeSync(fd);
    }
    const framed = section + end;
    this.sections.push(framed);
    this.bytes += Buffer.byteLength(framed);
    this.lines += countLines(framed);
    this.version = version;
  }

  /** Replaces the file at `path` with `state` atomically: the new base, no sections. */
  async rewrite(path: string, state: string): Promise<void> {
    await writeAtomic(path, state);
    this.reset(state);
  }
}

function countLines(s: string): number {
  let n = 0;
  for (let i = s.indexOf('\n'); i >= 0; i = s.indexOf('\n', i + 1)) n++;
  return n;
}
