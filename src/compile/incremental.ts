import type { Service } from '../model/service.js';
import type { CompileInput } from './compile.js';
import { byPath, siteKeyOf } from './compile.js';
import { BUCKETS, acmeOf, bucketOf, configHash, digestOf, tcpWithCerts } from './digest.js';
import type { EdgeConfig, Pool, Site, SiteRoute, TcpListener } from './edge-config.js';
import { cmp, fragmentOf, sharedRoute, type Fragment } from './fragment.js';
import { insertSorted, removeSorted, replaceByKey, sameItems } from './sorted.js';
import { TlsState } from './tls-state.js';

/** What the compiler keeps of one service. */
interface Svc {
  svc: Service;
  frag: Fragment;
  /** The pool contents its routes use (each once). */
  keys: string[];
  /** Its routes as sites serve them (pointing at the shared pool). */
  routes: SiteRoute[];
  /** The pools it adds to the config: those it owns, then its TCP pools. */
  pools: Pool[];
}

/** Routes with the same upstreams share the pool of the first (services by name). */
interface Sharing {
  users: Set<string>;
  /** The service whose pool it is; undefined while unknown (the owner left). */
  owner: string | undefined;
  pool: Pool | undefined;
}

interface Host {
  /** Services with HTTP routes that name the host, sorted (most hosts have one). */
  services: string[];
  routes: SiteRoute[];
  key: string | undefined;
}

/** Hosts with the same routes: one site. */
interface Group {
  key: string;
  hosts: string[];
  routes: SiteRoute[];
  site: Site | undefined;
}

/**
 * compile(), incrementally: each call gives exactly what compile() gives for the same input, doing
 * work in proportion to the services that changed since the previous call (records are immutable,
 * so a changed service is a different object) after one walk over the services by identity.
 * Site, SiteRoute and Pool objects that did not change are the same objects as in the previous
 * config (the nginx driver keeps what it made of them by identity); nothing handed out before is
 * ever changed.
 */
export class Compiler {
  private svcs = new Map<string, Svc>();
  private sharing = new Map<string, Sharing>();
  private hosts = new Map<string, Host>();
  private groups = new Map<string, Group>();
  private poolOwner = new WeakMap<Pool, string>();
  private tcpBy = new Map<string, TcpListener[]>();
  private tcpBase: TcpListener[] = [];
  private tcpCerts = '';
  private tcp: { out: TcpListener[]; used: Map<string, { id: string; fingerprint: string }> } = {
    out: [],
    used: new Map(),
  };
  private buckets: Map<string, string>[] = [];
  private digests: string[] = [];
  private tls = new TlsState();
  private listeners = '';
  private prev: EdgeConfig | undefined;
  /** Set while a call builds everything from scratch. */
  private all = false;

  compile(input: CompileInput): EdgeConfig {
    try {
      return this.step(input);
    } catch (err) {
      // Part of the state may have changed: the next call starts over.
      this.reset();
      throw err;
    }
  }

  private step(input: CompileInput): EdgeConfig {
    const list = Array.isArray(input.services) ? (input.services as Service[]) : [...input.services];
    const listeners = `${input.listeners.http} ${input.listeners.https}`;
    const changed = this.prev && listeners === this.listeners ? this.changes(list) : undefined;
    // Most of the registry changed (or nothing is known yet): start over, as compile() would.
    const full = !changed || changed.size > Math.max(list.length, this.svcs.size) / 2;
    if (full) this.reset();
    // Building from scratch, everything is dirty: no sets of dirty hosts, keys and services.
    this.all = full;
    this.listeners = listeners;
    const prev = this.prev ?? { sites: [], pools: [], tls: { hosts: [] }, tcp: [] };

    const dirty = { hosts: new Set<string>(), keys: new Set<string>(), buckets: new Set<number>() };
    const derive = new Set<string>();
    const poolChanges = new Map<string, Pool[]>();
    let tcpDirty = false;
    const change = (name: string, svc: Service | undefined): void => {
      const old = this.svcs.get(name);
      if (old) tcpDirty = this.forget(old, dirty) || tcpDirty;
      if (svc) {
        tcpDirty = this.learn(svc, dirty) || tcpDirty;
        if (!full) derive.add(name);
      } else {
        this.svcs.delete(name);
        if (old && old.pools.length > 0) poolChanges.set(name, []);
      }
      if (!full) dirty.buckets.add(bucketOf(name));
    };
    if (full) for (const svc of list) change(svc.name, svc);
    else for (const [name, svc] of changed) change(name, svc);
    for (const key of full ? this.sharing.keys() : dirty.keys) this.settle(key, derive);
    for (const name of full ? this.svcs.keys() : derive) this.derive(name, dirty.hosts, poolChanges);

    const siteChanges = this.sitesFor(full ? this.hosts.keys() : dirty.hosts);
    const sites =
      siteChanges.size > 0 ? replaceByKey(prev.sites, (s) => s.hosts[0] as string, siteChanges) : prev.sites;
    const pools =
      poolChanges.size > 0
        ? replaceByKey(prev.pools, (p) => this.poolOwner.get(p) as string, poolChanges)
        : prev.pools;
    for (const b of full ? this.buckets.keys() : dirty.buckets)
      this.digests[b] = digestOf(this.buckets[b] as Map<string, string>);

    const tls = this.tls.update(
      input,
      dirty.hosts,
      (h) => this.wantsTls(h),
      () => this.hosts.keys(),
    );
    const tcpCerts = JSON.stringify(input.certs ?? []);
    if (tcpDirty || tcpCerts !== this.tcpCerts || !this.prev) {
      this.tcpCerts = tcpCerts;
      if (tcpDirty || !this.prev) this.tcpBase = this.tcpListeners();
      const used = new Map<string, { id: string; fingerprint: string }>();
      this.tcp = { out: tcpWithCerts(this.tcpBase, input.certs ?? [], used), used };
    }
    const certs = new Map(tls.certs.map((c) => [c.id, c]));
    for (const [id, c] of this.tcp.used) if (!certs.has(id)) certs.set(id, c);
    const tlsOut = { certs: [...certs.values()].sort((a, b) => cmp(a.id, b.id)), hosts: tls.hosts };
    const acme = acmeOf(input.challenges);
    const hash = configHash(
      input.listeners,
      this.digests,
      { certs: tlsOut.certs, buckets: tls.digests },
      acme,
      this.tcp.out,
      !!input.crowdsec,
    );
    const cfg: EdgeConfig = {
      schema: 1,
      listeners: input.listeners,
      sites,
      pools,
      tcp: this.tcp.out,
      tls: tlsOut,
      acme,
      hash,
      ...(input.crowdsec ? { crowdsec: true as const } : {}),
    };
    this.prev = cfg;
    return cfg;
  }

  /** Services added or replaced (by name, the new object) or gone (undefined) since the last call. */
  private changes(list: Service[]): Map<string, Service | undefined> {
    const changed = new Map<string, Service | undefined>();
    let known = 0;
    for (const svc of list) {
      const had = this.svcs.get(svc.name);
      if (had) known++;
      if (had?.svc !== svc) changed.set(svc.name, svc);
    }
    if (known < this.svcs.size) {
      const names = new Set(list.map((s) => s.name));
      for (const name of this.svcs.keys()) if (!names.has(name)) changed.set(name, undefined);
    }
    return changed;
  }

  private reset(): void {
    this.svcs = new Map();
    this.sharing = new Map();
    this.hosts = new Map();
    this.groups = new Map();
    this.tcpBy = new Map();
    this.tcpBase = [];
    this.buckets = Array.from({ length: BUCKETS }, () => new Map<string, string>());
    this.digests = this.buckets.map(digestOf);
    this.tls = new TlsState();
    this.prev = undefined;
  }

  /** Takes a service's old version out of hosts, pool sharing, TCP and its bucket. */
  private forget(old: Svc, dirty: { hosts: Set<string>; keys: Set<string> }): boolean {
    const name = old.svc.name;
    if (old.frag.routes.length > 0) {
      for (const h of old.svc.hosts) {
        const host = this.hosts.get(h);
        if (host) removeSorted(host.services, name);
        dirty.hosts.add(h);
      }
    }
    for (const k of old.keys) {
      const s = this.sharing.get(k) as Sharing;
      s.users.delete(name);
      if (s.owner === name) s.owner = undefined;
      dirty.keys.add(k);
    }
    this.buckets[bucketOf(name)]?.delete(name);
    return this.tcpBy.delete(name);
  }

  /** Adds a service's new version to hosts, pool sharing, TCP and its bucket. */
  private learn(svc: Service, dirty: { hosts: Set<string>; keys: Set<string> }): boolean {
    const frag = fragmentOf(svc);
    const keys =
      frag.routes.length === 1
        ? [frag.routes[0]?.poolKey as string]
        : [...new Set(frag.routes.map((r) => r.poolKey))];
    const prev = this.svcs.get(svc.name);
    this.svcs.set(svc.name, { svc, frag, keys, routes: prev?.routes ?? [], pools: prev?.pools ?? [] });
    if (frag.routes.length > 0) {
      for (const h of svc.hosts) {
        let host = this.hosts.get(h);
        if (!host) this.hosts.set(h, (host = { services: [svc.name], routes: [], key: undefined }));
        else insertSorted(host.services, svc.name);
        if (!this.all) dirty.hosts.add(h);
      }
    }
    for (const k of keys) {
      let s = this.sharing.get(k);
      if (!s) this.sharing.set(k, (s = { users: new Set(), owner: undefined, pool: undefined }));
      // An unknown owner stays unknown (settle finds it); a known one may be outranked.
      if (s.users.size === 0) s.owner = svc.name;
      else if (s.owner !== undefined && svc.name < s.owner) s.owner = svc.name;
      s.users.add(svc.name);
      if (!this.all) dirty.keys.add(k);
    }
    this.buckets[bucketOf(svc.name)]?.set(svc.name, frag.hashLine);
    if (frag.tcp.length === 0) return prev !== undefined && prev.frag.tcp.length > 0;
    this.tcpBy.set(
      svc.name,
      frag.tcp.map((t) => t.listener),
    );
    return true;
  }

  /** Who owns a pool content now; when its id changes, every route using it is derived again. */
  private settle(key: string, derive: Set<string>): void {
    const s = this.sharing.get(key) as Sharing;
    if (s.users.size === 0) {
      this.sharing.delete(key);
      return;
    }
    if (s.owner === undefined) s.owner = [...s.users].reduce((a, b) => (b < a ? b : a));
    const owner = (this.svcs.get(s.owner) as Svc).frag.routes.find((r) => r.poolKey === key)?.pool as Pool;
    if (s.pool?.id !== owner.id && !this.all) for (const u of s.users) derive.add(u);
    s.pool = owner;
  }

  /** A service's routes as sites serve them and the pools it adds; hosts of changed routes are dirty. */
  private derive(name: string, hosts: Set<string>, poolChanges: Map<string, Pool[]>): void {
    const st = this.svcs.get(name) as Svc;
    // Arrays of their exact size (map, filter, literals): one grown by push from empty keeps room
    // for 17 elements, ~130 bytes per service kept as long as it is.
    const fr = st.frag.routes;
    const shares = fr.map(({ poolKey }) => (this.sharing.get(poolKey) as Sharing).pool as Pool);
    const routes = fr.map(({ pool, route }, i) => {
      const shared = shares[i] as Pool;
      return shared === pool ? route : sharedRoute(route, shared.id);
    });
    const own = fr.filter(({ pool }, i) => shares[i] === pool).map(({ pool }) => pool);
    const pools = st.frag.tcp.length === 0 ? own : [...own, ...st.frag.tcp.map((t) => t.pool)];
    if (!sameItems(routes, st.routes)) {
      st.routes = routes;
      if (!this.all) for (const h of st.svc.hosts) hosts.add(h);
    }
    if (!sameItems(pools, st.pools)) {
      st.pools = pools;
      for (const p of pools) this.poolOwner.set(p, name);
      poolChanges.set(name, pools);
    }
  }

  /** Regroups dirty hosts into sites: the sites to replace, by their first host. */
  private sitesFor(dirty: Iterable<string>): Map<string, Site[]> {
    const touched = new Set<Group>();
    for (const h of dirty) {
      const host = this.hosts.get(h);
      if (!host) continue;
      let routes: SiteRoute[] = [];
      let key: string | undefined;
      if (host.services.length === 1) {
        const st = this.svcs.get(host.services[0] as string) as Svc;
        routes = st.routes.length > 1 ? st.routes.slice().sort(byPath) : st.routes;
        // One route: the key its fragment made once (a fresh string is hashed at every lookup).
        key = routes.length === 1 ? st.frag.routes[0]?.siteKey : undefined;
      } else {
        for (const n of host.services) routes.push(...(this.svcs.get(n) as Svc).routes);
        routes.sort(byPath);
      }
      key ??= routes.length > 0 ? siteKeyOf(routes) : undefined;
      if (key === host.key && sameItems(routes, host.routes)) {
        if (key === undefined) this.hosts.delete(h);
        continue;
      }
      if (host.key !== undefined) {
        const g = this.groups.get(host.key) as Group;
        removeSorted(g.hosts, h);
        touched.add(g);
      }
      host.key = key;
      host.routes = routes;
      if (key === undefined) {
        if (host.services.length === 0) this.hosts.delete(h);
        continue;
      }
      let g = this.groups.get(key);
      // A new group's hosts a literal: grown from empty it would keep room for 17.
      if (!g) this.groups.set(key, (g = { key, hosts: [h], routes, site: undefined }));
      else {
        if (!sameItems(g.routes, routes)) g.routes = routes;
        insertSorted(g.hosts, h);
      }
      touched.add(g);
    }
    const changes = new Map<string, Site[]>();
    // Every old site goes first: a host that moves can be the first host of its old and new site.
    for (const g of touched) if (g.site) changes.set(g.site.hosts[0] as string, []);
    for (const g of touched) {
      if (g.hosts.length === 0) {
        g.site = undefined;
        this.groups.delete(g.key);
        continue;
      }
      g.site = { hosts: [...g.hosts], routes: g.routes };
      changes.set(g.hosts[0] as string, [g.site]);
    }
    return changes;
  }

  /** Whether a host gets HTTPS: a service with routes and TLS names it (or it is one of ownHosts). */
  private wantsTls(h: string): boolean {
    for (const n of this.hosts.get(h)?.services ?? [])
      if ((this.svcs.get(n) as Svc).svc.tls !== 'none') return true;
    return false;
  }

  /** TCP listeners by port (services by name among equals). */
  private tcpListeners(): TcpListener[] {
    const out: TcpListener[] = [];
    for (const n of [...this.tcpBy.keys()].sort(cmp)) out.push(...(this.tcpBy.get(n) as TcpListener[]));
    return out.sort((a, b) => a.port - b.port);
  }
}
