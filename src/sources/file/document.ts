import YAML from 'yaml';
import { z } from 'zod';
import { groupCreateSchema, userCreateSchema } from '../../model/identity.js';
import { fromZod, GatehouseError } from '../../model/errors.js';
import { serviceSchema } from '../../model/service.js';
import { slugSchema } from '../../model/values.js';
import { templateSchema } from '../../model/settings.js';

/** A user in a file: no secrets (passwords are set with `gatehouse user passwd` or come from OIDC). */
const fileUserSchema = userCreateSchema.omit({ password: true }).extend({
  disabled: z.boolean().default(false),
});

/**
 * The declarative edge file (`gatehouse apply -f edge.yaml`, or the watched `GATEHOUSE_FILE`): the
 * services (the API's own schema), users and groups without secrets, registration templates.
 */
export const edgeFileSchema = z
  .strictObject({
    services: z.array(serviceSchema).max(10_000).default([]),
    groups: z.array(groupCreateSchema).max(1000).default([]),
    users: z.array(fileUserSchema).max(10_000).default([]),
    templates: z.record(slugSchema, templateSchema).default({}),
  })
  .superRefine((doc, ctx) => {
    const dupes = (items: string[], path: string, what: string) => {
      const seen = new Set<string>();
      items.forEach((n, i) => {
        if (seen.has(n))
          ctx.addIssue({
            code: 'custom',
            path: [path, i, path === 'users' ? 'username' : 'name'],
            message: `${what} ${n} is listed twice`,
          });
        seen.add(n);
      });
    };
    dupes(
      doc.services.map((s) => s.name),
      'services',
      'service',
    );
    dupes(
      doc.groups.map((g) => g.name),
      'groups',
      'group',
    );
    dupes(
      doc.users.map((u) => u.username),
      'users',
      'user',
    );
  });

export type EdgeFile = z.output<typeof edgeFileSchema>;
export type FileUser = z.output<typeof fileUserSchema>;

/** An edge file's owner name (the file's name): what its records are owned by. */
export const fileOwnerSchema = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/, 'a file name: letters, digits, ".", "_", "-"');

/** Parses YAML (or JSON) text into an EdgeFile; errors name the field (`services.2.hosts.0: …`). */
export function parseEdgeFile(text: string, prefix = ''): EdgeFile {
  let raw: unknown;
  try {
    raw = YAML.parse(text, { maxAliasCount: 100 }) as unknown;
  } catch (err) {
    const field = prefix || '(root)';
    const message = `not YAML: ${err instanceof Error ? err.message : String(err)}`;
    throw new GatehouseError('invalid', `${prefix ? `${prefix}: ` : ''}${message}`, 400, [
      { field, message },
    ]);
  }
  // An empty file (or one caught half-written) would remove everything the file manages: that
  // takes saying so (`services: []`).
  if (raw === null || raw === undefined) {
    const message = 'the file is empty; to remove everything it manages, write `services: []`';
    throw new GatehouseError('invalid', `${prefix ? `${prefix}: ` : ''}${message}`, 400, [
      { field: prefix || '(root)', message },
    ]);
  }
  const r = edgeFileSchema.safeParse(raw);
  if (!r.success) throw fromZod(r.error, prefix);
  return r.data;
}
