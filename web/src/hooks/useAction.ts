import { useState } from 'react';
import { messageOf } from '../api';

/**
 * A page's one-at-a-time action (delete, revoke, roll back): `busy` while it runs, the line saying
 * what it did (`done`, cleared when the next one starts), and a failure worded by `wording` into the
 * page's error line (`setError`, shared with its list's reads). An action that starts from a clean
 * error line clears it itself.
 */
export function useAction(setError: (error: string) => void, wording: (e: unknown) => string = messageOf) {
  const [busy, setBusy] = useState(false);
  const [done, setDone] = useState('');
  async function run(action: () => Promise<void>) {
    setBusy(true);
    setDone('');
    try {
      await action();
    } catch (e) {
      setError(wording(e));
    } finally {
      setBusy(false);
    }
  }
  return { busy, done, setDone, run };
}
