import { useCallback, useEffect, useState } from 'react';
import { api, setUnauthorizedHandler, type Session } from './api';
import { Dashboard } from './pages/Dashboard';
import { Links } from './pages/Links';
import { Services } from './pages/Services';
import { SignIn } from './pages/SignIn';
import { Snapshots } from './pages/Snapshots';

const PAGES = ['dashboard', 'services', 'snapshots', 'links'] as const;
type Page = (typeof PAGES)[number];

/** Hash routes: any path the server answers with index.html works, and reloads keep the page. */
function pageFromHash(): Page {
  const name = window.location.hash.replace(/^#\//, '');
  return PAGES.find((p) => p === name) ?? 'dashboard';
}

export function App() {
  const [session, setSession] = useState<Session | null | undefined>(undefined);
  const [page, setPage] = useState<Page>(pageFromHash);

  useEffect(() => {
    setUnauthorizedHandler(() => setSession(null));
    api<Session>('GET', '/session').then(setSession, () => setSession(null));
    const onHash = () => setPage(pageFromHash());
    window.addEventListener('hashchange', onHash);
    return () => window.removeEventListener('hashchange', onHash);
  }, []);

  const signOut = useCallback(async () => {
    try {
      await api('DELETE', '/session');
    } finally {
      setSession(null);
    }
  }, []);

  if (session === undefined) return <p className="p-6 text-slate-500">Loading…</p>;
  if (session === null) return <SignIn onSignedIn={setSession} />;

  const link = (to: Page, label: string) => (
    <a
      href={to === 'dashboard' ? '#/' : `#/${to}`}
      aria-current={page === to ? 'page' : undefined}
      className={
        'rounded px-3 py-2 text-sm font-medium focus:outline-none focus-visible:ring-2 focus-visible:ring-sky-500 ' +
        (page === to ? 'bg-slate-900 text-white' : 'text-slate-700 hover:bg-slate-200')
      }
    >
      {label}
    </a>
  );

  return (
    <div className="min-h-screen">
      <header className="border-b border-slate-200 bg-white">
        <div className="mx-auto flex max-w-5xl flex-wrap items-center gap-2 px-4 py-3">
          <span className="mr-4 font-semibold">Gatehouse</span>
          <nav aria-label="Main" className="flex flex-wrap gap-1">
            {link('dashboard', 'Dashboard')}
            {link('services', 'Services')}
            {link('snapshots', 'Snapshots')}
            {link('links', 'Links')}
          </nav>
          <span className="ml-auto text-sm text-slate-500">{session.username}</span>
          <button
            type="button"
            onClick={() => void signOut()}
            className="rounded border border-slate-300 px-3 py-1.5 text-sm hover:bg-slate-100 focus:outline-none focus-visible:ring-2 focus-visible:ring-sky-500"
          >
            Sign out
          </button>
        </div>
      </header>
      <main className="mx-auto max-w-5xl px-4 py-6">
        {page === 'services' ? (
          <Services />
        ) : page === 'snapshots' ? (
          <Snapshots />
        ) : page === 'links' ? (
          <Links />
        ) : (
          <Dashboard />
        )}
      </main>
    </div>
  );
}
