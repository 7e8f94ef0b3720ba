import { http, type ReqOptions, type Res } from './net.js';

interface StoredCookie {
  name: string;
  value: string;
  /** Host-only cookies match this host exactly; domain cookies it and its subdomains. */
  domain: string;
  hostOnly: boolean;
}

/**
 * A minimal browser for tests: every host resolves to our nginx on loopback, cookies are kept with
 * their Domain scope as a browser would, and redirects are followed one step at a time.
 */
export class Browser {
  private jar: StoredCookie[] = [];
  private lastHost = '';

  constructor(private readonly port: number) {}

  /** The value of the session cookie most recently stored. */
  get cookie(): string | undefined {
    return [...this.jar].reverse().find((c) => c.name === 'gh_session')?.value;
  }

  async get(host: string, path = '/', opts: ReqOptions = {}): Promise<Res> {
    return this.request(host, path, { ...opts, headers: { accept: 'text/html', ...opts.headers } });
  }

  async post(
    host: string,
    path: string,
    form: Record<string, string>,
    headers: Record<string, string> = {},
  ): Promise<Res> {
    return this.request(host, path, {
      method: 'POST',
      body: new URLSearchParams(form).toString(),
      headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'text/html', ...headers },
    });
  }

  /** Follows the response's Location (relative to the host it came from). */
  async follow(res: Res): Promise<Res> {
    const loc = res.headers.location;
    if (!loc) throw new Error(`no Location to follow (status ${res.status})`);
    const url = new URL(loc, `http://${this.lastHost}`);
    return this.get(url.hostname, url.pathname + url.search);
  }

  /** Signs in at the portal directly. */
  async login(username: string, password: string, portal = 'auth.home.test'): Promise<Res> {
    const r = await this.post(portal, '/login', { username, password, rd: '' });
    if (r.status !== 200) throw new Error(`login as ${username} failed: ${r.status}`);
    return r;
  }

  private async request(host: string, path: string, opts: ReqOptions): Promise<Res> {
    const cookies = this.jar
      .filter((c) => (c.hostOnly ? c.domain === host : host === c.domain || host.endsWith(`.${c.domain}`)))
      .map((c) => `${c.name}=${c.value}`);
    const headers = { ...opts.headers, ...(cookies.length ? { cookie: cookies.join('; ') } : {}) };
    const res = await http(this.port, host, path, { ...opts, headers });
    this.lastHost = host;
    this.store(host, res);
    return res;
  }

  private store(host: string, res: Res): void {
    const raw = res.headers['set-cookie'] ?? [];
    for (const line of raw) {
      const [pair, ...attrs] = line.split(';').map((s) => s.trim());
      const eq = (pair ?? '').indexOf('=');
      const name = (pair ?? '').slice(0, eq);
      const value = (pair ?? '').slice(eq + 1);
      const domainAttr = attrs.find((a) => a.toLowerCase().startsWith('domain='));
      const domain = domainAttr ? domainAttr.slice(7).toLowerCase() : host;
      // A browser refuses a Domain the response's host is not within.
      if (domainAttr && host !== domain && !host.endsWith(`.${domain}`)) continue;
      const maxAge = attrs.find((a) => a.toLowerCase().startsWith('max-age='));
      this.jar = this.jar.filter((c) => !(c.name === name && c.domain === domain));
      if (value === '' || maxAge === 'Max-Age=0') continue;
      this.jar.push({ name, value, domain, hostOnly: !domainAttr });
    }
  }
}
