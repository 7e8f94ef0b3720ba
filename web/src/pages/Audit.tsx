import { useCallback, useEffect, useRef, useState, type FormEvent } from 'react';
import type { AuditEntryView, AuditList } from '../../../src/api/views';
import { api, messageOf } from '../api';
import { buttonClass, plainButton } from '../components/buttons';
import { Field } from '../components/Field';
import { LoadedList } from '../components/LoadedList';
import { Notice } from '../components/Notice';
import { Table } from '../components/Table';
import { local } from '../components/when';

const VERB: Record<string, string> = { POST: 'created', PUT: 'saved', PATCH: 'changed', DELETE: 'deleted' };

/** A change in words: "saved service web", "signed in", "rolled back to version 12". */
function describeChange(e: AuditEntryView): string {
  const parts = e.path
    .replace(/^\/api\/v1\//, '')
    .split('/')
    .map((p) => {
      try {
        return decodeURIComponent(p);
      } catch {
        return p;
      }
    });
  const [what = '', name, sub] = parts;
  if (what === 'session') return e.method === 'POST' ? 'signed in' : 'signed out';
  if (what === 'snapshots' && sub === 'rollback') return `rolled back to version ${name ?? ''}`;
  if (what === 'certificates' && name === 'issue') return 'requested a certificate';
  if (what === 'certificates' && sub === 'renew') return `renewed certificate ${name ?? ''}`;
  if (what === 'apply') return 'applied an edge file';
  if (what === 'links' && e.method === 'DELETE') return `revoked link ${name ?? ''}`;
  if (what === 'sessions' && e.method === 'DELETE') return `revoked session ${name ?? ''}`;
  if (what === 'users' && sub === 'totp')
    return e.method === 'POST' ? `enrolled TOTP for ${name ?? ''}` : `removed TOTP of ${name ?? ''}`;
  const noun = what.replace(/s$/, '').replace(/-/g, ' ');
  return `${VERB[e.method] ?? e.method} ${noun}${name ? ` ${name}` : ''}${sub ? ` (${sub})` : ''}`;
}

const PAGE = 50;

/**
 * Who changed what through the API (the web UI, the CLI, scripts with the token), and who was
 * refused; newest first, filtered by user, paged. Service changes' contents are in Snapshots.
 */
export function Audit() {
  const [entries, setEntries] = useState<AuditEntryView[] | null>(null);
  const [actor, setActor] = useState('');
  const [shown, setShown] = useState('');
  const [more, setMore] = useState(false);
  const [error, setError] = useState('');

  // Only the latest read is shown (a filter typed while a page of older entries loads wins).
  const latest = useRef(0);
  const [busy, setBusy] = useState(false);
  const load = useCallback(async (who: string, before?: number) => {
    const mine = ++latest.current;
    setBusy(true);
    try {
      const q = new URLSearchParams({ limit: String(PAGE) });
      if (who) q.set('actor', who);
      if (before) q.set('before', String(before));
      const r = await api<AuditList>('GET', `/audit?${q}`);
      if (mine !== latest.current) return;
      setEntries((cur) => (before ? [...(cur ?? []), ...r.entries] : r.entries));
      setMore(r.entries.length === PAGE);
      setShown(who);
      setError('');
    } catch (e) {
      if (mine === latest.current) setError(messageOf(e));
    } finally {
      if (mine === latest.current) setBusy(false);
    }
  }, []);
  useEffect(() => void load(''), [load]);

  function filter(e: FormEvent) {
    e.preventDefault();
    void load(actor.trim());
  }

  return (
    <section aria-labelledby="audit-title" className="flex flex-col gap-4">
      <h1 id="audit-title" className="text-xl font-semibold">
        Audit log
      </h1>
      <p className="text-sm text-slate-600">
        Every change made through the API — from this UI, the command line or a script with the admin token —
        and every refused attempt. What a change did to services is in{' '}
        <a href="#/snapshots" className="text-sky-700 underline">
          Snapshots
        </a>
        .
      </p>
      <form onSubmit={filter} className="w-full max-w-md">
        {/* The buttons beside the input, as tall as it, whatever the width. */}
        <Field
          label="User"
          name="actor"
          placeholder="e.g. admin"
          value={actor}
          onChange={(e) => setActor(e.target.value)}
          after={
            <>
              <button type="submit" className={buttonClass}>
                Show
              </button>
              <button type="button" className={plainButton} onClick={() => void load(shown)}>
                Refresh
              </button>
            </>
          }
        />
      </form>
      {error ? <Notice kind="error">{error}</Notice> : null}
      <LoadedList items={entries} empty={shown ? `Nothing by ${shown}.` : 'Nothing yet.'}>
        {(entries) => (
          <Table testId="audit" columns={['When', 'Who', 'Change', 'Result', 'How', 'From']}>
            {entries.map((e) => (
              <tr key={e.id} className="border-t border-slate-100">
                <td className="whitespace-nowrap px-3 py-1.5">{local(e.at)}</td>
                <td className="px-3 py-1.5 font-medium">{e.actor}</td>
                <td className="px-3 py-1.5" title={`${e.method} ${e.path}`}>
                  {describeChange(e)}
                </td>
                <td className={'px-3 py-1.5 ' + (e.status >= 400 ? 'text-red-700' : 'text-slate-600')}>
                  {e.status >= 400 ? `refused (${e.status})` : 'done'}
                </td>
                <td className="px-3 py-1.5 text-slate-600">{e.via}</td>
                <td className="px-3 py-1.5 font-mono text-slate-600">{e.ip}</td>
              </tr>
            ))}
          </Table>
        )}
      </LoadedList>
      {more && entries?.length ? (
        <div>
          <button
            type="button"
            className={plainButton}
            disabled={busy}
            onClick={() => void load(shown, entries[entries.length - 1]?.id)}
          >
            Older entries
          </button>
        </div>
      ) : null}
    </section>
  );
}
