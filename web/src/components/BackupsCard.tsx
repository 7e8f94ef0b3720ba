import { useState } from 'react';
import { api, messageOf } from '../api';
import { useLoad } from '../hooks/useLoad';
import { Notice } from './Notice';
import { local } from './when';

interface BackupsAnswer {
  backups: { name: string; size: number; at: string }[];
  last: { at: string; file?: string; size?: number; error?: string } | null;
}

/** The last backup run and a button that makes one now and downloads it (see docs/backup.md). */
export function BackupsCard() {
  const { data, error, setError, load } = useLoad(() => api<BackupsAnswer>('GET', '/backups'));
  const [busy, setBusy] = useState(false);
  const now = async () => {
    setBusy(true);
    try {
      const { name } = await api<{ name: string }>('POST', '/backups');
      // A plain navigation: the session cookie authorizes the download.
      window.location.assign(`/api/v1/backups/${encodeURIComponent(name)}`);
      await load();
    } catch (e) {
      setError(messageOf(e));
    } finally {
      setBusy(false);
    }
  };
  const last = data?.last;
  return (
    <div className="rounded-lg border border-slate-200 bg-white p-4" data-testid="backups">
      <h2 className="font-semibold">Backups</h2>
      <p className="mt-1 text-sm text-slate-600">
        {last
          ? last.error
            ? `Last run ${local(last.at)} failed: ${last.error}`
            : `Last run ${local(last.at)}: ${last.file ?? ''} (${last.size ?? 0} bytes)`
          : 'No backup made by this Gatehouse since it started.'}
      </p>
      {error ? <Notice kind="error">{error}</Notice> : null}
      <button
        type="button"
        className="mt-3 rounded bg-slate-800 px-3 py-1.5 text-sm text-white disabled:opacity-50"
        disabled={busy}
        onClick={() => void now()}
      >
        Download a backup now
      </button>
    </div>
  );
}
