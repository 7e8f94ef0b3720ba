import { useEffect } from 'react';

/**
 * Calls `reload` every `ms` while the page is in sight (also while hidden with `whileHidden`): for
 * what no stream event announces (a node falling silent, a failure ageing out of its window).
 */
export function usePoll(reload: () => unknown, ms: number, whileHidden = false): void {
  useEffect(() => {
    const timer = setInterval(() => {
      if (whileHidden || !document.hidden) void reload();
    }, ms);
    return () => clearInterval(timer);
  }, [reload, ms, whileHidden]);
}
