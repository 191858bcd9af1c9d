// Data hooks over the API client: loading, error and a reload for every page.
import { useCallback, useEffect, useRef, useState } from 'react';
import { type ApiError, toApiError } from './client';

export interface AsyncState<T> {
  data: T | undefined;
  error: ApiError | undefined;
  loading: boolean;
  reload: () => void;
}

/** Runs `load` when `deps` change (and on reload); keeps the last data while reloading. */
export function useApi<T>(load: () => Promise<T>, deps: unknown[]): AsyncState<T> {
  const [state, setState] = useState<{ data?: T; error?: ApiError; loading: boolean }>({ loading: true });
  const [tick, setTick] = useState(0);
  const current = useRef(0);
  useEffect(() => {
    const call = ++current.current;
    setState((s) => ({ ...s, loading: true }));
    load().then(
      (data) => call === current.current && setState({ data, loading: false }),
      (e: unknown) => call === current.current && setState((s) => ({ data: s.data, error: toApiError(e), loading: false }))
    );
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [...deps, tick]);
  const reload = useCallback(() => setTick((t) => t + 1), []);
  return { data: state.data, error: state.error, loading: state.loading, reload };
}
