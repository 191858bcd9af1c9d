// The rows of a subnet page, loaded a page at a time (the exporter's default page is 1,000 rows).
import { useCallback, useEffect, useRef, useState } from 'react';
import { type ApiError, api, toApiError } from '../api/client';
import type { Subnet, SubnetRow } from '../api/types';

export const PAGE_SIZE = 1000;
/** The exporter's largest page. */
export const MAX_PAGE = 100_000;

export interface SubnetRowsState {
  subnet?: Subnet;
  rows: SubnetRow[];
  count: number;
  loading: boolean;
  error?: ApiError;
  hasMore: boolean;
  /** The next page; after an error only when forced (a click), not on scroll. */
  loadMore: (force?: boolean) => void;
  loadAll: () => void;
  reload: () => void;
}

export function useSubnetRows(subnetId: number): SubnetRowsState {
  const [state, setState] = useState<{
    subnet?: Subnet;
    rows: SubnetRow[];
    count: number;
    loading: boolean;
    error?: ApiError;
  }>({
    rows: [],
    count: 0,
    loading: true,
  });
  const generation = useRef(0);
  const busy = useRef(false);
  const current = useRef(state);
  current.current = state;

  const fetchPage = useCallback(
    async (offset: number, limit: number, replace: boolean) => {
      const gen = generation.current;
      busy.current = true;
      setState((s) => ({ ...s, loading: true, error: undefined }));
      try {
        const page = await api.subnetRows(subnetId, offset, limit);
        if (gen !== generation.current) {
          return;
        }
        setState((s) => ({
          subnet: page.subnet,
          rows: replace ? page.results : [...s.rows.slice(0, offset), ...page.results],
          count: page.count,
          loading: false,
        }));
      } catch (e) {
        if (gen === generation.current) {
          setState((s) => ({ ...s, loading: false, error: toApiError(e) }));
        }
      } finally {
        if (gen === generation.current) {
          busy.current = false;
        }
      }
    },
    [subnetId]
  );

  useEffect(() => {
    generation.current++;
    busy.current = false;
    setState({ rows: [], count: 0, loading: true });
    fetchPage(0, PAGE_SIZE, true);
  }, [fetchPage]);

  const loadMore = useCallback(
    (force = false) => {
      const s = current.current;
      if (busy.current || (s.error && !force) || s.rows.length >= s.count) {
        return;
      }
      fetchPage(s.rows.length, PAGE_SIZE, false);
    },
    [fetchPage]
  );

  const loadAll = useCallback(() => {
    const s = current.current;
    if (busy.current || s.rows.length >= s.count) {
      return;
    }
    fetchPage(s.rows.length, Math.min(MAX_PAGE, s.count - s.rows.length), false);
  }, [fetchPage]);

  const reload = useCallback(() => {
    generation.current++;
    const s = current.current;
    fetchPage(0, Math.min(MAX_PAGE, Math.max(PAGE_SIZE, s.rows.length)), true);
  }, [fetchPage]);

  return {
    ...state,
    hasMore: state.rows.length < state.count,
    loadMore,
    loadAll,
    reload,
  };
}
