import { useCallback, useEffect, useRef, useState } from 'react';
import { messageOf } from '../api';

/**
 * A page's re-read, made safe to call from events, timers and clicks at once: reads never overlap
 * (so an older answer cannot land after a newer one), and a call made while one runs is not
 * dropped: one more read follows it (a burst of calls costs one).
 */
function useSerialRead(read: () => Promise<void>): () => Promise<void> {
  const latest = useRef(read);
  latest.current = read;
  const running = useRef<Promise<void> | null>(null);
  const again = useRef(false);
  return useCallback(() => {
    if (running.current) {
      again.current = true;
      return running.current;
    }
    const run = (async () => {
      do {
        again.current = false;
        await latest.current().catch(() => undefined);
      } while (again.current);
    })();
    running.current = run.finally(() => {
      running.current = null;
    });
    return running.current;
  }, []);
}

/**
 * A page's data: read when the page opens (and again when `rereadOn` changes), and on `load()`
 * after a change, a Refresh, a stream event or a timer. `data` is null until the first answer; a
 * failed read keeps the last data and says why in `error`, which the page's own actions set too.
 * A page that keeps its data in its own state has `read` set it and return nothing.
 */
export function useLoad<T>(read: () => Promise<T>, rereadOn?: unknown) {
  const [data, setData] = useState<T | null>(null);
  const [error, setError] = useState('');
  const load = useSerialRead(async () => {
    try {
      const answer = await read();
      setData(() => answer);
      setError('');
    } catch (e) {
      setError(messageOf(e));
    }
  });
  useEffect(() => void load(), [load, rereadOn]);
  return { data, error, setError, load };
}
