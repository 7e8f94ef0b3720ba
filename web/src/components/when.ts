/** Short relative times for lists that refresh themselves ("12 s ago", "in 59 min"). */

const UNITS: [number, string][] = [
  [86_400_000, 'd'],
  [3_600_000, 'h'],
  [60_000, 'min'],
  [1_000, 's'],
];

function span(ms: number): string {
  const abs = Math.abs(ms);
  for (const [size, unit] of UNITS) if (abs >= size) return `${Math.floor(abs / size)} ${unit}`;
  return '0 s';
}

/** "12 s ago" for a past time, "in 3 min" for a future one. */
export function relative(iso: string, now = Date.now()): string {
  const ms = Date.parse(iso) - now;
  if (Number.isNaN(ms)) return '';
  return ms > 0 ? `in ${span(ms)}` : `${span(ms)} ago`;
}

/** The local date and time, for a title or a second line. */
export function local(iso: string): string {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toLocaleString();
}
