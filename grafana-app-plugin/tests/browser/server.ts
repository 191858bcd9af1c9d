// The test shell's web server: what Grafana's HTTP server does for an app plugin, on 127.0.0.1.
//   GET  /a/<id>/..., /plugins/<id>   the shell page, with Grafana's boot data (user, role, theme)
//   GET  /public/build/shell.<hash>.js  the shell bundle (tests/browser/shell, built with esbuild)
//   GET  /public/plugins/<id>/...     the plugin's dist/ directory
//   GET|POST /api/plugins/<id>/settings   plugin settings (jsonData, secureJsonData) in memory
//   *    /api/plugin-proxy/<id>/...   Grafana's app plugin proxy, APPLYING dist/plugin.json's routes
//                                     (route match, reqRole, url and header templates) and the user
//                                     headers Grafana adds: X-Grafana-User ([dataproxy]
//                                     send_user_header) and the signed ID token X-Grafana-Id
//   GET  /api/signing-keys/keys       the JWKS of the ID tokens' ES256 key, as Grafana publishes it
// The signed-in user's role and theme come from the cookies grafana_shell_role / grafana_shell_theme
// (or ?shellRole= / ?shellTheme= on a page load, which set those cookies).
import { createHash, generateKeyPairSync, randomBytes, sign, type KeyObject } from 'node:crypto';
import { createReadStream, existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { createServer, request as httpRequest, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { AddressInfo } from 'node:net';
import { dirname, extname, join, normalize, resolve, sep } from 'node:path';
import { buildShell, type ShellBundle } from './shell/build';

export type Role = 'Viewer' | 'Editor' | 'Admin';
const ROLES: Role[] = ['Viewer', 'Editor', 'Admin'];

export interface PluginRoute {
  path: string;
  method?: string;
  reqRole?: Role;
  reqAction?: string;
  url?: string;
  headers?: Array<{ name: string; content: string }>;
}

export interface ShellServerOptions {
  /** The plugin's dist/ directory (with plugin.json and module.js). */
  distDir: string;
  jsonData?: Record<string, unknown>;
  secureJsonData?: Record<string, string>;
  enabled?: boolean;
  /** Pre-built shell bundle (else built on start). */
  bundle?: ShellBundle;
  /**
   * Grafana's `[dataproxy] send_user_header` (GF_DATAPROXY_SEND_USER_HEADER): the proxy sets
   * X-Grafana-User to the signed-in user's login. On by default, as docker-compose.yml sets it.
   */
  sendUserHeader?: boolean;
  /**
   * Grafana's ID forwarding (feature toggle idForwarding; always on in recent versions): the
   * proxy sends the user's signed ID token as X-Grafana-Id. On by default.
   */
  idForwarding?: boolean;
}

export interface ProxyLogEntry {
  method: string;
  path: string;
  role: Role;
  route?: string;
  status: number;
  target?: string;
}

export interface ShellServer {
  url: string;
  /** Where the ID tokens' public key is published (Grafana: <root url>/api/signing-keys/keys). */
  signingKeysUrl: string;
  pluginId: string;
  bundle: ShellBundle;
  proxyLog: ProxyLogEntry[];
  settings: { enabled: boolean; pinned: boolean; jsonData: Record<string, unknown>; secureJsonData: Record<string, string> };
  close(): Promise<void>;
}

const TYPES: Record<string, string> = {
  '.js': 'application/javascript; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.css': 'text/css; charset=utf-8',
  '.md': 'text/markdown; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
};

function parseCookies(header: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of (header ?? '').split(';')) {
    const i = part.indexOf('=');
    if (i > 0) {
      out[part.slice(0, i).trim()] = decodeURIComponent(part.slice(i + 1).trim());
    }
  }
  return out;
}

function asRole(v: string | undefined): Role | undefined {
  return ROLES.find((r) => r.toLowerCase() === (v ?? '').toLowerCase());
}

/** Grafana's c.JsonApiErr / writeJSONErr. */
function jsonError(res: ServerResponse, status: number, message: string): void {
  res.writeHead(status, { 'Content-Type': 'application/json; charset=UTF-8' });
  res.end(`${JSON.stringify({ message })}\n`);
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of req) {
    chunks.push(c as Buffer);
  }
  return Buffer.concat(chunks);
}

/**
 * Grafana's route matching: pkg/api/pluginproxy puts the route's path into a pkg/web Tree (the
 * Macaron router) and matches the proxied path against it. Segments are static (exact), `:name`
 * (one segment) or `*` (a final `*` takes the rest); leading and trailing slashes are dropped, so a
 * static path such as "read" serves only /api/plugin-proxy/<id>/read itself, and "read/*" is needed
 * for read/subnets. Returns what `*` matched ('' when the pattern has none: Grafana then proxies to
 * the route URL alone), or undefined when the path does not match.
 */
export function matchRoutePath(pattern: string, proxyPath: string): string | undefined {
  const pat = pattern.replace(/\/+$/, '').replace(/^\/+/, '').split('/');
  const last = pat.length - 1;
  const unescape = (v: string): string | undefined => {
    try {
      return decodeURIComponent(v);
    } catch {
      return undefined;
    }
  };
  const segmentMatches = (p: string, v: string) => {
    const u = unescape(v);
    return u !== undefined && (p === '*' || p.startsWith(':') || p === u);
  };
  const next = (i: number, url: string): string | undefined => {
    const k = url.indexOf('/');
    if (k === -1) {
      // matchLeaf: only the pattern's last segment is a leaf.
      if (i !== last || !segmentMatches(pat[last]!, url)) {
        return undefined;
      }
      return pat[last] === '*' ? url : '';
    }
    const seg = url.slice(0, k);
    const rest = url.slice(k + 1);
    if (i < last) {
      if (!segmentMatches(pat[i]!, seg)) {
        return undefined;
      }
      const r = next(i + 1, rest);
      return r === undefined ? undefined : pat[i] === '*' ? '' : r;
    }
    // matchSubtree's fallback: a trailing `*` leaf takes "segment/rest".
    return pat[last] === '*' ? `${seg}/${rest}` : undefined;
  };
  return next(0, proxyPath.replace(/^\/+/, '').replace(/\/+$/, ''));
}

/** Go text/template, as far as plugin routes use it: {{ .JsonData.x }}, {{ .SecureJsonData.x }}. */
export function renderTemplate(tpl: string, data: { JsonData: Record<string, unknown>; SecureJsonData: Record<string, string> }): string {
  return tpl.replace(/\{\{\s*\.(JsonData|SecureJsonData)\.(\w+)\s*\}\}/g, (_, scope: 'JsonData' | 'SecureJsonData', key: string) => {
    const v = (data[scope] as Record<string, unknown>)[key];
    return v === undefined || v === null ? '<no value>' : String(v);
  });
}

/** Grafana's util.JoinURLFragments. */
function joinUrlFragments(a: string, b: string): string {
  if (b.length === 0) {
    return a;
  }
  const aslash = a.endsWith('/');
  const bslash = b.startsWith('/');
  if (aslash && bslash) {
    return a + b.slice(1);
  }
  if (!aslash && !bslash) {
    return `${a}/${b}`;
  }
  return a + b;
}

const UI_ICONS = join(dirname(require.resolve('@grafana/ui/package.json')), 'dist', 'public', 'img', 'icons');

const HOP_BY_HOP = ['connection', 'keep-alive', 'proxy-authenticate', 'proxy-authorization', 'te', 'trailer', 'transfer-encoding', 'upgrade', 'host'];

/**
 * Grafana's ID tokens (pkg/services/auth/idimpl): a JWT per identity signed ES256 with a key of
 * Grafana's signing-key service, header kid and typ "jwt"; claims iss (root URL), sub
 * "user:<uid>", aud ["org:<id>"], exp (10 minutes), iat, and for users username, name, email,
 * email_verified, authenticatedBy; role; namespace, identifier, type.
 */
class IdTokenSigner {
  readonly kid = `id-${randomBytes(6).toString('hex')}`;
  private readonly privateKey: KeyObject;
  private readonly publicKey: KeyObject;

  constructor() {
    const pair = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    this.privateKey = pair.privateKey;
    this.publicKey = pair.publicKey;
  }

  jwks(): { keys: Array<Record<string, unknown>> } {
    return { keys: [{ use: 'sig', ...this.publicKey.export({ format: 'jwk' }), kid: this.kid, alg: 'ES256' }] };
  }

  sign(user: { uid: string; login: string; name: string; email: string; role: Role }, issuer: string): string {
    const now = Math.floor(Date.now() / 1000);
    const part = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
    const header = part({ alg: 'ES256', kid: this.kid, typ: 'jwt' });
    const claims = part({
      iss: issuer,
      sub: `user:${user.uid}`,
      aud: ['org:1'],
      exp: now + 600,
      iat: now,
      namespace: 'default',
      identifier: user.uid,
      type: 'user',
      email: user.email,
      email_verified: false,
      authenticatedBy: 'password',
      username: user.login,
      name: user.name,
      role: user.role,
    });
    const signature = sign('sha256', Buffer.from(`${header}.${claims}`), { key: this.privateKey, dsaEncoding: 'ieee-p1363' });
    return `${header}.${claims}.${signature.toString('base64url')}`;
  }
}

export interface NestedPlugin {
  id: string;
  type: string;
  name: string;
  info: Record<string, unknown>;
  /** Where Grafana serves a nested plugin's module: under the parent's path (assetpath.Base). */
  module: string;
  baseUrl: string;
}

/** The plugins nested in the app's dist/ (a folder with plugin.json and module.js), as Grafana finds them. */
export function nestedPlugins(distDir: string, appId: string, rel = ''): NestedPlugin[] {
  const out: NestedPlugin[] = [];
  for (const e of readdirSync(join(distDir, rel), { withFileTypes: true })) {
    if (!e.isDirectory()) {
      continue;
    }
    const sub = rel ? `${rel}/${e.name}` : e.name;
    const json = join(distDir, sub, 'plugin.json');
    if (existsSync(json) && existsSync(join(distDir, sub, 'module.js'))) {
      const p = JSON.parse(readFileSync(json, 'utf8')) as { id: string; type: string; name: string; info: Record<string, unknown> };
      const baseUrl = `public/plugins/${appId}/${sub}`;
      out.push({ id: p.id, type: p.type, name: p.name, info: p.info, module: `${baseUrl}/module.js`, baseUrl });
    }
    out.push(...nestedPlugins(distDir, appId, sub));
  }
  return out;
}

export async function startShellServer(options: ShellServerOptions): Promise<ShellServer> {
  const distDir = resolve(options.distDir);
  const pluginJson = JSON.parse(readFileSync(join(distDir, 'plugin.json'), 'utf8')) as {
    id: string;
    name: string;
    type: string;
    info: Record<string, unknown> & { version?: string };
    includes?: unknown[];
    dependencies?: unknown;
    routes?: PluginRoute[];
  };
  const pluginId = pluginJson.id;
  const routes = pluginJson.routes ?? [];
  const nested = nestedPlugins(distDir, pluginId);
  const bundle = options.bundle ?? (await buildShell());
  const settings = {
    enabled: options.enabled ?? true,
    pinned: true,
    jsonData: { ...(options.jsonData ?? {}) },
    secureJsonData: { ...(options.secureJsonData ?? {}) },
  };
  const proxyLog: ProxyLogEntry[] = [];
  const sendUserHeader = options.sendUserHeader ?? true;
  const idForwarding = options.idForwarding ?? true;
  const idSigner = new IdTokenSigner();
  // Content-hashed and cached like Grafana's own bundles, so later page loads reuse the compiled code.
  const shellPath = `/public/build/shell.${createHash('sha256').update(bundle.js).digest('hex').slice(0, 16)}.js`;

  const settingsDto = () => ({
    name: pluginJson.name,
    type: pluginJson.type,
    id: pluginId,
    enabled: settings.enabled,
    pinned: settings.pinned,
    autoEnabled: false,
    module: `public/plugins/${pluginId}/module.js`,
    baseUrl: `public/plugins/${pluginId}`,
    info: pluginJson.info,
    includes: pluginJson.includes ?? [],
    dependencies: pluginJson.dependencies ?? {},
    defaultNavUrl: `/plugins/${pluginId}/`,
    latestVersion: '',
    hasUpdate: false,
    state: '',
    signature: 'internal',
    signatureType: '',
    signatureOrg: '',
    jsonData: settings.jsonData,
    // Grafana reports which secrets are set, never their values.
    secureJsonFields: Object.fromEntries(Object.entries(settings.secureJsonData).filter(([, v]) => v !== '').map(([k]) => [k, true])),
    loadingStrategy: 'script',
    angularDetected: false,
    extensions: { addedLinks: [], addedComponents: [], exposedComponents: [], extensionPoints: [], addedFunctions: [] },
  });

  const page = (role: Role, theme: 'light' | 'dark', origin: string) => {
    const login = role.toLowerCase();
    const bootData = {
      assets: { dark: '', light: '' },
      navTree: [],
      settings: {
        appUrl: `${origin}/`,
        appSubUrl: '',
        buildInfo: { version: '13.1.1', commit: 'test-shell', env: 'production', edition: 'Open Source', latestVersion: '', hasUpdate: false, hideVersion: false },
        featureToggles: {},
        apps: { [pluginId]: { id: pluginId, path: `public/plugins/${pluginId}/module.js`, version: pluginJson.info.version, preload: false } },
        // The app's nested plugins, as Grafana lists them: a data source instance named after the
        // plugin (the stack provisions one), and the panel.
        datasources: Object.fromEntries(
          nested
            .filter((n) => n.type === 'datasource')
            .map((n, i) => [
              n.name,
              { id: i + 1, uid: n.id.replace(/-datasource$/, ''), type: n.id, name: n.name, access: 'proxy', jsonData: {}, readOnly: true, meta: n },
            ])
        ),
        panels: Object.fromEntries(nested.filter((n) => n.type === 'panel').map((n) => [n.id, n])),
        defaultDatasource: '',
        minRefreshInterval: '5s',
        dateFormats: undefined,
      },
      user: {
        isSignedIn: true,
        id: ROLES.indexOf(role) + 1,
        uid: `${login}-uid`,
        login,
        email: `${login}@example.test`,
        name: `${role} user`,
        externalUserId: '',
        theme,
        lightTheme: theme === 'light',
        orgCount: 1,
        orgId: 1,
        orgName: 'Main Org.',
        orgRole: role,
        isGrafanaAdmin: role === 'Admin',
        gravatarUrl: '',
        timezone: 'browser',
        weekStart: 'browser',
        locale: 'en-US',
        language: 'en-US',
        regionalFormat: 'en-US',
        helpFlags1: 0,
        hasEditPermissionInFolders: role !== 'Viewer',
        permissions: {},
        analytics: { identifier: login },
      },
    };
    return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8" />
<meta name="viewport" content="width=device-width" />
<title>Grafana (browser test shell)</title>
<base href="/" />
<style>html, body { margin: 0; padding: 0; }</style>
<style>${bundle.css}</style>
<script>
window.grafanaBootData = ${JSON.stringify(bootData).replace(/</g, '\\u003c')};
window.__shellPluginId = ${JSON.stringify(pluginId)};
</script>
</head>
<body class="theme-${theme} app-grafana">
<div id="reactRoot"></div>
<script src="${shellPath}"></script>
</body>
</html>`;
  };

  async function proxy(req: IncomingMessage, res: ServerResponse, role: Role, rawPath: string, rawQuery: string): Promise<void> {
    const method = req.method ?? 'GET';
    const proxyPath = rawPath.replace(new RegExp(`^/api/plugin-proxy/${pluginId}/?`), '');
    const entry: ProxyLogEntry = { method, path: `/${proxyPath}${rawQuery}`, role, status: 0 };
    proxyLog.push(entry);
    let matched: PluginRoute | undefined;
    let rest = '';
    for (const route of routes) {
      if (route.method && route.method !== '*' && route.method !== method) {
        continue;
      }
      const m = matchRoutePath(route.path, proxyPath);
      if (m === undefined) {
        continue;
      }
      // hasAccessToRoute: reqAction needs RBAC, which the shell has not; reqRole by org role.
      const allowed = route.reqAction ? role === 'Admin' : !route.reqRole || ROLES.indexOf(role) >= ROLES.indexOf(route.reqRole);
      entry.route = `${route.method ?? '*'} ${route.path}`;
      if (!allowed) {
        entry.status = 403;
        jsonError(res, 403, 'plugin proxy route access denied');
        return;
      }
      matched = route;
      rest = m;
      break;
    }
    if (!matched) {
      entry.status = 404;
      jsonError(res, 404, 'plugin route match not found');
      return;
    }
    const data = { JsonData: settings.jsonData, SecureJsonData: settings.secureJsonData };
    let target: URL;
    try {
      target = new URL(renderTemplate(matched.url ?? '', data));
      if (!/^https?:$/.test(target.protocol)) {
        throw new Error(`unsupported protocol scheme "${target.protocol}"`);
      }
    } catch {
      // Go's reverse proxy fails the round trip; Grafana answers 502.
      entry.status = 502;
      res.writeHead(502).end();
      return;
    }
    const path = joinUrlFragments(target.pathname, rest);
    entry.target = `${target.origin}${path}${rawQuery}`;
    const headers: Record<string, string | string[]> = {};
    for (const [k, v] of Object.entries(req.headers)) {
      if (v !== undefined && !HOP_BY_HOP.includes(k) && !['cookie', 'set-cookie', 'origin', 'referer'].includes(k)) {
        headers[k] = v;
      }
    }
    headers['x-grafana-context'] = JSON.stringify({ login: role.toLowerCase(), orgId: 1, orgRole: role });
    headers['x-forwarded-for'] = req.socket.remoteAddress ?? '127.0.0.1';
    // proxyutil.ApplyUserHeader: whatever the browser sent is removed; with send_user_header the
    // signed-in user's login is set (never for anonymous users, whom the shell does not have).
    delete headers['x-grafana-user'];
    if (sendUserHeader) {
      headers['x-grafana-user'] = role.toLowerCase();
    }
    // proxyutil.ApplyForwardIDHeader: the user's signed ID token. (Grafana's newest versions also
    // remove a browser-sent X-Grafana-Id when there is no token; the shell always does.)
    delete headers['x-grafana-id'];
    if (idForwarding) {
      const login = role.toLowerCase();
      const origin = `http://${req.headers.host ?? '127.0.0.1'}`;
      headers['x-grafana-id'] = idSigner.sign(
        { uid: `${login}-uid`, login, name: `${role} user`, email: `${login}@example.test`, role },
        `${origin}/`
      );
    }
    for (const h of matched.headers ?? []) {
      headers[h.name.toLowerCase()] = renderTemplate(h.content, data);
    }
    headers.host = target.host;
    const send = target.protocol === 'https:' ? httpsRequest : httpRequest;
    await new Promise<void>((done) => {
      const upstream = send(
        { protocol: target.protocol, hostname: target.hostname, port: target.port, method, path: `${path}${rawQuery}`, headers },
        (up) => {
          entry.status = up.statusCode ?? 0;
          const out: Record<string, string | string[]> = {};
          for (const [k, v] of Object.entries(up.headers)) {
            if (v !== undefined && !HOP_BY_HOP.includes(k) && k !== 'set-cookie') {
              out[k] = v;
            }
          }
          out['content-security-policy'] = 'sandbox';
          res.writeHead(up.statusCode ?? 502, out);
          up.pipe(res);
          up.on('end', done);
          up.on('error', () => done());
        }
      );
      upstream.on('error', () => {
        entry.status = 502;
        if (!res.headersSent) {
          res.writeHead(502).end();
        }
        done();
      });
      req.pipe(upstream);
    });
  }

  function serveStatic(res: ServerResponse, relPath: string, root = distDir): void {
    const file = normalize(join(root, relPath));
    if (!file.startsWith(root + sep)) {
      jsonError(res, 404, 'Not found');
      return;
    }
    let size: number;
    try {
      const st = statSync(file);
      if (!st.isFile()) {
        throw new Error('not a file');
      }
      size = st.size;
    } catch {
      jsonError(res, 404, 'Plugin file not found');
      return;
    }
    res.writeHead(200, { 'Content-Type': TYPES[extname(file)] ?? 'application/octet-stream', 'Content-Length': size, 'Cache-Control': 'no-store' });
    createReadStream(file).pipe(res);
  }

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const host = req.headers.host ?? '127.0.0.1';
    const u = new URL(req.url ?? '/', `http://${host}`);
    const cookies = parseCookies(req.headers.cookie);
    const role = asRole(u.searchParams.get('shellRole') ?? cookies.grafana_shell_role) ?? 'Admin';
    const theme = (u.searchParams.get('shellTheme') ?? cookies.grafana_shell_theme) === 'light' ? 'light' : 'dark';
    const rawPath = (req.url ?? '/').split('?')[0]!;
    const rawQuery = (req.url ?? '').includes('?') ? `?${(req.url ?? '').split('?').slice(1).join('?')}` : '';
    const method = req.method ?? 'GET';

    if (rawPath.startsWith(`/api/plugin-proxy/${pluginId}/`) || rawPath === `/api/plugin-proxy/${pluginId}`) {
      if (!settings.enabled) {
        jsonError(res, 404, 'Plugin not enabled');
        return;
      }
      await proxy(req, res, role, rawPath, rawQuery);
      return;
    }
    if (u.pathname === '/api/signing-keys/keys' && method === 'GET') {
      // Grafana serves it without authentication (Cache-Control: public, max-age=3600).
      res.writeHead(200, { 'Content-Type': 'application/json', 'Cache-Control': 'public, max-age=3600' });
      res.end(JSON.stringify(idSigner.jwks()));
      return;
    }
    if (u.pathname === `/api/plugins/${pluginId}/settings`) {
      if (method === 'GET') {
        res.writeHead(200, { 'Content-Type': 'application/json' });
        res.end(JSON.stringify(settingsDto()));
        return;
      }
      if (method === 'POST') {
        if (role !== 'Admin') {
          jsonError(res, 403, 'You\'ll need additional permissions to perform this action. Permissions needed: plugins:write');
          return;
        }
        let body: { enabled?: boolean; pinned?: boolean; jsonData?: Record<string, unknown>; secureJsonData?: Record<string, string> };
        try {
          body = JSON.parse((await readBody(req)).toString('utf8') || '{}');
        } catch {
          jsonError(res, 400, 'bad request data');
          return;
        }
        if (body.enabled !== undefined) {
          settings.enabled = Boolean(body.enabled);
        }
        if (body.pinned !== undefined) {
          settings.pinned = Boolean(body.pinned);
        }
        if (body.jsonData !== undefined) {
          settings.jsonData = { ...(body.jsonData ?? {}) };
        }
        for (const [k, v] of Object.entries(body.secureJsonData ?? {})) {
          settings.secureJsonData[k] = String(v);
        }
        res.writeHead(200, { 'Content-Type': 'application/json' });
        res.end(JSON.stringify({ message: 'Plugin settings updated' }));
        return;
      }
      jsonError(res, 405, 'Method not allowed');
      return;
    }
    if (u.pathname.startsWith('/api/')) {
      jsonError(res, 404, 'Not found');
      return;
    }
    if (u.pathname === shellPath) {
      res.writeHead(200, { 'Content-Type': TYPES['.js']!, 'Cache-Control': 'public, max-age=31536000, immutable' });
      res.end(bundle.js);
      return;
    }
    if (u.pathname.startsWith('/public/build/img/icons/')) {
      // Grafana serves @grafana/ui's icon SVGs from public/build/img/icons.
      serveStatic(res, decodeURIComponent(u.pathname.slice('/public/build/img/icons/'.length)), UI_ICONS);
      return;
    }
    if (u.pathname.startsWith(`/public/plugins/${pluginId}/`)) {
      serveStatic(res, decodeURIComponent(u.pathname.slice(`/public/plugins/${pluginId}/`.length)));
      return;
    }
    if (u.pathname.startsWith('/a/') || u.pathname.startsWith('/plugins/') || u.pathname.startsWith('/d-solo/') || u.pathname === '/') {
      if (u.pathname === '/') {
        res.writeHead(302, { Location: `/a/${pluginId}/` }).end();
        return;
      }
      const setCookies: string[] = [];
      if (u.searchParams.has('shellRole')) {
        setCookies.push(`grafana_shell_role=${role}; Path=/; SameSite=Lax`);
      }
      if (u.searchParams.has('shellTheme')) {
        setCookies.push(`grafana_shell_theme=${theme}; Path=/; SameSite=Lax`);
      }
      res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8', 'Cache-Control': 'no-store', ...(setCookies.length ? { 'Set-Cookie': setCookies } : {}) });
      res.end(page(role, theme, `http://${host}`));
      return;
    }
    jsonError(res, 404, 'Not found');
  };

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((e: unknown) => {
      if (!res.headersSent) {
        jsonError(res, 500, `shell server: ${String(e)}`);
      } else {
        res.destroy();
      }
    });
  });
  await new Promise<void>((ok, fail) => {
    server.once('error', fail);
    server.listen(0, '127.0.0.1', () => ok());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    signingKeysUrl: `http://127.0.0.1:${port}/api/signing-keys/keys`,
    pluginId,
    bundle,
    proxyLog,
    settings,
    close: () =>
      new Promise<void>((done) => {
        server.closeAllConnections();
        server.close(() => done());
      }),
  };
}

// Manual use: EXPORTER_URL=http://127.0.0.1:9110 READ_TOKEN=... node --import tsx tests/browser/server.ts
if (require.main === module) {
  startShellServer({
    distDir: join(__dirname, '..', '..', 'dist'),
    jsonData: process.env.EXPORTER_URL ? { exporterUrl: process.env.EXPORTER_URL } : {},
    secureJsonData: Object.fromEntries(
      (['readToken', 'writeToken', 'adminToken'] as const)
        .map((k) => [k, process.env[k.replace(/Token$/, '_TOKEN').toUpperCase()]])
        .filter(([, v]) => v) as Array<[string, string]>
    ),
  }).then((s) => console.log(`shell on ${s.url}/a/${s.pluginId}/ (shell bundle ${(s.bundle.bytes / 1e6).toFixed(1)} MB)`));
}
