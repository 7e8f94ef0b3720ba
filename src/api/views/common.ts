import { z } from 'zod';

/**
 * Pieces several API answers share. Views are zod and types only (no node imports): the web UI
 * imports them too.
 */

/** How a write went live, with `?wait=true` (absent without it). */
export const appliedView = z.strictObject({ version: z.number(), generation: z.string().optional() });

/** The answer of a removal by name or id. */
export const deletedView = z.strictObject({ deleted: z.string() });
export const revokedView = z.strictObject({ revoked: z.string() });
/** A sign-out or an edge's report: nothing to say but that it went. */
export const okView = z.strictObject({ ok: z.literal(true) });

export const fieldIssueView = z.strictObject({ field: z.string(), message: z.string() });

/** Every error: `{"error":{"code","message","issues"?}}`; GET /session adds `setup_needed` on first run. */
export const errorView = z.strictObject({
  error: z.strictObject({
    code: z.string(),
    message: z.string(),
    issues: z.array(fieldIssueView).optional(),
    /** GET /session only: no admin user exists yet (the sign-in page shows how to make one). */
    setup_needed: z.boolean().optional(),
  }),
});

export type Applied = z.infer<typeof appliedView>;
export type Deleted = z.infer<typeof deletedView>;
export type Revoked = z.infer<typeof revokedView>;
export type FieldIssue = z.infer<typeof fieldIssueView>;
export type ErrorBody = z.infer<typeof errorView>;
