// The host's BackendSrv, as Grafana's public/app/core/services/backend_srv.ts behaves for plugins:
// fetch() is a cold rxjs Observable over window.fetch with Grafana's request defaults (JSON bodies,
// Accept header, same-origin credentials, params serialised into the URL) and Grafana's response
// handling (body parsed as JSON when it parses, else text; non-2xx rejected with a FetchError
// {status, statusText, data, config}); get/post/put/patch/delete/request are promise helpers.
import { AppEvents } from '@grafana/data';
import type { BackendSrv, BackendSrvRequest, FetchError, FetchResponse } from '@grafana/runtime';
import { getAppEvents } from '@grafana/runtime';
import { lastValueFrom, Observable } from 'rxjs';

/** Every request the plugin made, for the test to inspect (window.__shell.requests). */
export const requestLog: Array<{ method: string; url: string; status: number; ms: number }> = [];

function headersOf(options: BackendSrvRequest): Headers {
  const headers = new Headers();
  for (const [k, v] of Object.entries((options.headers ?? {}) as Record<string, unknown>)) {
    headers.set(k, String(v));
  }
  const method = (options.method ?? 'GET').toLowerCase();
  if (['post', 'put', 'patch'].includes(method) && !headers.has('content-type')) {
    headers.set('content-type', 'application/json');
  }
  if (!headers.has('accept')) {
    headers.set('accept', 'application/json, text/plain, */*');
  }
  // Grafana's own headers on every API call.
  headers.set('X-Grafana-Org-Id', '1');
  headers.set('X-Grafana-Device-Id', 'browser-test-shell');
  return headers;
}

function bodyOf(options: BackendSrvRequest, headers: Headers): BodyInit | undefined {
  const data = options.data as unknown;
  if (data == null) {
    return undefined;
  }
  if (typeof data === 'string' || data instanceof Blob || data instanceof FormData || data instanceof URLSearchParams) {
    return data;
  }
  const type = (headers.get('content-type') ?? '').toLowerCase();
  if (type === 'application/json' || type.endsWith('+json')) {
    return JSON.stringify(data);
  }
  return new URLSearchParams(Object.entries(data as Record<string, unknown>).map(([k, v]) => [k, String(v)]));
}

function urlOf(options: BackendSrvRequest): string {
  const params = Object.entries((options.params ?? {}) as Record<string, unknown>).filter(
    ([, v]) => v !== undefined && !((Array.isArray(v) || typeof v === 'string') && v.length === 0)
  );
  if (params.length === 0) {
    return options.url;
  }
  const qs = params
    .flatMap(([k, v]) => (Array.isArray(v) ? v : [v]).map((x) => `${encodeURIComponent(k)}=${encodeURIComponent(String(x))}`))
    .join('&');
  return `${options.url}${options.url.includes('?') ? '&' : '?'}${qs}`;
}

async function parseBody(response: Response, responseType?: string): Promise<unknown> {
  switch (responseType) {
    case 'arraybuffer':
      return response.arrayBuffer();
    case 'blob':
      return response.blob();
    case 'text':
      return response.text();
    case 'json':
      return response.headers.get('content-length') === '0' ? {} : response.json();
  }
  const text = await response.text();
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

function notify(kind: 'success' | 'error', message: string): void {
  const events = getAppEvents();
  events?.publish({ type: (kind === 'success' ? AppEvents.alertSuccess : AppEvents.alertError).name, payload: [message] });
}

export class ShellBackendSrv implements Partial<BackendSrv> {
  fetch<T>(options: BackendSrvRequest): Observable<FetchResponse<T>> {
    return new Observable<FetchResponse<T>>((subscriber) => {
      const controller = new AbortController();
      const started = performance.now();
      const method = (options.method ?? 'GET').toUpperCase();
      const headers = headersOf(options);
      const url = urlOf(options);
      const config = { ...options, method, url };
      window
        .fetch(url, {
          method,
          headers,
          body: bodyOf(options, headers),
          credentials: options.credentials ?? (options.withCredentials ? 'include' : 'same-origin'),
          signal: options.abortSignal ?? controller.signal,
        })
        .then(async (response) => {
          const data = (await parseBody(response, options.responseType)) as T;
          requestLog.push({ method, url, status: response.status, ms: Math.round(performance.now() - started) });
          if (response.ok) {
            if (method !== 'GET' && options.showSuccessAlert !== false && (data as { message?: string })?.message) {
              notify('success', (data as { message: string }).message);
            }
            subscriber.next({
              data,
              status: response.status,
              statusText: response.statusText,
              ok: true,
              headers: response.headers,
              redirected: response.redirected,
              type: response.type,
              url: response.url,
              config,
            });
            subscriber.complete();
            return;
          }
          const error: FetchError = {
            status: response.status,
            statusText: response.statusText,
            data: data as FetchError['data'],
            config,
          };
          if (options.showErrorAlert !== false) {
            const d = data as { message?: string; error?: string } | undefined;
            notify('error', d?.message ?? d?.error ?? `${response.status} ${response.statusText}`);
          }
          subscriber.error(error);
        })
        .catch((e: unknown) => {
          requestLog.push({ method, url, status: 0, ms: Math.round(performance.now() - started) });
          if ((e as Error)?.name === 'AbortError') {
            subscriber.error({ status: -1, statusText: 'Request was aborted', data: {}, config, cancelled: true });
            return;
          }
          // Grafana turns network failures into a FetchError with status 502-ish data; keep the cause.
          subscriber.error({ status: 0, statusText: String(e), data: { message: String(e) }, config });
        });
      return () => controller.abort();
    });
  }

  request<T = unknown>(options: BackendSrvRequest): Promise<T> {
    return lastValueFrom(this.fetch<T>(options)).then((r) => r.data);
  }

  datasourceRequest<T = unknown>(options: BackendSrvRequest): Promise<FetchResponse<T>> {
    return lastValueFrom(this.fetch<T>(options));
  }

  get<T = unknown>(url: string, params?: unknown, requestId?: string, options?: Partial<BackendSrvRequest>): Promise<T> {
    return this.request<T>({ ...options, method: 'GET', url, params: params as BackendSrvRequest['params'], requestId });
  }

  delete<T = unknown>(url: string, data?: unknown, options?: Partial<BackendSrvRequest>): Promise<T> {
    return this.request<T>({ ...options, method: 'DELETE', url, data });
  }

  post<T = unknown>(url: string, data?: unknown, options?: Partial<BackendSrvRequest>): Promise<T> {
    return this.request<T>({ ...options, method: 'POST', url, data });
  }

  patch<T = unknown>(url: string, data?: unknown, options?: Partial<BackendSrvRequest>): Promise<T> {
    return this.request<T>({ ...options, method: 'PATCH', url, data });
  }

  put<T = unknown>(url: string, data?: unknown, options?: Partial<BackendSrvRequest>): Promise<T> {
    return this.request<T>({ ...options, method: 'PUT', url, data });
  }

  chunked(): never {
    throw new Error('BackendSrv.chunked() is not provided by the browser-test shell');
  }

  resolveCancelerIfExists(): void {}
}
