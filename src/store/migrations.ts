import type { Migration } from 'kysely';
import { earlyMigrations } from './migrations-early.js';
import { laterMigrations } from './migrations-later.js';

/**
 * Schema migrations, applied in name order at start-up. Each is written once and never changed:
 * a later change is a new migration (in migrations-later.ts).
 */
export const migrations: Record<string, Migration> = { ...earlyMigrations, ...laterMigrations };
