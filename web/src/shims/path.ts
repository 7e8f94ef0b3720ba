/**
 * `node:path`'s two POSIX checks the model's schemas use (an exec hook's script is an absolute,
 * normalized path), for the browser. The API stays the judge: this only catches mistakes early.
 */
export function isAbsolute(p: string): boolean {
  return p.startsWith('/');
}

/** POSIX normalize: `.` dropped, `..` resolved, repeated and (except for "/") trailing slashes removed. */
export function normalize(p: string): string {
  if (p === '') return '.';
  const absolute = p.startsWith('/');
  const trailing = p.endsWith('/');
  const out: string[] = [];
  for (const part of p.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') {
      if (out.length && out[out.length - 1] !== '..') out.pop();
      else if (!absolute) out.push('..');
    } else out.push(part);
  }
  let s = out.join('/');
  if (!s && !absolute) s = '.';
  if (s && s !== '.' && trailing) s += '/';
  return absolute ? `/${s}` : s;
}
