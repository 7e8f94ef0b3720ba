import fc from 'fast-check';

/** Random and boundary values for property-based fuzzing of inputs (fast-check). */

/** Values that sit on an edge of some schema, or that a parser outside a schema would choke on. */
export const EDGES = [
  '',
  ' ',
  'abc',
  '1m;',
  '0',
  '-1',
  '1e309',
  'NaN',
  'Infinity',
  'null',
  'true',
  '0s',
  '1ms',
  '999s',
  '9999999h',
  '1000000000h',
  '5m',
  '__proto__',
  'constructor',
  '../../etc/passwd',
  '$host',
  '${x}',
  '{}',
  ';',
  '"',
  "'",
  '\\',
  '\u0000',
  '\n',
  '%00',
  '%2e%2e',
  'é',
  '😀',
  '\u202e',
  '\ud800',
  'x'.repeat(5000),
  '256.0.0.1:80',
  '[::1]:0',
  '10.0.0.1:65536',
  '127.0.0.1:1',
  'http://[::1',
  'http://127.0.0.1:1/',
  'http://127.0.0.1:1',
  'https://127.0.0.1:99999/x',
  '::/0',
  '0.0.0.0/0',
  '1.2.3.4/33',
  'fe80::1%lo',
  '::ffff:1.2.3.4',
  '2026-01-01T00:00:00Z',
  'absent',
  '*.',
  '*.fz.test',
  'fz.test',
  'UPPER.fz.test',
  '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----',
  '-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----',
  'a@b',
  'admin',
  'staff',
  'base',
];
export const NUMBERS = [0, -1, 1, 0.5, 65535, 65536, 2 ** 31, 2 ** 53, -(2 ** 53), 1e308, -1e308];

export const leaf = fc.oneof(
  fc.constantFrom(...EDGES),
  fc.constantFrom(...NUMBERS),
  fc.string(),
  fc.string({ unit: 'binary' }),
  fc.integer(),
  // NaN and ±Infinity travel as null in JSON.
  fc.double(),
  fc.boolean(),
  fc.constant(null),
);
export const junk: fc.Arbitrary<unknown> = fc.letrec<{ v: unknown }>((tie) => ({
  v: fc.oneof(
    { depthSize: 'small' },
    leaf,
    fc.array(tie('v'), { maxLength: 4 }),
    fc.dictionary(
      fc.oneof(fc.string(), fc.constantFrom('upstream', 'login', 'name', '__proto__')),
      tie('v'),
      {
        maxKeys: 4,
      },
    ),
  ),
})).v;

export type Path = (string | number)[];

/** Every path in `v`: each object key and array index, containers and leaves alike. */
export function paths(v: unknown, at: Path = []): Path[] {
  const out: Path[] = [at];
  if (Array.isArray(v)) v.forEach((x, i) => out.push(...paths(x, [...at, i])));
  else if (v && typeof v === 'object')
    for (const [k, x] of Object.entries(v)) out.push(...paths(x, [...at, k]));
  return out;
}

export type Op = 'set' | 'delete' | 'unknown';

/** `sample` with the value at `path` replaced, removed, or given an unknown key beside it. */
export function mutate(sample: unknown, path: Path, op: Op, value: unknown): unknown {
  const copy = structuredClone(sample) as unknown;
  if (path.length === 0) return op === 'set' ? value : copy;
  let parent = copy as Record<string | number, unknown>;
  for (const p of path.slice(0, -1)) parent = parent[p] as Record<string | number, unknown>;
  const last = path[path.length - 1] as string | number;
  if (op === 'set') parent[last] = value;
  else if (op === 'delete') {
    if (Array.isArray(parent)) parent.splice(last as number, 1);
    else delete parent[last];
  } else if (!Array.isArray(parent)) parent[`${String(last)}_x`] = value;
  return copy;
}
