/**
 * Defaults the UI fills in for the API's own defaults (the UI bundle does not carry the zod
 * schemas); test/unit/ui-summary.test.ts checks each against its schema so that they cannot drift.
 */

/** A temporary link's lifetime: linkCreateSchema's `ttl` default, also the CLI's. */
export const LINK_TTL_DEFAULT = '24h';
