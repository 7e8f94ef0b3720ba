import { readFile } from 'node:fs/promises';
import { GatehouseError, unreadableFile } from '../../model/errors.js';

/**
 * A text file a person named (an edge file, a service definition, a PEM), or an error that says
 * what is wrong in words ("no such file: PATH") rather than the system's code (ENOENT).
 */
export async function readTextFile(path: string, field = 'file'): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    const { code, why } = unreadableFile(path, err);
    throw new GatehouseError(code, why, 400, [{ field, message: why }]);
  }
}
