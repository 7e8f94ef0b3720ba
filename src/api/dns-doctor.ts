import type { FastifyInstance } from 'fastify';
import { runDnsDoctor, type DnsDoctorDeps } from '../dns/doctor.js';
import type { DnsDoctorReport } from './views/dns-doctor.js';

/** DNS diagnostics under /api/v1/dns/doctor (docs/dns.md, "Diagnostics"): asks the servers now. */
export async function dnsDoctorRoutes(app: FastifyInstance, deps: DnsDoctorDeps): Promise<void> {
  app.get('/dns/doctor', async (): Promise<DnsDoctorReport> => runDnsDoctor(deps));
}
