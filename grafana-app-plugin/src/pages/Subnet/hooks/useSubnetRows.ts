// The rows of a subnet page, loaded a page at a time (the exporter's default page is 1,000 rows).
import { useCallback, useEffect, useRef, useState } from 'react';
import { type ApiError, api, toApiError } from '../../../api/client';
import type { Subnet, SubnetRow, SubnetRows } from '../../../api/types';

export const PAGE_SIZE = 1000;
/** The exporter's largest page of subnet rows; more rows are asked for a page at a time. */
export const MAX_PAGE = 5000;
/** Rows that "load all" (and a reload of that many) fetch at most, MAX_PAGE per request. */
export const LOAD_ALL_LIMIT = 100_000;

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
        // `limit` rows from `offset`, in requests of at most MAX_PAGE rows.
        const results: SubnetRow[] = [];
        let page: SubnetRows;
        do {
          const want = Math.min(limit - results.length, MAX_PAGE);
          page = await api.subnetRows(subnetId, offset + results.length, want);
          results.push(...page.results);
          if (page.results.length < want) {
            break;
          }
        } while (gen === generation.current && results.length < limit && offset + results.length < page.count);
        if (gen !== generation.current) {
          return;
        }
        setState((s) => ({
          subnet: page.subnet,
          rows: replace ? results : [...s.rows.slice(0, offset), ...results],
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
    fetchPage(s.rows.length, Math.min(LOAD_ALL_LIMIT, s.count - s.rows.length), false);
  }, [fetchPage]);

  const reload = useCallback(() => {
    generation.current++;
    const s = current.current;
    fetchPage(0, Math.min(LOAD_ALL_LIMIT, Math.max(PAGE_SIZE, s.rows.length)), true);
  }, [fetchPage]);

  return {
    ...state,
    hasMore: state.rows.length < state.count,
    loadMore,
    loadAll,
    reload,
  };
}
