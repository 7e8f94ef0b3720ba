import { Component, lazy, Suspense, useCallback, useEffect, useState, type ReactNode } from 'react';
import type { SignedIn } from '../../src/api/views';
import { api, setUnauthorizedHandler } from './api';
import { Alerts } from './pages/Alerts';
import { Audit } from './pages/Audit';
import { Certificates } from './pages/Certificates';
import { Dashboard } from './pages/Dashboard';
import { Dns } from './pages/Dns';
import { Links } from './pages/Links';
import { Logs } from './pages/Logs';
import { Nodes } from './pages/Nodes';
import { Providers } from './pages/Providers';
import { Services } from './pages/Services';
import { SignIn } from './pages/SignIn';
import { Sites } from './pages/Sites';
import { Snapshots } from './pages/Snapshots';
import { Users } from './pages/Users';
import { VpnClients } from './pages/VpnClients';

// The editor brings the model's schemas (zod) and YAML: loaded when first opened.
// Loaded when first opened: keeps the first page's script under Vite's 500 kB warning.
const ApiKeys = lazy(() => import('./pages/ApiKeys').then((m) => ({ default: m.ApiKeys })));
const ServiceEditor = lazy(() => import('./pages/ServiceEditor').then((m) => ({ default: m.ServiceEditor })));

/** The main menu, in its order: the hash route and the label of each page. */
const PAGES = [
  ['dashboard', 'Dashboard'],
  ['services', 'Services'],
  ['users', 'Users'],
  ['links', 'Links'],
  ['api-keys', 'API keys'],
  ['providers', 'Providers'],
  ['nodes', 'Nodes'],
  ['sites', 'Sites'],
  ['vpn', 'VPN'],
  ['certificates', 'Certificates'],
  ['dns', 'DNS'],
  ['logs', 'Logs'],
  ['alerts', 'Alerts'],
  ['snapshots', 'Snapshots'],
  ['audit', 'Audit log'],
] as const;
type Page = (typeof PAGES)[number][0];

interface Route {
  page: Page;
  /** `#/services/<name>`: the service being edited (`+new` for a new one). */
  arg?: string;
}

/** Hash routes: any path the server answers with index.html works, and reloads keep the page. */
function routeFromHash(): Route {
  const [name, ...rest] = window.location.hash.replace(/^#\//, '').split('/');
  const page = PAGES.find(([p]) => p === name)?.[0] ?? 'dashboard';
  let arg: string | undefined;
  try {
    arg = rest.length ? decodeURIComponent(rest.join('/')) : undefined;
  } catch {
    arg = undefined; // a mangled address: the page itself, not a blank screen
  }
  return arg ? { page, arg } : { page };
}

/**
 * A page that fails to render (a bug, or an editor chunk that no longer exists after an upgrade)
 * says so in its place, with the menu still there, instead of blanking the whole app.
 */
class PageBoundary extends Component<{ children: ReactNode }, { error: string }> {
  override state = { error: '' };
  static getDerivedStateFromError(e: unknown) {
    return { error: e instanceof Error ? e.message : String(e) };
  }
  override render() {
    if (!this.state.error) return this.props.children;
    return (
      <div role="alert" className="rounded border border-red-200 bg-red-50 p-4 text-sm text-red-800">
        <p className="font-medium">This page could not be shown: {this.state.error}</p>
        <button type="button" className="mt-2 underline" onClick={() => window.location.reload()}>
          Reload the app
        </button>
      </div>
    );
  }
}

function PageView({ route, me }: { route: Route; me: string }) {
  switch (route.page) {
    case 'services':
      return route.arg ? (
        <Suspense fallback={<p className="text-sm text-slate-500">Loading…</p>}>
          <ServiceEditor key={route.arg} name={route.arg} />
        </Suspense>
      ) : (
        <Services />
      );
    case 'users':
      return <Users me={me} />;
    case 'links':
      return <Links />;
    case 'api-keys':
      return (
        <Suspense fallback={<p className="text-sm text-slate-500">Loading…</p>}>
          <ApiKeys />
        </Suspense>
      );
    case 'providers':
      return <Providers />;
    case 'nodes':
      return <Nodes />;
    case 'sites':
      return <Sites />;
    case 'vpn':
      return <VpnClients />;
    case 'certificates':
      return <Certificates />;
    case 'dns':
      return <Dns />;
    case 'logs':
      return <Logs arg={route.arg} />;
    case 'alerts':
      return <Alerts />;
    case 'snapshots':
      return <Snapshots />;
    case 'audit':
      return <Audit />;
    default:
      return <Dashboard />;
  }
}

export function App() {
  const [session, setSession] = useState<SignedIn | null | undefined>(undefined);
  const [route, setRoute] = useState<Route>(routeFromHash);

  useEffect(() => {
    setUnauthorizedHandler(() => setSession(null));
    api<SignedIn>('GET', '/session').then(setSession, () => setSession(null));
    const onHash = () => setRoute(routeFromHash());
    window.addEventListener('hashchange', onHash);
    return () => window.removeEventListener('hashchange', onHash);
  }, []);

  // On a phone the menu scrolls sideways: keep the current page's entry in sight.
  useEffect(() => {
    document
      .querySelector('nav[aria-label="Main"] [aria-current="page"]')
      ?.scrollIntoView?.({ block: 'nearest', inline: 'nearest' });
  }, [route.page, session]);

  const signOut = useCallback(async () => {
    try {
      await api('DELETE', '/session');
    } finally {
      setSession(null);
    }
  }, []);

  if (session === undefined) return <p className="p-6 text-slate-500">Loading…</p>;
  if (session === null) return <SignIn onSignedIn={setSession} />;

  const page = route.page;
  const link = (to: Page, label: string) => (
    <a
      key={to}
      href={to === 'dashboard' ? '#/' : `#/${to}`}
      aria-current={page === to ? 'page' : undefined}
      className={
        'shrink-0 whitespace-nowrap rounded px-1.5 py-2 text-sm font-medium md:px-1 focus:outline-none focus-visible:ring-2 focus-visible:ring-sky-500 ' +
        (page === to ? 'bg-slate-900 text-white' : 'text-slate-700 hover:bg-slate-200')
      }
    >
      {label}
    </a>
  );

  return (
    <div className="min-h-screen">
      <header className="border-b border-slate-200 bg-white">
        <div className="mx-auto flex max-w-6xl flex-wrap items-center gap-2 px-4 py-3">
          <span className="mr-2 font-semibold">Gatehouse</span>
          <nav
            aria-label="Main"
            className="order-last -mx-1 flex w-full flex-wrap gap-0.5 px-1 pb-1 md:order-none md:mx-0 md:w-auto md:px-0 md:pb-0"
          >
            {PAGES.map(([to, label]) => link(to, label))}
          </nav>
          {/*
            From a tablet's width up the name is in Sign out's title: the menu needs the room (the
            header is no wider past 1152 px), and its items sit closer there to keep it on one line.
          */}
          <div className="ml-auto flex items-center gap-2">
            <span className="text-sm text-slate-500 md:hidden">{session.username}</span>
            <button
              type="button"
              onClick={() => void signOut()}
              title={`Signed in as ${session.username}`}
              className="rounded border border-slate-300 px-3 py-1.5 text-sm hover:bg-slate-100 focus:outline-none focus-visible:ring-2 focus-visible:ring-sky-500"
            >
              Sign out
            </button>
          </div>
        </div>
      </header>
      <main className="mx-auto max-w-6xl px-4 py-6">
        <PageBoundary key={`${route.page}/${route.arg ?? ''}`}>
          <PageView route={route} me={session.username} />
        </PageBoundary>
      </main>
    </div>
  );
}
