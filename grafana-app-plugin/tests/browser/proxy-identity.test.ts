// The Grafana user behind a change, end to end through the test shell's plugin proxy (no
// browser needed): the shell adds X-Grafana-User and the signed X-Grafana-Id as Grafana's proxy
// does, and the exporter's audit log names that user — only because the request carries one of
// the tokens named in LANSCAPE_GRAFANA_PROXY_TOKENS, and with LANSCAPE_GRAFANA_URL only from a
// verified ID token. What a browser sends in those headers never counts.
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { spawnExporter, tempDir, testEnv, TOKENS, type ChildExporter } from '../../../exporter/test/helpers/exporter';
import { startShellServer, type Role, type ShellServer } from './server';

const PLUGIN_ID = 'lanscape-ipam-app';
const { dir, cleanup } = tempDir('lanscape-proxy-identity-');
after(cleanup);
// The shell reads plugin.json's routes from a dist/ directory; the source file has the same routes.
const distDir = join(dir, 'dist');
mkdirSync(distDir);
copyFileSync(join(__dirname, '..', '..', 'src', 'plugin.json'), join(distDir, 'plugin.json'));
const NO_BUNDLE = { js: '', css: '', bytes: 0, ms: 0 };

/** A request from "the browser" to the shell's plugin proxy, as the signed-in `role`. */
function viaProxy(
  shell: ShellServer,
  role: Role,
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {}
) {
  const text = body === undefined ? undefined : JSON.stringify(body);
  return new Promise<{ status: number; body: any }>((resolve, reject) => {
    const u = new URL(`/api/plugin-proxy/${PLUGIN_ID}/${path}`, shell.url);
    const req = request(
      {
        host: u.hostname,
        port: Number(u.port),
        method,
        path: u.pathname,
        agent: false,
        headers: {
          cookie: `grafana_shell_role=${role}`,
          ...(text === undefined
            ? {}
            : { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(text)) }),
          ...headers,
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const raw = Buffer.concat(chunks).toString('utf8');
          let parsed: unknown = raw;
          try {
            parsed = JSON.parse(raw);
          } catch {
            /* not JSON */
          }
          resolve({ status: res.statusCode ?? 0, body: parsed });
        });
      }
    );
    req.on('error', reject);
    req.end(text);
  });
}

/** The shell in front of a fresh exporter with `env`; stopped after the suite. */
async function stack(
  shellOptions: { sendUserHeader?: boolean; idForwarding?: boolean },
  env: (shell: ShellServer) => Record<string, string>
) {
  const shell = await startShellServer({
    distDir,
    bundle: NO_BUNDLE,
    secureJsonData: { readToken: TOKENS.read, writeToken: TOKENS.write, adminToken: TOKENS.admin },
    ...shellOptions,
  });
  let exporter: ChildExporter | undefined;
  try {
    const sub = tempDir('lanscape-proxy-identity-db-');
    after(sub.cleanup);
    exporter = await spawnExporter(testEnv(join(sub.dir, 'lanscape.db'), env(shell)));
  } catch (e) {
    await shell.close();
    throw e;
  }
  shell.settings.jsonData.exporterUrl = exporter.url;
  after(async () => {
    await exporter!.stop();
    await shell.close();
  });
  return { shell, exporter };
}

let n = 0;
/** Creates a subnet through the proxy as `role` and returns its audit entry. */
async function auditedCreate(
  s: { shell: ShellServer; exporter: ChildExporter },
  role: Role,
  headers: Record<string, string> = {}
) {
  n++;
  const route = role === 'Admin' ? 'admin' : 'write';
  // The admin routes are GET and POST; subnets are created with POST on either.
  const r = await viaProxy(
    s.shell,
    role,
    'POST',
    `${route}/subnets`,
    { cidr: `192.0.2.${n * 16}/28`, name: `via ${role}` },
    headers
  );
  assert.equal(r.status, 201, JSON.stringify(r.body));
  const audit = await s.exporter.api.get(`/api/v1/audit?object_type=subnet&object_id=${r.body.id}`, TOKENS.read);
  return audit.body.results[0] as { actor: string; grafana_user: string | null; action: string };
}

describe('the audit log names the Grafana user of a change made through the plugin proxy', () => {
  it('verified ID token (LANSCAPE_GRAFANA_URL): the signed-in user, whatever the browser sends', async () => {
    const s = await stack({}, (shell) => ({
      LANSCAPE_GRAFANA_PROXY_TOKENS: 'read,write,admin',
      LANSCAPE_GRAFANA_URL: shell.url,
    }));
    const editor = await auditedCreate(s, 'Editor', {
      'x-grafana-user': 'mallory',
      'x-grafana-id': 'forged.by.browser',
    });
    assert.deepEqual([editor.action, editor.actor, editor.grafana_user], ['create', 'write', 'editor']);
    const admin = await auditedCreate(s, 'Admin');
    assert.deepEqual([admin.actor, admin.grafana_user], ['admin', 'admin']);
    // The same token used directly (not through Grafana) cannot name a user it has no ID token for.
    const direct = await s.exporter.api.call('POST', '/api/v1/subnets', {
      token: TOKENS.write,
      body: { cidr: '192.0.2.240/28', name: 'direct' },
      headers: { 'x-grafana-user': 'mallory' },
    });
    assert.equal(direct.status, 201);
    const entry = (
      await s.exporter.api.get(`/api/v1/audit?object_type=subnet&object_id=${direct.body.id}`, TOKENS.read)
    ).body.results[0];
    assert.deepEqual([entry.actor, entry.grafana_user], ['write', null]);
  });

  it('X-Grafana-User (send_user_header, no Grafana URL): the login, for the proxy tokens only', async () => {
    const s = await stack({ idForwarding: false }, () => ({ LANSCAPE_GRAFANA_PROXY_TOKENS: 'write' }));
    const editor = await auditedCreate(s, 'Editor', { 'x-grafana-user': 'mallory' });
    assert.deepEqual([editor.actor, editor.grafana_user], ['write', 'editor']);
    // The admin token is not named as Grafana's: its requests name no user.
    const admin = await auditedCreate(s, 'Admin');
    assert.deepEqual([admin.actor, admin.grafana_user], ['admin', null]);
  });

  it("without send_user_header (Grafana's default) the header never arrives: the audit shows the token only", async () => {
    const s = await stack({ sendUserHeader: false, idForwarding: false }, () => ({
      LANSCAPE_GRAFANA_PROXY_TOKENS: 'read,write,admin',
    }));
    const editor = await auditedCreate(s, 'Editor', { 'x-grafana-user': 'mallory' });
    assert.deepEqual([editor.actor, editor.grafana_user], ['write', null]);
  });
});
