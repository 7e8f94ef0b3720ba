import { serviceSchema, type Service } from '../../model/service.js';
import { cidrSchema } from '../../model/values.js';
import { chunks, complement } from './cidr.js';

/** Something wrong or left out in one container's labels, named by the label that caused it. */
export interface Problem {
  label: string;
  message: string;
}

export interface DraftHeaders {
  set?: Record<string, string>;
  delete?: string[];
}

export interface DraftRoute {
  path: string;
  upstreams: string[];
  strip_prefix?: boolean;
  health?: { path: string; interval?: string; timeout?: string };
  headers?: { request?: DraftHeaders; response?: DraftHeaders };
}

export interface DraftAccess {
  public?: boolean;
  login?: { groups: string[] };
  ip?: string[];
  links?: boolean;
  basic?: { user: string; password_hash: string }[];
  forward_auth?: { url: string; copy_headers: string[] };
  rules?: { action: 'deny'; cidr: string[] }[];
  rate_limit?: { requests: number; per: string };
}

/**
 * One service being built from labels. Values are copied from labels unchecked: the service schema
 * is the only judge, and `origins` maps each field it may complain about back to the label it came
 * from. `fatal` problems keep the service unpublished (fail closed); `notes` are reported beside it.
 */
export class Draft {
  readonly service: {
    name: string;
    hosts: string[];
    routes: DraftRoute[];
    access?: DraftAccess;
    expose?: string;
    labels: Record<string, string>;
  };
  private readonly origins = new Map<string, string>();
  readonly fatal: Problem[] = [];
  readonly notes: Problem[] = [];

  /** `anchor`: the label blamed when nothing more precise is known (a router's rule, say). */
  constructor(
    name: string,
    readonly anchor: string,
    container: string,
  ) {
    this.service = { name, hosts: [], routes: [], labels: { 'gatehouse/container': container } };
    this.origin(['name'], anchor);
  }

  /** Records that the field at `path` (and everything below it) came from `label`. */
  origin(path: (string | number)[], label: string): void {
    this.origins.set(path.join('.'), label);
  }

  fail(label: string, message: string): void {
    this.fatal.push({ label, message });
  }

  note(label: string, message: string): void {
    this.notes.push({ label, message });
  }

  /** The label behind the deepest recorded field on `path`. */
  labelFor(path: readonly PropertyKey[]): string {
    for (let n = path.length; n > 0; n--) {
      const hit = this.origins.get(path.slice(0, n).map(String).join('.'));
      if (hit) return hit;
    }
    return this.anchor;
  }

  /**
   * Only requests from `cidrs` may pass, whatever else admits them: a deny rule for every other
   * address (rules are checked before anything else). Invalid entries fail the draft: skipping one
   * would widen the rule.
   */
  onlyFrom(cidrs: string[], label: string): void {
    const bad = cidrs.filter((c) => !cidrSchema.safeParse(c).success);
    if (bad.length > 0 || cidrs.length === 0) {
      this.fail(
        label,
        bad.length ? `not an IP address or CIDR block: ${bad.join(', ')}` : 'no address ranges',
      );
      return;
    }
    const access = (this.service.access ??= {});
    const rules = (access.rules ??= []);
    for (const part of chunks(complement(cidrs), 64)) {
      this.origin(['access', 'rules', rules.length], label);
      rules.push({ action: 'deny', cidr: part });
    }
  }
}

function valueAt(root: unknown, path: readonly PropertyKey[]): unknown {
  let cur: unknown = root;
  for (const key of path) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<PropertyKey, unknown>)[key];
  }
  return cur;
}

export interface Finished {
  service?: Service;
  problems: Problem[];
}

/**
 * Validates a draft with the service schema; problems name the labels at fault. A draft that already
 * failed is still checked, so every bad label is reported at once (but a label is blamed only once:
 * what failed it may also leave a field empty that the schema then complains about).
 */
export function finish(d: Draft): Finished {
  const parsed = serviceSchema.safeParse(d.service);
  const blamed = new Set(d.fatal.map((p) => p.label));
  const issues = parsed.success
    ? []
    : parsed.error.issues
        .map((issue) => {
          const value = valueAt(d.service, issue.path);
          const shown =
            typeof value === 'string' || typeof value === 'number' ? `${JSON.stringify(value)}: ` : '';
          return { label: d.labelFor(issue.path), message: `${shown}${issue.message}` };
        })
        .filter((p) => !blamed.has(p.label));
  if (parsed.success && d.fatal.length === 0) return { service: parsed.data, problems: d.notes };
  const unpublished = { label: d.anchor, message: `service ${d.service.name} not published` };
  return { problems: [...d.fatal, ...issues, ...d.notes, unpublished] };
}

/** A service-name part from any text: lowercase letters, digits and "-", at most `max` long. */
export function slug(text: string, max = 63): string {
  const s = text
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+/, '')
    .slice(0, max)
    .replace(/-+$/, '');
  return s || 'container';
}

/** `<container>` or `<container>-<part>`, always a valid slug (at most 63 characters). */
export function serviceName(container: string, part?: string): string {
  if (part === undefined) return slug(container);
  const p = slug(part, 30);
  return `${slug(container, 62 - p.length)}-${p}`;
}

/** "a, b ,c" → ["a", "b", "c"]. */
export function list(value: string): string[] {
  return value
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
}

export function parseBool(value: string): boolean | undefined {
  const v = value.trim().toLowerCase();
  return v === 'true' ? true : v === 'false' ? false : undefined;
}

export function parsePort(value: string): number | undefined {
  const n = Number(value.trim());
  return /^[0-9]{1,5}$/.test(value.trim()) && n >= 1 && n <= 65535 ? n : undefined;
}
