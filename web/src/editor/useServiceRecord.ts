import { useCallback, useEffect, useState } from 'react';
import type { ProviderList } from '../../../src/api/views';
import { api, messageOf } from '../api';
import type { JsonObject } from './draft';
import { servicePath, type LoadedService } from './record';

/**
 * The service as stored (null while loading, and for a new one) and the OIDC provider names the
 * access editor offers, read when the editor opens and on `load()`. The record's service goes to
 * `onService` (the draft); a failed read is said on the editor's error line (`setError`), which
 * the read clears when it starts.
 */
export function useServiceRecord(
  routeName: string,
  isNew: boolean,
  onService: (service: JsonObject) => void,
  setError: (error: string) => void,
) {
  const [loaded, setLoaded] = useState<LoadedService | null>(null);
  const [providers, setProviders] = useState<string[]>([]);
  const load = useCallback(async () => {
    setError('');
    try {
      const p = await api<ProviderList>('GET', '/providers').catch(() => ({
        providers: [],
      }));
      setProviders(p.providers.map((x) => x.name));
      if (isNew) return;
      const r = await api<LoadedService>('GET', servicePath(routeName));
      setLoaded(r);
      onService(r.service);
    } catch (e) {
      setError(messageOf(e));
    }
  }, [isNew, routeName, onService, setError]);
  useEffect(() => void load(), [load]);
  return { loaded, setLoaded, providers, load };
}
