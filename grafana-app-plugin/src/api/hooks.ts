// Data hooks over the API client: loading, error and a reload for every page.
import { useCallback, useEffect, useState } from 'react';
import { type ApiError, toApiError } from './client';

export interface AsyncState<T> {
  data: T | undefined;
  error: ApiError | undefined;
  loading: boolean;
  reload: () => void;
}

/**
 * Runs `load` when `deps` change (and on reload); keeps the last data while reloading.
 * Loading is derived — the settled result belongs to an older request — so the effect never
 * sets state synchronously. `deps` must be JSON-serialisable (ids, filters).
 */
export function useApi<T>(load: () => Promise<T>, deps: unknown[]): AsyncState<T> {
  const [tick, setTick] = useState(0);
  const key = `${JSON.stringify(deps)}#${tick}`;
  const [settled, setSettled] = useState<{ key: string; data?: T; error?: ApiError }>({ key: '' });
  useEffect(() => {
    let current = true;
    load().then(
      (data) => current && setSettled({ key, data }),
      (e: unknown) => current && setSettled((s) => ({ key, data: s.data, error: toApiError(e) }))
    );
    return () => {
      current = false;
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [key]);
  const reload = useCallback(() => setTick((t) => t + 1), []);
  return { data: settled.data, error: settled.key === key ? settled.error : undefined, loading: settled.key !== key, reload };
}
