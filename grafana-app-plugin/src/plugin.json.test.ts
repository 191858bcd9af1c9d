// plugin.json against Grafana's plugin.json rules, and the route contract the pages rely on.
import Ajv from 'ajv';
import schema from '../tests/fixtures/plugin.schema.json';
import plugin from './plugin.json';
import datasource from './datasource/plugin.json';
import panel from './panels/subnet-map/plugin.json';

const ROLE_RANK: Record<string, number> = { Viewer: 1, Editor: 2, Admin: 3 };

describe('plugin.json', () => {
  it("satisfies Grafana's plugin.json schema", () => {
    const ajv = new Ajv({ allErrors: true, strict: false, validateFormats: false, unicodeRegExp: false });
    const validate = ajv.compile(schema);
    const ok = validate(plugin);
    expect(validate.errors ?? []).toEqual([]);
    expect(ok).toBe(true);
  });

  it('rejects what Grafana would reject (the schema check can fail)', () => {
    const ajv = new Ajv({ allErrors: true, strict: false, validateFormats: false, unicodeRegExp: false });
    const validate = ajv.compile(schema);
    expect(validate({ ...plugin, id: 'Lanscape_IPAM' })).toBe(false);
    expect(validate({ ...plugin, includes: [{ type: 'page', name: 'x', role: 'Owner' }] })).toBe(false);
    expect(validate({ ...plugin, routes: [{ path: 'read', tokenz: 1 }] })).toBe(false);
  });

  it('has the fixed id and an app type with pages in the navigation', () => {
    expect(plugin.id).toBe('lanscape-ipam-app');
    expect(plugin.type).toBe('app');
    const pages = plugin.includes.filter((i) => i.type === 'page');
    expect(pages.filter((p) => p.defaultNav)).toHaveLength(1);
    for (const p of pages) {
      // One or more lower-case segments under the app ("vms/new"), or the config page.
      expect(p.path).toMatch(/^\/(a\/%PLUGIN_ID%(\/[a-z-]+)+|plugins\/%PLUGIN_ID%)$/);
      expect(Object.keys(ROLE_RANK)).toContain(p.role);
    }
  });

  it('includes each page path and dashboard uid once', () => {
    const keys = plugin.includes.map((i) =>
      'uid' in i && i.uid ? `dashboard ${i.uid}` : i.type === 'page' ? `page ${i.path}` : `${i.type} ${i.name}`
    );
    expect(keys.filter((k, i) => keys.indexOf(k) !== i)).toEqual([]);
  });

  it('routes: read for Viewers (GET only), write for Editors, admin for Admins, each with its own token', () => {
    const routes = plugin.routes;
    // Grafana matches app proxy routes with its router tree: "read" would match only
    // /api/plugin-proxy/<id>/read itself, so every route ends in /* to cover the API below it.
    expect(routes.every((r) => r.path.endsWith('/*'))).toBe(true);
    const byPath = (path: string) => routes.filter((r) => r.path === `${path}/*`);
    expect(byPath('read').map((r) => r.method)).toEqual(['GET']);
    expect(byPath('read').every((r) => r.reqRole === 'Viewer')).toBe(true);
    expect(
      byPath('write')
        .map((r) => r.method)
        .sort()
    ).toEqual(['DELETE', 'PATCH', 'POST']);
    expect(byPath('write').every((r) => r.reqRole === 'Editor')).toBe(true);
    expect(byPath('admin').every((r) => r.reqRole === 'Admin')).toBe(true);
    const tokenOf = (path: string) => new Set(byPath(path).map((r) => r.headers[0]!.content));
    expect([...tokenOf('read')]).toEqual(['Bearer {{ .SecureJsonData.readToken }}']);
    expect([...tokenOf('write')]).toEqual(['Bearer {{ .SecureJsonData.writeToken }}']);
    expect([...tokenOf('admin')]).toEqual(['Bearer {{ .SecureJsonData.adminToken }}']);
    for (const r of routes) {
      expect(r.url).toBe('{{ .JsonData.exporterUrl }}/api/v1');
      expect(r.headers.map((h) => h.name)).toEqual(['Authorization']);
    }
  });

  it('nests a data source and a panel, each valid and named in includes', () => {
    const ajv = new Ajv({ allErrors: true, strict: false, validateFormats: false, unicodeRegExp: false });
    const validate = ajv.compile(schema);
    for (const nested of [datasource, panel]) {
      expect(validate(nested) ? [] : validate.errors).toEqual([]);
      expect(plugin.includes).toContainEqual({ type: nested.type, name: nested.name });
      expect(nested.id).toMatch(/^lanscape-[a-z]+-(datasource|panel)$/);
      expect(nested.dependencies.grafanaDependency).toBe(plugin.dependencies.grafanaDependency);
    }
    expect(datasource.type).toBe('datasource');
    expect(datasource.annotations).toBe(true);
    expect(panel.type).toBe('panel');
  });
});
