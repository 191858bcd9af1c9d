// Data hooks over the API client: loading, error and a reload for every page; a job followed
// until it ends.
import { type MutableRefObject, useCallback, useEffect, useRef, useState } from 'react';
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
  return {
    data: settled.data,
    error: settled.key === key ? settled.error : undefined,
    loading: settled.key !== key,
    reload,
  };
}

/** False once the component has unmounted: for state set after an await. */
export function useMounted(): MutableRefObject<boolean> {
  const mounted = useRef(true);
  useEffect(() => {
    mounted.current = true;
    return () => {
      mounted.current = false;
    };
  }, []);
  return mounted;
}

export interface Polled<T> {
  /** The followed item as last answered; undefined before `start` and after `stop`. */
  current: T | undefined;
  /** Why the last poll failed; cleared by the next answer. */
  error: ApiError | undefined;
  /** Follows `item` (the answer that created it): shows it, then asks for it again while active. */
  start: (item: T) => void;
  /** Stops following and forgets the item. */
  stop: () => void;
}

/**
 * Follows a job the exporter runs (a scan, a traffic test, a VM creation, a CSV import): `get(id)`
 * every `pollMs` while `active(item)`, one request at a time. A failed poll is kept in `error` and
 * polling goes on (a hiccup of the proxy or the exporter), except for a 404 (the job is gone).
 * Nothing is asked or set after unmount. `onEnd` is called once with the item that is no longer active.
 */
export function usePolling<T extends { id: number }>(
  get: (id: number) => Promise<T>,
  active: (item: T) => boolean,
  pollMs: number,
  onEnd?: (item: T) => void
): Polled<T> {
  const mounted = useMounted();
  const [current, setCurrent] = useState<T>();
  const [error, setError] = useState<ApiError>();
  const timer = useRef<ReturnType<typeof setTimeout>>();
  const onEndRef = useRef(onEnd);
  useEffect(() => {
    onEndRef.current = onEnd;
  }, [onEnd]);
  useEffect(() => () => clearTimeout(timer.current), []);

  const follow = (item: T) => {
    if (!mounted.current) {
      return;
    }
    setCurrent(item);
    if (!active(item)) {
      onEndRef.current?.(item);
      return;
    }
    timer.current = setTimeout(() => {
      get(item.id).then(
        (next) => {
          if (mounted.current) {
            setError(undefined);
            follow(next);
          }
        },
        (e: unknown) => {
          if (!mounted.current) {
            return;
          }
          const failure = toApiError(e);
          setError(failure);
          if (failure.status !== 404) {
            follow(item);
          }
        }
      );
    }, pollMs);
  };

  const start = (item: T) => {
    clearTimeout(timer.current);
    setError(undefined);
    follow(item);
  };
  const stop = () => {
    clearTimeout(timer.current);
    setCurrent(undefined);
    setError(undefined);
  };
  return { current, error, start, stop };
}
