// What a query's subnet and VRF texts name (pure, after template variables are replaced). The same
// CIDR may exist in several VRFs (#15), so a CIDR is looked up in a VRF: the query's VRF field, or
// the VRF the subnet text carries itself ("10.0.0.0/24 (site-b)", as the `subnets` variable query
// lists them when subnets span several VRFs), else the global VRF — what every query saved before
// VRFs existed means.

import { GLOBAL_VRF as GLOBAL } from '../constants';

/** A query that cannot be answered, with words for the panel. */
export class QueryError extends Error {}

export const GLOBAL_VRF = GLOBAL.name;
export const GLOBAL_VRF_ID = GLOBAL.id;
/** The exporter's VRF name rule (VrfCreate.name). */
const VRF_NAME = /^[A-Za-z0-9][A-Za-z0-9_.:/-]{0,63}$/;
/** "10.0.0.0/24 (site-b)": a CIDR labelled with its VRF. */
const LABELLED = /^(\S+)\s+\(([^()]*)\)$/;

export type SubnetRef = { id: number } | { cidr: string; vrf: string };

/** A subnet labelled with its VRF, as variables list it and parseSubnetRef reads it back. */
export const labelled = (cidr: string, vrf: string) => `${cidr} (${vrf})`;

/** Values that mean "no subnet chosen": empty, a variable that was not replaced, All. */
const NO_SUBNET = new Set(['', '$subnet', 'All', '$__all']);

/** A VRF name from the query's VRF field (undefined when empty), or a QueryError saying why not. */
export function parseVrf(text: string | undefined): string | undefined {
  const value = (text ?? '').trim();
  if (value === '') {
    return undefined;
  }
  if (value.startsWith('$')) {
    throw new QueryError(`The VRF ${value} is a template variable this dashboard does not define.`);
  }
  if (/[{},|]/.test(value) || value === '.*') {
    throw new QueryError(`Choose one VRF, not several ("${value}"): a CIDR is looked up in one VRF.`);
  }
  if (!VRF_NAME.test(value)) {
    throw new QueryError(`"${value}" is not a VRF name.`);
  }
  return value;
}

/**
 * The subnet a query names: by id ("12"; the VRF then does not matter), or by CIDR in a VRF;
 * undefined when none is given.
 */
export function parseSubnetRef(subnetText: string | undefined, vrfText?: string): SubnetRef | undefined {
  const value = (subnetText ?? '').trim();
  if (NO_SUBNET.has(value)) {
    return undefined;
  }
  if (/^[1-9]\d{0,15}$/.test(value)) {
    return { id: Number(value) };
  }
  const field = parseVrf(vrfText);
  const m = LABELLED.exec(value);
  if (m) {
    const [, cidr, own] = m as unknown as [string, string, string];
    const vrf = parseVrf(own);
    if (!cidr.includes('/') || vrf === undefined) {
      throw new QueryError(`"${value}" is not a subnet: write its CIDR and VRF as 10.0.0.0/24 (site-b).`);
    }
    if (field !== undefined && field !== vrf) {
      throw new QueryError(`${value} names the VRF ${vrf}, but the query's VRF is ${field}: clear one of them.`);
    }
    return { cidr, vrf };
  }
  if (value.includes('/')) {
    return { cidr: value, vrf: field ?? GLOBAL_VRF };
  }
  throw new QueryError(
    `"${value}" is not a subnet: give its id or its CIDR (for example 10.0.0.0/24, 10.0.0.0/24 (site-b) or $subnet).`
  );
}

/** What a variable query asks for: `subnets` (also empty), `subnets(<vrf>)`, `vrfs`. */
export type VariableQuery = { kind: 'subnets'; vrf?: string } | { kind: 'vrfs' };

export const VARIABLE_QUERY_HELP =
  'subnets — every subnet (as "CIDR (vrf)" when they span several VRFs); subnets(<vrf>) — the CIDRs of one VRF, e.g. subnets($vrf); vrfs — the VRF names';

export function parseVariableQuery(text: string | undefined): VariableQuery {
  const value = (text ?? '').trim();
  if (value === '' || value === 'subnets') {
    return { kind: 'subnets' };
  }
  if (value === 'vrfs') {
    return { kind: 'vrfs' };
  }
  const m = /^subnets\s*\(\s*([^()]*?)\s*\)$/.exec(value);
  if (m) {
    const vrf = parseVrf(m[1]);
    return vrf === undefined ? { kind: 'subnets' } : { kind: 'subnets', vrf };
  }
  throw new QueryError(`Unknown variable query "${value}". Use: ${VARIABLE_QUERY_HELP}.`);
}
