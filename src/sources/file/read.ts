import { readFile } from 'node:fs/promises';
import { GatehouseError } from '../../model/errors.js';

/**
 * A text file a person named (an edge file, a service definition, a PEM), or an error that says
 * what is wrong in words ("no such file: PATH") rather than the system's code (ENOENT).
 */
export async function readTextFile(path: string, field = 'file'): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why =
      code === 'ENOENT'
        ? `no such file: ${path}`
        : code === 'EISDIR'
          ? `a directory, not a file: ${path}`
          : code === 'EACCES' || code === 'EPERM'
            ? `permission denied: ${path}`
            : `cannot read ${path}: ${(err as Error).message}`;
    throw new GatehouseError(code === 'ENOENT' ? 'no_such_file' : 'unreadable_file', why, 400, [
      { field, message: why },
    ]);
  }
}
