// A tiny AMD loader, enough for a Grafana plugin's dist/module.js: `define(deps, factory)` with the
// dependencies resolved from a registry of the host's shared modules (what Grafana's SystemJS
// import map does), plus the special `module`, `exports` and `require` dependencies.
type Factory = (...deps: unknown[]) => unknown;

const shared = new Map<string, unknown>();
const loaded = new Map<string, Promise<unknown>>();
const settle = new Map<string, { resolve: (v: unknown) => void; reject: (e: unknown) => void }>();

/** Registers the host's instance of a shared package under the name plugins import it by. */
export function share(name: string, value: unknown): void {
  shared.set(name, value);
}

export function sharedNames(): string[] {
  return [...shared.keys()].sort();
}

function resolveDep(name: string, url: string, exports: Record<string, unknown>): unknown {
  if (name === 'module') {
    return { id: url, uri: url };
  }
  if (name === 'exports') {
    return exports;
  }
  if (name === 'require') {
    return (dep: string) => resolveDep(dep, url, exports);
  }
  if (!shared.has(name)) {
    throw new Error(`AMD: ${url} needs "${name}", which the host does not share (shared: ${sharedNames().join(', ')})`);
  }
  return shared.get(name);
}

function define(...args: unknown[]): void {
  // define(factory) | define(deps, factory) | define(id, deps, factory)
  const factory = args[args.length - 1] as Factory | object;
  const deps = (args.find((a) => Array.isArray(a)) as string[] | undefined) ?? ['require', 'exports', 'module'];
  const script = document.currentScript as HTMLScriptElement | null;
  const url = script?.src;
  const pending = url ? settle.get(url) : undefined;
  if (!url || !pending) {
    throw new Error(`AMD: define() called outside a module load (${url ?? 'inline script'})`);
  }
  try {
    const exports: Record<string, unknown> = {};
    const values = deps.map((d) => resolveDep(d, url, exports));
    const result = typeof factory === 'function' ? (factory as Factory)(...values) : factory;
    pending.resolve(result === undefined ? exports : result);
  } catch (e) {
    pending.reject(e);
  }
}
(define as unknown as { amd: object }).amd = {};

/** Loads an AMD module by URL (a script tag, as SystemJS does) and returns its exports. */
export function importAmd(path: string): Promise<unknown> {
  const url = new URL(path, window.location.origin).href;
  let p = loaded.get(url);
  if (!p) {
    p = new Promise((resolve, reject) => {
      settle.set(url, { resolve, reject });
      // The global define exists only from here on, so no library inside the host bundle can mistake
      // the page for an AMD environment.
      (window as unknown as { define: typeof define }).define = define;
      const script = document.createElement('script');
      script.src = url;
      script.async = true;
      script.onerror = () => reject(new Error(`AMD: could not load ${url}`));
      script.onload = () => setTimeout(() => reject(new Error(`AMD: ${url} loaded but did not call define()`)), 0);
      document.head.appendChild(script);
    });
    loaded.set(url, p);
  }
  return p;
}
