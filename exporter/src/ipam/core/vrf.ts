// VRFs (address spaces, #15): a subnet, range and address belong to one; uniqueness and
// containment hold inside it. The global VRF (id 1, created by the schema) is the default.

export const GLOBAL_VRF_ID = 1;
export const GLOBAL_VRF_NAME = 'global';

/** A VRF name: starts with a letter or digit; letters, digits and _ . : / - after that (metric label values). */
export const VRF_NAME_RE = /^[A-Za-z0-9][A-Za-z0-9_.:/-]{0,63}$/;

/** A route distinguisher as NetBox takes it: free text up to 21 characters (ASN:nn, IP:nn). */
export const VRF_RD_RE = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,20}$/;

/** The VRF a Docker endpoint's networks live in (created on first use). */
export function dockerVrfName(endpoint: string): string {
  return `docker:${endpoint}`;
}
