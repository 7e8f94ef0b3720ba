import { z } from 'zod';

/** GET/POST /backups (src/api/backups.ts, src/store/backup-schedule.ts). */

/** A backup file in the backup directory. */
export const backupFileView = z.strictObject({ name: z.string(), size: z.number(), at: z.string() });

/** The last backup this process tried: the file it wrote, or why it could not. */
export const backupRunView = z.strictObject({
  at: z.string(),
  file: z.string().optional(),
  size: z.number().optional(),
  error: z.string().optional(),
});

export const backupListView = z.strictObject({
  backups: z.array(backupFileView),
  last: backupRunView.nullable(),
});

export const backupCreatedView = z.strictObject({ name: z.string() });
