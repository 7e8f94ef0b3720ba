import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  compactionDue,
  journalSection,
  journalVersion,
  StateJournal,
  type JournalLimits,
} from '../../src/drivers/nginx/state-journal.js';

const base = '# gatehouse fast lane aa\n@p\thttp\tround_robin\t127.0.0.1:1\tP\t\na.test\thttp\t@p\tA\t\n';
const patch1 = '# gatehouse fast lane patch aa bb\nb.test\thttp\t@p\tB\t\n';
const patch2 = '# gatehouse fast lane patch bb cc\n-a.test\n';
const dir = mkdtempSync(join(tmpdir(), 'journal-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('state file journal', () => {
  it('frames a patch with an end line naming its version and byte length', () => {
    const s = journalSection('# gatehouse fast lane patch aa bb\nb.test\thttp\t@p\tBé\t\n');
    expect(s).toMatchObject({ base: 'aa', version: 'bb' });
    // é is two bytes: the length is in bytes, as Lua's # counts them.
    expect(s.end).toBe(`# end bb ${Buffer.byteLength(s.section)}\n`);
    expect(s.end).toBe('# end bb 54\n');
    expect(() => journalSection('# gatehouse fast lane aa\n')).toThrow(/header/);
    expect(() => journalSection('# gatehouse fast lane patch aa bb\nb.test')).toThrow(/newline/);
  });

  it("the file's version is its last complete section's; a torn or mismatched one ends the walk", () => {
    const one = patch1 + journalSection(patch1).end;
    const two = patch2 + journalSection(patch2).end;
    expect(journalVersion(base)).toBe('aa');
    expect(journalVersion(base + one + two)).toBe('cc');
    // Torn anywhere in the last section or its end line.
    for (let cut = 1; cut < two.length; cut++)
      expect(journalVersion(base + one + two.slice(0, cut))).toBe('bb');
    // An end line naming another version or length; a section on another base.
    expect(journalVersion(base + one + two.replace('# end cc', '# end dd'))).toBe('bb');
    expect(journalVersion(base + one + two.replace(/ \d+\n$/, ' 7\n'))).toBe('bb');
    expect(journalVersion(base + two)).toBe('aa');
    expect(journalVersion(undefined)).toBeUndefined();
  });

  it('compaction is due past half the base (at least minBytes) or past maxLines', () => {
    const limits: JournalLimits = { share: 0.5, minBytes: 100, maxLines: 10 };
    expect(compactionDue({ baseBytes: 1000, bytes: 400, lines: 2 }, { bytes: 100, lines: 2 }, limits)).toBe(
      false,
    );
    expect(compactionDue({ baseBytes: 1000, bytes: 400, lines: 2 }, { bytes: 101, lines: 2 }, limits)).toBe(
      true,
    );
    expect(compactionDue({ baseBytes: 10, bytes: 0, lines: 0 }, { bytes: 100, lines: 2 }, limits)).toBe(
      false,
    );
    expect(compactionDue({ baseBytes: 10, bytes: 0, lines: 0 }, { bytes: 101, lines: 2 }, limits)).toBe(true);
    expect(compactionDue({ baseBytes: 1e6, bytes: 0, lines: 9 }, { bytes: 10, lines: 2 }, limits)).toBe(true);
    // The default: 10,000 hosts (~1.2 MB) keep ~600 KB of patches, or 10,000 lines.
    expect(compactionDue({ baseBytes: 1.2e6, bytes: 5e5, lines: 9000 }, { bytes: 200, lines: 3 })).toBe(
      false,
    );
    expect(compactionDue({ baseBytes: 1.2e6, bytes: 5e5, lines: 9999 }, { bytes: 200, lines: 3 })).toBe(true);
  });

  it('appends sections to the file, knows its text, and is rewritten whole', async () => {
    const path = join(dir, 'fast-lane.tsv');
    writeFileSync(path, base);
    const j = new StateJournal({ share: 0.5, minBytes: 150, maxLines: 100 });
    j.reset(base);
    expect(j.fits(patch2)).toBe(false); // not from the file's version
    expect(j.fits(patch1)).toBe(true);
    j.append(path, patch1);
    expect(j.version).toBe('bb');
    expect(j.fits(patch1)).toBe(false);
    expect(j.fits(patch2)).toBe(true);
    j.append(path, patch2);
    expect(readFileSync(path, 'utf8')).toBe(j.text());
    expect(j.text()).toBe(`${base}${patch1}# end bb 52\n${patch2}# end cc 42\n`);
    expect(journalVersion(j.text())).toBe('cc');
    expect(j.appended).toBe(2);
    // Past the bound (150 bytes): the next change is written whole.
    expect(j.fits('# gatehouse fast lane patch cc dd\n-b.test\n')).toBe(false);
    const whole = '# gatehouse fast lane dd\n@p\thttp\tround_robin\t127.0.0.1:1\tP\t\n';
    await j.rewrite(path, whole);
    expect(readFileSync(path, 'utf8')).toBe(whole);
    expect(j).toMatchObject({ version: 'dd', appended: 0 });
    expect(j.fits('# gatehouse fast lane patch dd ee\n-b.test\n')).toBe(true);
  });
});
