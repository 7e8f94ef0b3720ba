import { z } from 'zod';

const pem = (what: string) =>
  z
    .string()
    .max(64 * 1024)
    .regex(new RegExp(`-----BEGIN [A-Z ]*${what}-----`), `a PEM ${what.toLowerCase()}`);

/** Bring your own certificate: PEM certificate (with its chain after it) and its private key. */
export const certUploadSchema = z.strictObject({
  cert: pem('CERTIFICATE'),
  key: pem('PRIVATE KEY'),
});
