// The Lanscape data source: reads the exporter through the Lanscape app's proxy routes
// (/api/plugin-proxy/lanscape-ipam-app/read/...), so it needs no settings of its own and every
// request carries the user's Grafana role (a Viewer reads; nothing here writes).
import {
  type DataFrame,
  type DataQueryError,
  type DataQueryRequest,
  type DataQueryResponse,
  DataSourceApi,
  type DataSourceInstanceSettings,
  type MetricFindValue,
  type ScopedVars,
  type TestDataSourceResponse,
} from '@grafana/data';
import { getTemplateSrv } from '@grafana/runtime';
import { ApiError, api, explain, toApiError } from '../api/client';
import type { Address, DockerContainer, GapRow, LanscapeEvent, ProxmoxGuest, Subnet, Vrf } from '../api/types';
import {
  addressesFrame,
  conflictsFrame,
  eventsFrame,
  freeRangesFrame,
  guestsFrame,
  matchesAddress,
  rangesFrame,
  subnetsFrame,
} from './frames';
import { GLOBAL_VRF, GLOBAL_VRF_ID, QueryError, labelled, parseSubnetRef, parseVariableQuery } from './refs';
import { DEFAULT_QUERY, type LanscapeOptions, type LanscapeQuery, NEEDS_SUBNET, type QueryType } from './types';

export { QueryError } from './refs';

/** Rows of /subnets/{id}/addresses a page (the exporter's maximum). */
export const ROWS_PAGE = 5000;
/** Addresses and gap rows one query reads at most: beyond that it says so instead of reading on. */
export const MAX_ROWS = 200_000;
/** Events one query reads at most (newest first). */
export const MAX_EVENTS = 10_000;

export interface TimeRange {
  from: number;
  to: number;
}

/** A query after template variables are replaced: what run() needs. */
export type ResolvedQuery = LanscapeQuery & { queryType: QueryType };

export class LanscapeDataSource extends DataSourceApi<LanscapeQuery, LanscapeOptions> {
  constructor(instanceSettings: DataSourceInstanceSettings<LanscapeOptions>) {
    super(instanceSettings);
    // Events and conflicts double as annotations: their frames have time, title, text and tags.
    this.annotations = {};
  }

  getDefaultQuery(): Partial<LanscapeQuery> {
    return DEFAULT_QUERY;
  }

  filterQuery(query: LanscapeQuery): boolean {
    return !query.hide;
  }

  applyTemplateVariables(query: LanscapeQuery, scopedVars: ScopedVars): LanscapeQuery {
    const srv = getTemplateSrv();
    const r = (v?: string) => (v ? srv.replace(v, scopedVars) : v);
    return {
      ...query,
      subnet: r(query.subnet),
      vrf: r(query.vrf),
      tag: r(query.tag),
      search: r(query.search),
      state: r(query.state),
      status: r(query.status),
      source: r(query.source),
    };
  }

  async query(request: DataQueryRequest<LanscapeQuery>): Promise<DataQueryResponse> {
    const range = { from: request.range.from.valueOf(), to: request.range.to.valueOf() };
    const data: DataFrame[] = [];
    const errors: DataQueryError[] = [];
    await Promise.all(
      request.targets
        .filter((t) => this.filterQuery(t))
        .map(async (target) => {
          const q = this.applyTemplateVariables(target, request.scopedVars);
          try {
            data.push(...(await runQuery({ ...q, queryType: q.queryType ?? 'subnets' }, range)));
          } catch (e) {
            errors.push({ refId: target.refId, message: errorMessage(e) });
          }
        })
    );
    return { data, errors: errors.length > 0 ? errors : undefined };
  }

  /**
   * Template variable values (a text query, see refs.ts): `subnets` — every subnet's CIDR (the
   * value the Prometheus panels' `subnet` label has too), as "CIDR (vrf)" when the subnets span
   * more than one VRF, so the same CIDR in two VRFs gives two values; `subnets(<vrf>)` — one VRF's
   * CIDRs (chain it after a `vrf` variable); `vrfs` — the VRF names.
   */
  async metricFindQuery(
    query?: string | { query?: string },
    options?: { scopedVars?: ScopedVars }
  ): Promise<MetricFindValue[]> {
    const text = typeof query === 'string' ? query : (query?.query ?? '');
    const q = parseVariableQuery(getTemplateSrv().replace(text, options?.scopedVars));
    if (q.kind === 'vrfs') {
      return (await api.vrfs()).results.map((v) => ({ text: v.name, value: v.name }));
    }
    if (q.vrf !== undefined) {
      const vrf = await vrfIdOf(q.vrf);
      return (await allSubnets(vrf)).map((s) => ({ text: s.cidr, value: s.cidr }));
    }
    const subnets = await allSubnets();
    if (new Set(subnets.map(vrfIdOfSubnet)).size <= 1) {
      return subnets.map((s) => ({ text: s.cidr, value: s.cidr }));
    }
    const names = await vrfNames();
    return subnets.map((s) => {
      const value = labelled(s.cidr, names(vrfIdOfSubnet(s)));
      return { text: value, value };
    });
  }

  async testDatasource(): Promise<TestDataSourceResponse> {
    try {
      const info = await api.info();
      return { status: 'success', message: `Lanscape exporter ${info.version} answers through the Lanscape app.` };
    } catch (e) {
      return {
        status: 'error',
        message: `${errorMessage(e)} The data source reads through the Lanscape app: enable it and set the exporter on its configuration page.`,
      };
    }
  }
}

/** Words for the panel: our own QueryError as is, exporter errors explained. */
export function errorMessage(e: unknown): string {
  if (e instanceof QueryError) {
    return e.message;
  }
  return explain(e instanceof ApiError ? e : toApiError(e));
}

const vrfIdOfSubnet = (s: Subnet) => s.vrf_id ?? GLOBAL_VRF_ID;

/** The VRFs' names by id; an id that has none (a VRF made since) shows as its number. */
async function vrfNames(): Promise<(id: number) => string> {
  const vrfs: Vrf[] = (await api.vrfs()).results;
  return (id) => vrfs.find((v) => v.id === id)?.name ?? (id === GLOBAL_VRF_ID ? GLOBAL_VRF : String(id));
}

/** A VRF's id by name; the global one without a request. */
async function vrfIdOf(name: string): Promise<number> {
  if (name === GLOBAL_VRF) {
    return GLOBAL_VRF_ID;
  }
  const found = (await api.vrfs()).results.find((v) => v.name === name);
  if (!found) {
    throw new QueryError(`No VRF "${name}" in Lanscape (renamed or deleted?). Set the query's VRF to one that exists.`);
  }
  return found.id;
}

async function allSubnets(vrfId?: number): Promise<Subnet[]> {
  const out: Subnet[] = [];
  for (let page = 0; page < 100; page++) {
    const r = await api.subnets({
      limit: 1000,
      offset: out.length,
      ...(vrfId === undefined ? {} : { vrf_id: String(vrfId) }),
    });
    out.push(...r.results);
    if (r.results.length === 0 || out.length >= r.count) {
      break;
    }
  }
  return out;
}

/**
 * A subnet named by id ("12") or by CIDR in a VRF (the VRF text, or "10.0.0.0/24 (site-b)", else
 * the global VRF); undefined when none is given.
 */
export async function resolveSubnetId(text: string | undefined, vrfText?: string): Promise<number | undefined> {
  const ref = parseSubnetRef(text, vrfText);
  if (ref === undefined || 'id' in ref) {
    return ref?.id;
  }
  const vrfId = await vrfIdOf(ref.vrf);
  const page = await api.subnets({ q: ref.cidr, vrf_id: String(vrfId), limit: 1000 });
  const found = page.results.find((s) => s.cidr === ref.cidr && vrfIdOfSubnet(s) === vrfId);
  if (found) {
    return found.id;
  }
  // Not in that VRF: say where it is, if anywhere (the usual mistake once a CIDR lives in two).
  const elsewhere = (await api.subnets({ q: ref.cidr, limit: 1000 })).results.filter((s) => s.cidr === ref.cidr);
  if (elsewhere.length > 0) {
    const names = await vrfNames();
    throw new QueryError(
      `No subnet ${ref.cidr} in the VRF ${ref.vrf}; it is in ${elsewhere.map((s) => names(vrfIdOfSubnet(s))).join(', ')}. Set the query's VRF.`
    );
  }
  const where = ref.vrf === GLOBAL_VRF ? '' : ` in the VRF ${ref.vrf}`;
  throw new QueryError(`No subnet ${ref.cidr}${where} in Lanscape (deleted, or never added).`);
}

async function requireSubnetId(text: string | undefined, vrfText: string | undefined): Promise<number> {
  const id = await resolveSubnetId(text, vrfText);
  if (id === undefined) {
    throw new QueryError('Choose a subnet (its id, its CIDR, or $subnet).');
  }
  return id;
}

/** Every row (addresses and free gaps) of a subnet, page by page; never enumerates free space. */
export async function subnetRows(id: number): Promise<{ subnet: Subnet; addresses: Address[]; gaps: GapRow[] }> {
  const addresses: Address[] = [];
  const gaps: GapRow[] = [];
  let subnet: Subnet | undefined;
  let offset = 0;
  for (;;) {
    let page;
    try {
      page = await api.subnetRows(id, offset, ROWS_PAGE);
    } catch (e) {
      const err = toApiError(e);
      if (err.status === 404) {
        throw new QueryError(`Subnet ${id} does not exist in Lanscape (deleted?). Choose another subnet.`);
      }
      throw err;
    }
    subnet = page.subnet;
    for (const row of page.results) {
      if (row.type === 'address') {
        addresses.push(row.address);
      } else {
        gaps.push(row);
      }
    }
    offset += page.results.length;
    if (page.results.length === 0 || offset >= page.count) {
      break;
    }
    if (offset >= MAX_ROWS) {
      throw new QueryError(
        `${subnet.cidr} has ${page.count.toLocaleString('en-US')} rows: more than the ${MAX_ROWS.toLocaleString('en-US')} a query reads. Query one of its smaller subnets.`
      );
    }
  }
  return { subnet: subnet!, addresses, gaps };
}

async function events(
  range: TimeRange,
  subnetId: number | undefined,
  kind: string | undefined
): Promise<LanscapeEvent[]> {
  const out: LanscapeEvent[] = [];
  const since = new Date(range.from).toISOString();
  for (let offset = 0; offset < MAX_EVENTS;) {
    const page = await api.events({
      since,
      limit: 1000,
      offset,
      subnet_id: subnetId === undefined ? undefined : String(subnetId),
      kind: (kind || undefined) as LanscapeEvent['kind'] | undefined,
    });
    out.push(...page.results);
    offset += page.results.length;
    if (page.results.length === 0 || offset >= page.count) {
      break;
    }
  }
  return out.filter((e) => Date.parse(e.at) <= range.to);
}

async function guests(
  platform: LanscapeQuery['platform']
): Promise<{ containers: DockerContainer[]; guests: ProxmoxGuest[] }> {
  const wantDocker = platform !== 'proxmox';
  const wantProxmox = platform !== 'docker';
  const [containers, pve] = await Promise.all([
    wantDocker ? api.dockerContainers().then((p) => p.results) : Promise.resolve([]),
    wantProxmox
      ? api.proxmoxGuests().then(
          (p) => p.results,
          (e) => {
            // Proxmox not configured (503 proxmox_not_configured): no guests, not an error.
            const err = toApiError(e);
            if (err.code === 'proxmox_not_configured') {
              return [];
            }
            throw err;
          }
        )
      : Promise.resolve([]),
  ]);
  return { containers, guests: pve.filter((g) => !g.template) };
}

/** One query to frames. Exported for the tests, which run it against recorded exporter answers. */
export async function runQuery(q: ResolvedQuery, range: TimeRange): Promise<DataFrame[]> {
  const refId = q.refId;
  if (NEEDS_SUBNET.has(q.queryType)) {
    const id = await requireSubnetId(q.subnet, q.vrf);
    const rows = await subnetRows(id);
    if (q.queryType === 'freeRanges') {
      return [freeRangesFrame(refId, rows.subnet, rows.gaps)];
    }
    const filtered = rows.addresses.filter((a) => matchesAddress(a, q));
    return [addressesFrame(refId, rows.subnet, filtered)];
  }
  switch (q.queryType) {
    case 'subnets': {
      // The VRF column names each subnet's VRF (the same CIDR may be in two); without /vrfs, numbers.
      const [subnets, names] = await Promise.all([allSubnets(), vrfNames().catch(() => undefined)]);
      return [subnetsFrame(refId, subnets, names ?? ((id) => (id === GLOBAL_VRF_ID ? GLOBAL_VRF : String(id))))];
    }
    case 'ranges': {
      const subnetId = await resolveSubnetId(q.subnet, q.vrf);
      const page = await api.ranges(subnetId);
      return [rangesFrame(refId, page.results)];
    }
    case 'events': {
      const subnetId = await resolveSubnetId(q.subnet, q.vrf);
      return [eventsFrame(refId, await events(range, subnetId, q.eventKind))];
    }
    case 'conflicts': {
      const subnetId = await resolveSubnetId(q.subnet, q.vrf);
      const all = await api.conflicts((q.conflictKind || undefined) as never);
      return [
        conflictsFrame(
          refId,
          all.results.filter(
            (c) =>
              (subnetId === undefined || c.subnet_id === subnetId) &&
              (c.since === null || Date.parse(c.since) <= range.to)
          )
        ),
      ];
    }
    case 'guests': {
      const g = await guests(q.platform);
      return [guestsFrame(refId, g.containers, g.guests)];
    }
    default:
      throw new QueryError(`Unknown query type "${String(q.queryType)}".`);
  }
}
