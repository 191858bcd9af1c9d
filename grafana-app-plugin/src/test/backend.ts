// A stand-in for Grafana's backend service at its boundary: `getBackendSrv().fetch` answering
// with an rxjs `of({data})` or failing with `throwError` like the real one (a FetchError with
// status and the exporter's JSON body). Only for jest tests.
import { type Observable, of, throwError } from 'rxjs';
import type { BackendSrvRequest, FetchResponse } from '@grafana/runtime';
import { PROXY_BASE } from '../api/client';

/** An HTTP failure to answer with: the exporter's error body. */
export class Failure {
  constructor(
    readonly status: number,
    readonly data: unknown,
    readonly statusText = ''
  ) {}
}

/** The exporter's error shape: {"error": {"code", "message", "details"}}. */
export function fail(status: number, message: string, code = 'error', details?: unknown): Failure {
  return new Failure(status, { error: { code, message, details } }, `status ${status}`);
}

export type Answer = unknown | ((req: BackendSrvRequest) => unknown);

/**
 * Routes are "METHOD path" with the path either absolute ("/api/plugins/x/settings") or relative
 * to the plugin proxy ("read/subnets"); the query string is not part of the key (assert on
 * `req.url` for it). Unknown requests fail the test with a 599 so they show up.
 */
export function routes(table: Record<string, Answer>) {
  return (req: BackendSrvRequest): Observable<FetchResponse<unknown>> => {
    const method = (req.method ?? 'GET').toUpperCase();
    const path = req.url.split('?')[0]!;
    const key = Object.keys(table).find((k) => {
      const [m, p] = k.split(' ') as [string, string];
      const full = p.startsWith('/') ? p : `${PROXY_BASE}/${p}`;
      return m === method && full === path;
    });
    if (key === undefined) {
      return throwError(() => ({
        status: 599,
        data: { message: `unexpected request ${method} ${req.url}` },
        statusText: 'unexpected',
        config: req,
      }));
    }
    const entry = table[key];
    let answer: unknown;
    try {
      answer = typeof entry === 'function' ? (entry as (r: BackendSrvRequest) => unknown)(req) : entry;
    } catch (e) {
      return throwError(() => e);
    }
    if (answer instanceof Failure) {
      return throwError(() => ({
        status: answer.status,
        data: answer.data,
        statusText: answer.statusText,
        config: req,
      }));
    }
    return of({
      data: answer,
      status: 200,
      statusText: 'OK',
      ok: true,
      headers: new Headers(),
      redirected: false,
      type: 'basic',
      url: req.url,
      config: req,
    } as FetchResponse<unknown>);
  };
}

/** The requests a jest.fn fetch received, as "METHOD url" strings. */
export function calls(fetch: jest.Mock): string[] {
  return fetch.mock.calls.map(([req]: [BackendSrvRequest]) => `${(req.method ?? 'GET').toUpperCase()} ${req.url}`);
}

/** The request a fetch mock received for METHOD and a URL prefix (relative to the proxy or absolute). */
export function requestTo(fetch: jest.Mock, method: string, url: string): BackendSrvRequest | undefined {
  const full = url.startsWith('/') ? url : `${PROXY_BASE}/${url}`;
  const found = fetch.mock.calls.find(
    ([req]: [BackendSrvRequest]) => (req.method ?? 'GET').toUpperCase() === method && req.url.startsWith(full)
  );
  return found?.[0];
}
