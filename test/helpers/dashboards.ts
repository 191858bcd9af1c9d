// The Lanscape Grafana dashboards (dashboards/*.json at the repo root) and the PromQL of their
// panels, for the JSON check (test/dashboards.test.ts) and the end-to-end test, which runs every
// query against a real Prometheus.
//
// "May be empty" convention: a panel whose queries can legitimately return no data in a healthy
// lab (conflict tables when there are no conflicts, open ports, ranges of a subnet without
// ranges) says so in its `description`, which Grafana shows as the panel's info tooltip:
//
//   "description": "Addresses in conflict … (may be empty): no rows when there are no conflicts."
//
// The marker is the literal text "(may be empty)" (MAY_BE_EMPTY), followed by the reason. It
// applies to every target of that panel. Every other target must return at least one series in
// a healthy lab; failure-only counters are written as `… or vector(0)` / `… or 0 * …` so they
// return 0 rather than nothing.
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { REPO } from './stack.js';

export interface PanelQuery {
  /** Dashboard uid. */
  dashboard: string;
  /** Panel title (unique within a dashboard). */
  panel: string;
  refId: string;
  /** The PromQL with template variables and Grafana's interval/range macros substituted. */
  expr: string;
  /** true for instant queries (tables, stats, bar gauges), false for range queries. */
  instant: boolean;
  /** true when the panel's description carries MAY_BE_EMPTY. */
  mayBeEmpty: boolean;
}

/** The marker of panels whose queries may return no data (see the top of this file). */
export const MAY_BE_EMPTY = '(may be empty)';

/** Values the macros Grafana computes itself get in panelQueries (15s scrape interval). */
export const BUILTIN_VARIABLES: Readonly<Record<string, string>> = {
  __rate_interval: '1m',
  __interval: '15s',
  __interval_ms: '15000',
  __range: '1h',
  __range_s: '3600',
  __range_ms: '3600000',
};

/** `$var`, `${var}`, `${var:format}`, `[[var]]`, `[[var:format]]`. */
export const VARIABLE_REFERENCE = /\$\{(\w+)(?::([\w-]+))?\}|\[\[(\w+)(?::([\w-]+))?\]\]|\$(\w+)/g;

export const REPO_ROOT = REPO;
export const DASHBOARDS_DIR = join(REPO_ROOT, 'dashboards');

/** Every dashboards/*.json, parsed, sorted by file name; `file` is the path from the repo root. */
export function loadDashboards(): { file: string; json: any }[] {
  return readdirSync(DASHBOARDS_DIR)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((f) => {
      const file = `dashboards/${f}`;
      try {
        return { file, json: JSON.parse(readFileSync(join(DASHBOARDS_DIR, f), 'utf8')) };
      } catch (e) {
        throw new Error(`${file}: ${(e as Error).message}`);
      }
    });
}

/** Every panel of a dashboard, depth first: rows and the panels nested in collapsed rows included. */
export function allPanels(dashboard: any): any[] {
  const out: any[] = [];
  const walk = (panels: any[] | undefined) => {
    for (const p of panels ?? []) {
      out.push(p);
      walk(p.panels);
    }
  };
  walk(dashboard.panels);
  return out;
}

export function isMayBeEmpty(panel: any): boolean {
  return typeof panel.description === 'string' && panel.description.includes(MAY_BE_EMPTY);
}

/** Regex-escapes a value for a PromQL double-quoted string (`=~"${var:regex}"`). */
function regexFormat(value: string): string {
  return value.replace(/[\\^$*+?.()|[\]{}]/g, '\\$&').replace(/\\/g, '\\\\');
}

/**
 * Substitutes template variables (from vars) and Grafana's macros (BUILTIN_VARIABLES) in expr.
 * A variable neither in vars nor built in is an error: the query could not run as written.
 */
export function substitute(expr: string, vars: Record<string, string>, where = 'expr'): string {
  return expr.replace(VARIABLE_REFERENCE, (match, braced?: string, bracedFmt?: string, bracketed?: string, bracketedFmt?: string, bare?: string) => {
    const name = (braced ?? bracketed ?? bare)!;
    const format = bracedFmt ?? bracketedFmt;
    const value = Object.hasOwn(vars, name) ? vars[name] : BUILTIN_VARIABLES[name];
    if (value === undefined) throw new Error(`${where}: no value for ${match} (pass it in vars)`);
    return format === 'regex' ? regexFormat(value) : value;
  });
}

/**
 * Every target of every panel of every dashboard (rows and nested panels included, hidden
 * targets left out), with variables substituted from vars (e.g. { subnet: '10.0.0.0/24',
 * address: '10.0.0.10' }) and $__rate_interval → 1m, $__interval → 15s, $__range → 1h,
 * $__range_s → 3600.
 */
export function panelQueries(vars: Record<string, string>): PanelQuery[] {
  const out: PanelQuery[] = [];
  for (const { json } of loadDashboards()) {
    for (const panel of allPanels(json)) {
      for (const target of panel.targets ?? []) {
        if (target.hide === true || typeof target.expr !== 'string') continue;
        const where = `${json.uid} / ${panel.title} / ${target.refId}`;
        out.push({
          dashboard: json.uid,
          panel: panel.title,
          refId: target.refId,
          expr: substitute(target.expr, vars, where),
          instant: target.instant === true && target.range !== true,
          mayBeEmpty: isMayBeEmpty(panel),
        });
      }
    }
  }
  return out;
}
