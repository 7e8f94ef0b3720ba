import { useCallback, useRef } from 'react';

/**
 * A page's re-read, made safe to call from events, timers and clicks at once: reads never overlap
 * (so an older answer cannot land after a newer one), and a call made while one runs is not
 * dropped: one more read follows it (a burst of calls costs one).
 */
export function useSerialRead(read: () => Promise<void>): () => Promise<void> {
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
