import { mkdir, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';

export interface Goal {
  op: '>=' | '<=';
  value: number;
}

/** One line of the table: a single figure, its goal (if it has one) and how it was obtained. */
export interface Row {
  id: string;
  measure: string;
  value: number;
  unit: string;
  goal?: Goal;
  /** The raw figures behind `value`, for a reader who doubts it. */
  detail: string;
}

export interface CaseResult {
  rows: Row[];
  /** Anything odd seen while measuring (errors during load, a slow apply, …). */
  notes: string[];
  /** Everything measured, for the JSON file. */
  data: Record<string, unknown>;
}

export function passes(row: Row): boolean | undefined {
  if (!row.goal) return undefined;
  return row.goal.op === '>=' ? row.value >= row.goal.value : row.value <= row.goal.value;
}

function verdict(row: Row): string {
  const p = passes(row);
  return p === undefined ? '' : p ? 'ok' : 'MISS';
}

function goalText(row: Row): string {
  return row.goal ? `${row.goal.op} ${row.goal.value}${row.unit === 'ratio' ? '' : ` ${row.unit}`}` : '';
}

function valueText(row: Row): string {
  return row.unit === 'ratio' ? row.value.toFixed(3) : `${row.value} ${row.unit}`;
}

/** A plain-text table, one row per figure, columns padded to the widest cell. */
export function formatTable(rows: readonly Row[]): string {
  const header = ['id', 'measure', 'value', 'goal', 'ok', 'detail'];
  const cells = rows.map((r) => [r.id, r.measure, valueText(r), goalText(r), verdict(r), r.detail]);
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => (c[i] as string).length)));
  const line = (c: string[]) =>
    c
      .map((x, i) => x.padEnd(widths[i] as number))
      .join('  ')
      .trimEnd();
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...cells.map(line)].join('\n');
}

export async function writeJson(path: string, value: unknown): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, JSON.stringify(value, null, 2) + '\n');
}
