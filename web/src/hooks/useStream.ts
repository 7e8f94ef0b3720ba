import { useEffect, useRef, useState } from 'react';

/** The API's event stream's events, each with its JSON text. */
export type StreamHandlers = Partial<
  Record<'edge' | 'version' | 'node' | 'security', (data: string) => void>
>;

/**
 * The API's event stream while the page is shown, each event to its handler (the latest ones the
 * page rendered with). Returns whether it is connected now: EventSource reconnects by itself after
 * a drop.
 */
export function useStream(on: StreamHandlers): boolean {
  const [live, setLive] = useState(false);
  const handlers = useRef(on);
  handlers.current = on;
  useEffect(() => {
    const es = new EventSource('/api/v1/stream', { withCredentials: true });
    es.addEventListener('open', () => setLive(true));
    es.addEventListener('error', () => setLive(false));
    for (const name of Object.keys(handlers.current) as (keyof StreamHandlers)[])
      es.addEventListener(name, (m) => handlers.current[name]?.((m as MessageEvent<string>).data));
    return () => es.close();
  }, []);
  return live;
}
