import { WAF_SIGNATURE } from '../drivers/nginx/waf.js';
import { FileTail } from './file-tail.js';
import type { Gate } from './gate.js';

/** Stored WAF events per minute; beyond that they are only counted (a scan must not fill the disk). */
const STORE_PER_MINUTE = 60;
/** The CRS's scoring rules: they say that others matched, not which. */
const SCORING = new Set(['949110', '959100', '980130', '980140']);

interface AuditRecord {
  transaction?: {
    client_ip?: string;
    request?: { method?: string; uri?: string };
    response?: { http_code?: number };
    producer?: { secrules_engine?: string; components?: string[] };
    messages?: { message?: string; details?: { ruleId?: string } }[];
  };
}

/**
 * Follows ModSecurity's audit log (logs/waf-audit.log, JSON lines; src/drivers/nginx/waf.ts) into
 * security events: `waf_blocked` (a request refused with 403) or `waf_detected` (a detect-only
 * service let it pass), naming the service, the path (never the query: it may hold tokens), the
 * rules that matched and the first one's message.
 */
export class WafAuditLog extends FileTail {
  private minute = 0;
  private stored = 0;

  constructor(
    file: string,
    private readonly gate: Gate,
  ) {
    super(file, (line) => this.take(line));
  }

  private async take(line: string): Promise<void> {
    let rec: AuditRecord;
    try {
      rec = JSON.parse(line) as AuditRecord;
    } catch {
      return;
    }
    const t = rec.transaction;
    if (!t) return;
    const service = (t.producer?.components ?? [])
      .find((c) => c.startsWith(WAF_SIGNATURE))
      ?.slice(WAF_SIGNATURE.length)
      .replace(/"$/, '');
    const matched = (t.messages ?? []).filter((m) => m.details?.ruleId && !SCORING.has(m.details.ruleId));
    if (!service || matched.length === 0) return;
    const blocked = t.response?.http_code === 403 && t.producer?.secrules_engine === 'Enabled';
    const kind = blocked ? 'waf_blocked' : 'waf_detected';
    const minute = Math.floor(Date.now() / 60_000);
    if (minute !== this.minute) {
      this.minute = minute;
      this.stored = 0;
    }
    if (this.stored++ >= STORE_PER_MINUTE) {
      this.gate.count(kind);
      return;
    }
    const path = (t.request?.uri ?? '').split('?')[0]?.slice(0, 200) ?? '';
    const rules = [...new Set(matched.map((m) => m.details?.ruleId))].join(',');
    const detail = `${service}${path}: rule ${rules} ${String(matched[0]?.message ?? '').slice(0, 200)}`;
    await this.gate.event(kind, t.client_ip ?? '', '', detail, { host: service, path });
  }
}
